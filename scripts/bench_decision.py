"""MeZO on the decision head against backprop on the same data, in the same wall-clock.

Input: a store holding oracle-supervised episodes, as `webagent learn` writes them:

    webagent learn --tasks-file TASKS --episodes 20 --eval-every 20 --eval-seeds 10 \
        --no-memory --supervisor oracle --db collect.db --out results/learning/collect

For each task, the feedback of training episodes with seed < --split trains, the rest is
held back. Per task and method it reports the decision accuracy (the share of confirmed
steps whose every branching choice the head gets right, webagent.learning.decision) and
the decision NLL on both sides, before and after; backprop gets the wall-clock MeZO took.
It also reports one MeZO step's time and peak memory against one forward pass of the
model over the same prompts. Writes a table and JSON (default results/decision_bench.json).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from webagent.learning.driver import EVAL_SEED_BASE  # noqa: E402
from webagent.learning.objective import examples_from_feedback  # noqa: E402
from webagent.store import Store  # noqa: E402


def task_examples(store: Store, split: int) -> dict[str, tuple[list, list]]:
    """task -> (training examples, held-back examples), from training episodes only."""
    rows: dict[str, tuple[list, list]] = {}
    for f in store.feedback():
        episode = store.episode(f["episode_id"])
        seed = episode["seed"] or 0
        if seed >= EVAL_SEED_BASE:
            continue
        rows.setdefault(episode["task"], ([], []))[0 if seed < split else 1].append(f)
    return {t: (examples_from_feedback(a), examples_from_feedback(b)) for t, (a, b) in rows.items()}


def snapshot(objective_train, objective_held) -> dict:
    return {
        "train_acc": round(objective_train.accuracy(), 4),
        "train_nll": round(objective_train.nll(), 4),
        "held_acc": round(objective_held.accuracy(), 4),
        "held_nll": round(objective_held.nll(), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="store with oracle-supervised learn episodes")
    parser.add_argument("--task", action="append", help="only this task (repeat for more) [default: all in the store]")
    parser.add_argument("--split", type=int, default=15, help="training seeds below this train, the rest are held")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2000, help="MeZO steps per task")
    parser.add_argument("--lr", type=float, default=None, help="MeZO lr [default: the tuner's]")
    parser.add_argument("--backprop-lr", type=float, default=None, help="[default: the tuner's]")
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--clip", type=float, default=None, help="MeZO |projected gradient| cap [default: the tuner's]")
    parser.add_argument("--no-clip", action="store_true", help="MeZO without the cap")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "decision_bench.json")
    args = parser.parse_args()

    import torch

    from webagent.assembly import load_model
    from webagent.learning.backprop import backprop_train
    from webagent.learning.decision import DecisionObjective
    from webagent.learning.mezo import mezo_step
    from webagent.learning.params import select_parameters
    from webagent.learning.tuner import HEAD_CLIP, HEAD_LR
    from webagent.settings import ModelSettings

    console = Console()
    if not args.db.exists():
        console.print(f"[red]error:[/red] no store at {args.db}")
        raise SystemExit(2)
    data = task_examples(Store(args.db, create=False), args.split)
    if args.task:
        data = {t: v for t, v in data.items() if t in args.task}
    if not data:
        console.print(f"[red]error:[/red] {args.db} holds no feedback from training episodes")
        raise SystemExit(2)
    lm = load_model(ModelSettings(name="default", threads=args.threads), tuned=True)
    mezo_lr = args.lr or HEAD_LR["mezo"]
    bp_lr = args.backprop_lr or HEAD_LR["backprop"]
    clip = None if args.no_clip else (args.clip or HEAD_CLIP)
    results: dict = {
        "settings": {
            **{k: str(v) for k, v in vars(args).items()},
            "mezo_lr": mezo_lr,
            "backprop_lr": bp_lr,
            "clip": clip,
        },
        "model": lm.name,
        "tasks": {},
    }
    cache: dict = {}
    for task, (train, held) in sorted(data.items()):
        if not train or not held:
            console.print(f"{task}: skipped (train {len(train)}, held {len(held)} examples)")
            continue
        row: dict = {"train_examples": len(train), "held_examples": len(held)}
        start = time.perf_counter()
        for method in ("mezo", "backprop"):
            module = copy.deepcopy(lm.model)
            params = select_parameters(module, f"head:{args.rank}")
            tr = DecisionObjective(module, lm.tokenizer, train, prefix_cache=cache)
            ho = DecisionObjective(module, lm.tokenizer, held, prefix_cache=cache)
            if method == "mezo":
                row["hidden_states_s"] = round(time.perf_counter() - start, 1)
                row["before"] = snapshot(tr, ho)
                rng = random.Random(0)
                t = time.perf_counter()
                for _ in range(args.steps):
                    mezo_step(params, tr.loss, seed=rng.randrange(2**31), eps=args.eps, lr=mezo_lr, clip=clip)
                budget = time.perf_counter() - t
                row["mezo"] = {**snapshot(tr, ho), "steps": args.steps, "seconds": round(budget, 2)}
                row["mezo_step_ms"] = round(1000 * budget / args.steps, 2)
            else:
                t, steps = time.perf_counter(), 0
                while time.perf_counter() - t < budget:
                    backprop_train(params, tr, steps=10, lr=bp_lr)
                    steps += 10
                row["backprop"] = {**snapshot(tr, ho), "steps": steps, "seconds": round(time.perf_counter() - t, 2)}
        results["tasks"][task] = row
        console.print(f"{task}: {json.dumps(row)}")

    # One MeZO step against one forward pass over the same prompts (peak RSS growth of each).
    task, (train, _) = next(iter(sorted(data.items())))
    batch = train[:8]
    module = copy.deepcopy(lm.model)
    params = select_parameters(module, f"head:{args.rank}")
    objective = DecisionObjective(module, lm.tokenizer, batch, prefix_cache=cache)
    encoded = [lm.tokenizer(ex.prompt, add_special_tokens=False)["input_ids"] for ex in batch]
    t = time.perf_counter()
    with torch.inference_mode():
        for ids in encoded:
            module(torch.tensor([ids]), logits_to_keep=1)
    forward_s = time.perf_counter() - t
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    mezo_step(params, objective.loss, seed=1, eps=args.eps, lr=mezo_lr)
    step_s = time.perf_counter() - t
    results["cost"] = {
        "examples": len(batch),
        "forward_pass_ms": round(1000 * forward_s, 1),
        "mezo_step_ms": round(1000 * step_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_growth_in_step_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 2),
        "note": "hidden states are computed once per example (one forward pass each) and kept across steps",
    }

    table = Table(title=f"decision head rank {args.rank}: MeZO ({args.steps} steps) vs backprop, same wall-clock")
    for col in ("task", "train/held", "held acc before", "MeZO", "backprop", "held NLL before", "MeZO", "backprop"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, row in results["tasks"].items():
        table.add_row(
            task,
            f"{row['train_examples']}/{row['held_examples']}",
            f"{row['before']['held_acc']:.2f}",
            f"{row['mezo']['held_acc']:.2f}",
            f"{row['backprop']['held_acc']:.2f}",
            f"{row['before']['held_nll']:.2f}",
            f"{row['mezo']['held_nll']:.2f}",
            f"{row['backprop']['held_nll']:.2f}",
        )
    console.print(table)
    console.print(json.dumps(results["cost"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
