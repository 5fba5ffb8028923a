"""Train the packaged starting adapter: LoRA by ordinary backprop on oracle steps of the dev tasks.

    python scripts/train_adapter.py                 # collect, train, write webagent/adapters/dev-lora-2.safetensors
    python scripts/train_adapter.py --collect-only  # only the examples (results/adapter/*examples.json)
    python scripts/train_adapter.py --no-sites      # MiniWoB++ oracle steps only (no site-suite STOP steps)

Why an adapter: the raw SmolLM2-135M-Instruct has never seen the action DSL or the
prompt's element list, and alone it is no better than a random pick among the
ranked candidates. A small adapter, trained once on what the MiniWoB++ oracles do
on the *dev* tasks only, is the starting point online learning (memory, MeZO)
builds on. Success on any other task is how we check that it generalises, never a
training target.

The data: every (task, seed) of the dev tasks for the training seeds below is
played by its oracle; each step whose right element is among the ranker's top-k
becomes one example (the model policy's real zero-shot prompt, the oracle's
action as the target), as `webagent.learning.oracle_set` builds them, with the
task's password masked as `{PASSWORD}` as the agent sees it. Seeds 10_000 and up
are never used by the demo, the tests or the evaluations (seeds below 1000). Then
the site suite's scripted solutions on its training variants (every variant but
the first of each family, which `scripts/sites.py measure --per-family 1` keeps
for evaluation; a login's password masked as `{PASSWORD}`, as the agent sees it):
the only examples of STOP, which a MiniWoB++ page never needs.

The adapter: rank-16 LoRA on every linear layer of the last `--blocks` decoder
blocks. Keeping it in the top blocks lets the objective run the 30 - blocks frozen
ones once per example and cache their output, so an epoch costs the top blocks'
forward and backward only: what makes backprop affordable on a 2-core CPU. Fixed
seeds throughout, so the file is reproducible on this machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "results" / "adapter"
TRAIN_SEEDS = range(10_000, 10_008)


def collect(tasks: list[str], seeds, top_k: int) -> list[dict]:
    """Oracle examples per task (each task's failure is reported, not fatal)."""
    from rich.progress import track

    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.envs.miniwob import MiniWoBServer
    from webagent.learning.oracle_set import oracle_examples
    from webagent.models.transformers_lm import TransformersModel

    model = TransformersModel(dtype="float32", adapter="none")  # only its prompt format is used
    ranker = HybridRanker(Embedder())
    rows: list[dict] = []
    with BrowserSession() as session, MiniWoBServer() as server:
        for task in track(tasks, description="oracle steps"):
            try:
                examples = oracle_examples(session, server, model, ranker, [task], list(seeds), top_k=top_k)
            except Exception as exc:  # noqa: BLE001 - one task's trouble must not lose the others
                print(f"{task}: skipped ({type(exc).__name__}: {exc})")
                continue
            rows += [{"task": task, "prompt": e.prompt, "target": e.target} for e in examples]
            print(f"{task}: {len(examples)} steps")
    return rows


def held_out_site_tasks() -> set[str]:
    """The first variant of each site family: what `scripts/sites.py measure --per-family 1`
    evaluates, so never trained on."""
    from webagent.envs.sites import read_site_tasks

    seen: dict[str, str] = {}
    for task in read_site_tasks():
        seen.setdefault(task.family, task.name)
    return set(seen.values())


def _values(check: dict) -> set:
    """What a variant is about (a title, a package, a page, a column, a year), as pairs;
    `field` names the family's column, the same for every variant."""
    return {(k, str(v)) for k, v in check.items() if k != "field"}


def _generated(seeds, per_family: int, avoid: dict, known: set, label: str, counted=None) -> list:
    """Variants the generator (webagent.sites.data.tasks) makes with `seeds`, named
    site/family/<label>N: none repeats an instruction of `known`, none shares a value with
    `avoid[family]`, at most `per_family` per family (counting
    what `counted` says is there already)."""
    from collections import Counter

    from webagent.envs.sites import SiteTask
    from webagent.sites.data import load_seed
    from webagent.sites.data import tasks as generate

    count = Counter(counted or {})
    out = []
    data = load_seed()
    for seed in seeds:
        for r in generate(data, seed):
            family = r["family"]
            if (
                count[family] >= per_family
                or r["instruction"] in known
                or _values(r["check"]) & avoid.get(family, set())
            ):
                continue
            known.add(r["instruction"])
            count[family] += 1
            name = f"{r['site']}/{family}/{label}{count[family]}"
            out.append(SiteTask(name, r["site"], family, r["instruction"], r["start"], r["check"]))
    return out


def extra_site_tasks(per_family: int) -> list:
    """More training variants of each family than tasks.jsonl holds: the same generator
    run with other seeds. None repeats a variant of the file, and none shares a value with
    its family's held-out variant, so what `measure --per-family 1` evaluates stays unseen."""
    from webagent.envs.sites import read_site_tasks

    listed = read_site_tasks()
    held = {t.family: _values(t.check) for t in listed if t.name in held_out_site_tasks()}
    known = {t.instruction for t in listed}
    return _generated(range(1, 60), per_family, held, known, "extra")


def unseen_site_tasks(per_family: int, extra: int) -> list:
    """Variants to evaluate the adapter on: each family's held-out variant, then generated
    ones (generator seeds 100 and up) sharing no value with any variant the adapter was
    trained on (tasks.jsonl's others and `extra_site_tasks(extra)`), up to `per_family`."""
    from collections import Counter

    from webagent.envs.sites import read_site_tasks

    listed = read_site_tasks()
    held = held_out_site_tasks()
    used: dict[str, set] = {}
    for t in [t for t in listed if t.name not in held] + extra_site_tasks(extra):
        used.setdefault(t.family, set()).update(_values(t.check))
    out = [t for t in listed if t.name in held]
    known = {t.instruction for t in listed}
    return out + _generated(range(100, 200), per_family, used, known, "unseen", Counter(t.family for t in out))


def collect_sites(top_k: int, extra: int = 0) -> list[dict]:
    """Scripted-solution steps on the site suite's training variants (and `extra` more per
    family: extra_site_tasks); passwords masked as the agent sees them (site_examples)."""
    from rich.progress import track

    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.envs.sites import read_site_tasks
    from webagent.learning.oracle_set import site_examples
    from webagent.models.transformers_lm import TransformersModel
    from webagent.sites.apps import Suite, default_root

    held_out = held_out_site_tasks()
    tasks = [t for t in read_site_tasks() if t.name not in held_out]
    tasks += extra_site_tasks(extra) if extra else []
    model = TransformersModel(dtype="float32", adapter="none")  # only its prompt format is used
    ranker = HybridRanker(Embedder())
    rows: list[dict] = []
    with Suite(default_root()) as suite, BrowserSession() as session:
        for task in track(tasks, description="site steps"):
            try:
                examples = site_examples(session, suite, model, ranker, [task], top_k=top_k)
            except Exception as exc:  # noqa: BLE001 - one task's trouble must not lose the others
                print(f"{task.name}: skipped ({type(exc).__name__}: {exc})")
                continue
            rows += [{"task": task.name, "prompt": e.prompt, "target": e.target} for e in examples]
            print(f"{task.name}: {len(examples)} steps")
    return rows


def train(rows: list[dict], *, blocks: int, rank: int, epochs: int, lr: float, batch_size: int, seed: int, keep=None):
    """LoRA on the top `blocks`; `keep(epoch, module)` is called after each epoch (to save it)."""
    import torch

    from webagent.adapters import inject, trainable
    from webagent.learning.backprop import backprop_train
    from webagent.learning.objective import Objective, TrainingExample
    from webagent.models.loading import load

    torch.manual_seed(seed)
    _, tokenizer, module = load("default", dtype="float32")
    inject(module, rank=rank, blocks=blocks, seed=seed)
    params = trainable(module)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    examples = [TrainingExample(rows[i]["prompt"], rows[i]["target"]) for i in order]
    t0 = time.perf_counter()
    objective = Objective(module, tokenizer, examples, params=params, batch_size=batch_size, prefix_cache={})
    print(
        f"{len(examples)} examples in {len(objective.batches)} batches; frozen blocks cached in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    losses = []
    for epoch in range(epochs):
        t = time.perf_counter()
        epoch_losses = backprop_train(params, objective, steps=len(objective.batches), lr=lr)
        losses.append(sum(epoch_losses) / len(epoch_losses))
        print(f"epoch {epoch + 1}/{epochs}: mean loss {losses[-1]:.4f} ({time.perf_counter() - t:.0f} s)")
        if keep is not None and epoch + 1 < epochs:
            keep(epoch + 1, module)
    return module, params, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--seeds", type=int, default=len(TRAIN_SEEDS))
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-epochs", action="store_true", help="also save each earlier epoch's adapter")
    parser.add_argument(
        "--sites",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the site suite's training variants (the packaged adapter has them)",
    )
    parser.add_argument(
        "--site-extra",
        type=int,
        default=10,
        help="generated training variants per site family beyond tasks.jsonl's (extra_site_tasks)",
    )
    parser.add_argument(
        "--write-unseen",
        type=int,
        default=0,
        metavar="N",
        help="only write results/adapter/unseen_site_tasks.jsonl: up to N variants per family never trained on",
    )
    parser.add_argument("--out", type=Path, default=None, help="the adapter file (default: the packaged one)")
    args = parser.parse_args()

    from webagent.adapters import DEFAULT_PATH, save

    OUT.mkdir(parents=True, exist_ok=True)
    if args.write_unseen:
        from dataclasses import asdict

        path = OUT / "unseen_site_tasks.jsonl"
        tasks = unseen_site_tasks(args.write_unseen, args.site_extra)
        path.write_text("".join(json.dumps(asdict(t)) + "\n" for t in tasks))
        print(f"wrote {len(tasks)} tasks to {path}")
        return
    examples_path = OUT / "examples.json"
    seeds = range(TRAIN_SEEDS.start, TRAIN_SEEDS.start + args.seeds)
    if examples_path.exists() and json.loads(examples_path.read_text())["seeds"] == list(seeds):
        rows = json.loads(examples_path.read_text())["examples"]
        print(f"{len(rows)} examples from {examples_path}")
    else:
        from webagent.envs.miniwob import dev_tasks

        rows = collect(dev_tasks(), seeds, args.top_k)
        examples_path.write_text(json.dumps({"seeds": list(seeds), "top_k": args.top_k, "examples": rows}))
    if args.sites:
        sites_path = OUT / "site_examples.json"
        kept = json.loads(sites_path.read_text()) if sites_path.exists() else {}
        if kept.get("extra", 0) == args.site_extra:
            site_rows = kept["examples"]
            print(f"{len(site_rows)} site examples from {sites_path}")
        else:
            site_rows = collect_sites(args.top_k, args.site_extra)
            sites_path.write_text(json.dumps({"top_k": args.top_k, "extra": args.site_extra, "examples": site_rows}))
        rows = rows + site_rows
    if args.collect_only:
        return
    out = args.out or DEFAULT_PATH

    def keep(epoch: int, module) -> None:
        if args.keep_epochs:
            print(f"  kept {save(out.with_name(f'{out.stem}-ep{epoch}{out.suffix}'), module, {'epochs': str(epoch)})}")

    module, params, losses = train(
        rows,
        blocks=args.blocks,
        rank=args.rank,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        keep=keep,
    )
    meta = {
        "seeds": f"{seeds.start}-{seeds.stop - 1}",
        "examples": str(len(rows)),
        "tasks": str(len({r["task"] for r in rows})),
        "sites": str(args.sites),
        "epochs": str(args.epochs),
        "lr": str(args.lr),
        "losses": json.dumps([round(x, 4) for x in losses]),
    }
    path = save(out, module, meta)
    path.with_name(f"{path.stem}.training.json").write_text(
        json.dumps({**vars(args), "out": str(path), **meta}, indent=2, default=str)
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
