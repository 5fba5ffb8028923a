"""Per-stage latency of the agent (observe, rank, decide, act; p50 and p95) with
the default model on the MiniWoB++ dev tasks. Prints a table, writes JSON.

    python scripts/bench_latency.py --episodes 2 --out results/latency.json
    python scripts/bench_latency.py --from-db results/baselines.db   # reuse recorded model steps
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webagent.envs.miniwob import DEV_TASKS_FILE

STAGES = ("observe", "rank", "decide", "act")
DEV_TASKS = DEV_TASKS_FILE


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latencies_from_store(db: Path, run_id: int | None = None) -> list[dict]:
    """Step latencies of the model runs in a store (or of one run)."""
    from webagent.store import Store

    return Store(db).step_latencies(policy="model", run_id=run_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks-file", type=Path, default=DEV_TASKS)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--model", default="default")
    parser.add_argument("--from-db", type=Path, help="read step latencies of model runs recorded in this store")
    parser.add_argument("--db", type=Path, default=Path("results/latency.db"))
    parser.add_argument("--out", type=Path, default=Path("results/latency.json"))
    args = parser.parse_args()
    console = Console()

    if args.from_db:
        steps = latencies_from_store(args.from_db)
    else:
        from webagent.envs.miniwob import read_task_names
        from webagent.progress import RichReporter
        from webagent.runs import run_miniwob
        from webagent.settings import AgentSettings, LoopSettings, ModelSettings
        from webagent.store import Store

        store = Store(args.db)
        settings = AgentSettings(
            model=ModelSettings(name=args.model), loop=LoopSettings(max_steps=args.max_steps), seed=1000
        )
        result = run_miniwob(
            read_task_names(args.tasks_file),
            settings,
            episodes=args.episodes,
            store=store,
            reporter=RichReporter(console),
        )
        steps = latencies_from_store(args.db, result["run_id"])

    table = Table(title=f"Per-stage latency, {len(steps)} steps, {platform.processor() or platform.machine()}")
    for col in ("stage", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    summary = {}
    for stage in (*STAGES, "total"):
        values = [sum(s.get(k, 0.0) for k in STAGES) if stage == "total" else s[stage] for s in steps if s]
        summary[stage] = {
            "p50_ms": 1000 * percentile(values, 50),
            "p95_ms": 1000 * percentile(values, 95),
            "mean_ms": 1000 * sum(values) / max(len(values), 1),
        }
        row = summary[stage]
        table.add_row(stage, f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}", f"{row['mean_ms']:.0f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": len(steps), "stages": summary}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
