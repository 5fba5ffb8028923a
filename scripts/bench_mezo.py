"""MeZO on this CPU: which parameters to move, and what a step costs.

    python scripts/bench_mezo.py                      # ~40 min on the 2-core machine
    python scripts/bench_mezo.py --budget-s 60 --specs last:2,norms   # a quick look

The fixed set: confirmed steps from the MiniWoB++ oracles (the model policy's real
prompts over the ranker's top-10, the oracle's action as the target) on a few dev
tasks; training seeds and held-out seeds differ.

1. Parameter sets. For each set and a small lr grid (scaled ~1/d with the number of
   trained parameters d, since MeZO's step noise grows with d), MeZO runs from the
   base weights for a fixed wall-clock budget of step time; reported: steps done,
   seconds per step, the held-out NLL drop and that drop per second (setup, i.e.
   the one-off cached-prefix forward for `last:N`, is reported apart). One backprop
   (AdamW) run of the default set in the same budget is there for comparison.
2. Memory and time: peak RSS of plain inference (one forward of a batch) vs one MeZO
   step vs one backprop step on the same parameters and batch, each in its own
   subprocess (a sampler thread reads /proc/self/statm every 2 ms; the peak over the
   op minus the RSS just before it is what the op costs), and the time of one MeZO
   step vs one forward pass.

Why the default is `last:2` with lr 1e-4, eps 1e-3 (the table this writes is in
results/mezo_bench.json). In short: with SmolLM2-135M on
2 cores a forward over a batch of 8 prompts costs seconds, and MeZO needs two per
step. Only `last:N` lets the objective cache the frozen blocks' output, so a step
costs 2 blocks instead of 30, and that buys an order of magnitude more steps per
second than `all`, `norms` or LoRA, whose steps each need two full forwards. The
held-out NLL per second follows the number of steps: the other sets move less
per step too (`norms` has too few degrees of freedom; `all` has a 134M-dim noise
that forces a tiny lr; LoRA starts with B = 0, so its first steps only move B).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LR_GRID = {
    "last:2": [1e-4, 3e-4, 1e-3],
    "norms": [3e-5, 1e-4, 3e-4],
    "lora:8": [1e-4, 3e-4, 1e-3],
    "all": [3e-6, 1e-5, 3e-5],
}


def build_examples(tasks: list[str], train_seeds: list[int], held_seeds: list[int], model):
    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.envs.miniwob import MiniWoBServer
    from webagent.learning.oracle_set import oracle_examples

    ranker = HybridRanker(Embedder())
    with BrowserSession() as session, MiniWoBServer() as server:
        train = oracle_examples(session, server, model, ranker, tasks, train_seeds)
        held = oracle_examples(session, server, model, ranker, tasks, held_seeds)
    return train, held


# -- 1. parameter sets --------------------------------------------------------------


def run_set(base, tokenizer, train, held, spec, lr, *, eps, budget_s, batch_size, method, cache, held_before):
    from webagent.learning.backprop import backprop_train
    from webagent.learning.mezo import mezo_step
    from webagent.learning.objective import Objective
    from webagent.learning.params import select_parameters

    module = copy.deepcopy(base)
    params = select_parameters(module, spec)
    t0 = time.perf_counter()
    objective = Objective(module, tokenizer, train, params=params, batch_size=batch_size, prefix_cache=cache)
    held_obj = Objective(module, tokenizer, held, params=params, batch_size=batch_size, prefix_cache=cache)
    setup_s = time.perf_counter() - t0
    cheap = objective.batches[0].prefix is not None  # the training loss costs little only with a cached prefix
    train_before = objective.loss() if cheap else None
    step_s, steps = 0.0, 0
    while step_s < budget_s:
        t = time.perf_counter()
        batch = steps % len(objective.batches)
        if method == "mezo":
            mezo_step(params, lambda b=batch: objective.loss(b), seed=10_000 + steps, eps=eps, lr=lr)
        else:
            backprop_train(params, objective, steps=1, lr=lr, first_batch=batch)
        step_s += time.perf_counter() - t
        steps += 1
    held_after = held_obj.nll()
    train_after = objective.loss() if cheap else None
    row = {
        "spec": spec,
        "method": method,
        "lr": lr,
        "eps": eps if method == "mezo" else None,
        "trained_params": sum(p.numel() for _, p in params),
        "steps": steps,
        "step_s": step_s / steps,
        "setup_s": setup_s,
        "holdout_nll_before": held_before,
        "holdout_nll_after": held_after,
        "holdout_drop": held_before - held_after,
        "holdout_drop_per_s": (held_before - held_after) / step_s,
        "load_average": os.getloadavg()[0],
        "train_loss_before": train_before,
        "train_loss_after": train_after,
    }
    del module
    return row


def compare_sets(args, base, tokenizer, train, held) -> list[dict]:
    from webagent.learning.objective import Objective
    from webagent.learning.tuner import DEFAULT_LR, DEFAULT_PARAM_SET

    held_before = Objective(base, tokenizer, held, batch_size=args.batch_size).nll()
    print(f"base: held-out NLL {held_before:.4f}", flush=True)
    rows = []
    runs = [(spec, lr, "mezo") for spec in args.specs for lr in (args.lrs or LR_GRID.get(spec, [args.lr]))]
    if DEFAULT_PARAM_SET in args.specs and not args.lrs:
        runs.append((DEFAULT_PARAM_SET, DEFAULT_LR["backprop"], "backprop"))
    caches: dict[str, dict] = {}
    for spec, lr, method in runs:
        row = run_set(
            base,
            tokenizer,
            train,
            held,
            spec,
            lr,
            eps=args.eps,
            budget_s=args.budget_s,
            batch_size=args.batch_size,
            method=method,
            cache=caches.setdefault(spec, {}),
            held_before=held_before,
        )
        rows.append(row)
        print(
            f"{spec:8} {method:8} lr={lr:<7g} steps={row['steps']:4} {row['step_s']:7.2f} s/step "
            f"setup={row['setup_s']:6.1f}s held-out NLL {held_before:.4f} -> {row['holdout_nll_after']:.4f} "
            f"({row['holdout_drop_per_s'] * 1000:+.2f} mnats/s) train {row['train_loss_after']}",
            flush=True,
        )
    return rows


# -- 2. memory and time, one subprocess per measurement ----------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.002)

    def __enter__(self):
        self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def child(mode: str, spec: str, batch_file: str) -> None:
    """One measurement in a fresh process; prints one JSON line."""
    import resource

    import torch

    from webagent.learning.backprop import backprop_train
    from webagent.learning.mezo import mezo_step
    from webagent.learning.objective import Objective, TrainingExample
    from webagent.learning.params import select_parameters
    from webagent.models.loading import load

    _, tokenizer, module = load("default")
    examples = [TrainingExample(**e) for e in json.loads(Path(batch_file).read_text())]
    params = select_parameters(module, spec)
    n = len(examples)
    if mode == "inference":
        objective = Objective(module, tokenizer, examples, batch_size=n)  # the plain forward, no cache

        def op():
            with torch.inference_mode():
                objective.loss(0)
    else:
        objective = Objective(module, tokenizer, examples, params=params, batch_size=n)
        if mode == "mezo":

            def op():
                mezo_step(params, lambda: objective.loss(0), seed=1, eps=1e-3, lr=1e-6)
        else:

            def op():
                backprop_train(params, objective, steps=1, lr=1e-6)

    times = []
    before = _rss()
    with PeakRss() as peak:
        for _ in range(2):  # the first pays one-off costs (kernel selection, optimizer state)
            t = time.perf_counter()
            op()
            times.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "mode": mode,
                "spec": spec,
                "batch": n,
                "rss_before_mb": before / 2**20,
                "peak_rss_mb": peak.peak / 2**20,
                "op_peak_extra_mb": (peak.peak - before) / 2**20,
                "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "seconds": times,
                "seconds_warm": times[-1],
            }
        ),
        flush=True,
    )


def memory_and_time(args, batch: list) -> list[dict]:
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([asdict(e) for e in batch], f)
    try:
        for spec in args.memory_specs:
            for mode in ("inference", "mezo", "backprop"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, spec, f.name],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    raise SystemExit(f"child {mode} {spec} failed:\n{out.stderr[-2000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"{spec:8} {mode:9} peak RSS {row['peak_rss_mb']:7.0f} MB (+{row['op_peak_extra_mb']:6.0f} MB "
                    f"over the loaded model)  {row['seconds_warm']:6.2f} s",
                    flush=True,
                )
    finally:
        os.unlink(f.name)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="enter-text,click-option,click-checkboxes,login-user")
    parser.add_argument("--train-seeds", type=int, default=4, help="seeds 0..N-1 give the training steps")
    parser.add_argument("--held-seeds", type=int, default=2, help="seeds 100.. give the held-out steps")
    parser.add_argument("--specs", default="last:2,norms,lora:8,all")
    parser.add_argument("--memory-specs", default="last:2,all")
    parser.add_argument("--budget-s", type=float, default=120.0, help="step time per run")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--lr", type=float, default=1e-4, help="for a set without a grid")
    parser.add_argument("--lrs", default="", help="comma-separated learning rates instead of the grids")
    parser.add_argument("--skip-sets", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "results" / "mezo_bench.json"))
    args = parser.parse_args()
    args.specs = [s for s in args.specs.split(",") if s]
    args.memory_specs = [s for s in args.memory_specs.split(",") if s]
    args.lrs = [float(x) for x in args.lrs.split(",") if x]

    from webagent.models.loading import load
    from webagent.models.transformers_lm import TransformersModel

    start = time.time()
    model = TransformersModel("default")  # for its chat template: the prompts are the agent's own
    tasks = args.tasks.split(",")
    train, held = build_examples(tasks, list(range(args.train_seeds)), list(range(100, 100 + args.held_seeds)), model)
    print(f"{len(train)} training steps, {len(held)} held-out steps from {', '.join(tasks)}", flush=True)
    del model
    _, tokenizer, base = load("default")
    result = {
        "settings": {**{k: v for k, v in vars(args).items()}, "torch_threads": __import__("torch").get_num_threads()},
        "examples": {"train": len(train), "held_out": len(held)},
        "load_average_at_start": os.getloadavg(),
    }
    if not args.skip_memory:
        print("\n== memory and time of one step (batch of", args.batch_size, "steps) ==", flush=True)
        result["memory"] = memory_and_time(args, train[: args.batch_size])
    if not args.skip_sets:
        print(f"\n== parameter sets, {args.budget_s:g} s of steps each ==", flush=True)
        result["param_sets"] = compare_sets(args, base, tokenizer, train, held)
    result["load_average_at_end"] = os.getloadavg()
    result["seconds"] = time.time() - start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
