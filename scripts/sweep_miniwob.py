"""Every MiniWoB++ task of the installed `miniwob` package, one episode each, with
a cheap policy (no model): does it run, is it unsupported (and why), or does it
fail (and how)? One task never stops the sweep. Prints a table, writes JSON.

    python scripts/sweep_miniwob.py --policy ranker --max-steps 3 --out results/miniwob_sweep.json

`ran` says only that an episode ran to its end (success or not); the policy is a
smoke test, not a measurement: success rates belong to scripts/baselines.py.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", choices=("ranker", "random"), default="ranker")
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", action="append", help="only these tasks (repeatable); default: every task")
    parser.add_argument("--db", type=Path, help="the store (default: a temporary file)")
    parser.add_argument("--out", type=Path, default=Path("results/miniwob_sweep.json"))
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 160)

    from webagent.envs.miniwob import package_tasks
    from webagent.progress import RichReporter
    from webagent.runs import sweep_miniwob
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings
    from webagent.store import Store

    tasks = package_tasks()
    if args.task:
        unknown = sorted(set(args.task) - set(tasks))
        if unknown:
            console.print(f"unknown tasks: {', '.join(unknown)}")
            return 2
        tasks = {t: tasks[t] for t in args.task}
    settings = AgentSettings(
        policy=args.policy,
        memory=MemorySettings(enabled=False),
        loop=LoopSettings(max_steps=args.max_steps),
        seed=args.seed,
    )
    store = Store(args.db or Path(tempfile.mkdtemp()) / "sweep.db")
    rows = sweep_miniwob(tasks, settings, store=store, seed=args.seed, reporter=RichReporter(console))

    table = Table(title=f"MiniWoB++ sweep · {len(rows)} tasks · policy={args.policy} · max {args.max_steps} steps")
    for col in ("task", "status", "outcome", "reward", "steps", "s", "why"):
        table.add_column(col, overflow="fold")
    style = {"ran": "green", "unsupported": "yellow", "error": "red"}
    for r in rows:
        reward = "" if r.get("reward") is None else f"{r['reward']:+.2f}"
        table.add_row(
            r["task"],
            f"[{style[r['status']]}]{r['status']}[/]",
            r.get("outcome") or "",
            reward,
            str(r.get("steps", "")),
            f"{r['seconds']:.1f}",
            (r.get("why") or "")[:120],
        )
    console.print(table)
    counts = collections.Counter(r["status"] for r in rows)
    console.print(", ".join(f"{k}: {counts.get(k, 0)}" for k in ("ran", "unsupported", "error")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "policy": args.policy,
        "max_steps": args.max_steps,
        "seed": args.seed,
        "counts": {k: counts.get(k, 0) for k in ("ran", "unsupported", "error")},
        "tasks": rows,
    }
    args.out.write_text(json.dumps(summary, indent=2, default=str))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
