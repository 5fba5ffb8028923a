"""`webagent learn` on many MiniWoB++ tasks at once: one store per task, worker processes,
resumable, and one summary.

    python scripts/learn_tasks.py --tasks-file webagent/envs/dev_tasks.txt --out results/learning/mezo_head \\
        --workers 2 -- --episodes 20 --eval-every 10 --eval-seeds 10 --no-memory --supervisor oracle \\
        --tune mezo --threads 1

Everything after `--` goes to every `webagent learn`. Each task writes OUT/TASK.db,
OUT/TASK.json and OUT/TASK.png (and OUT/TASK.log); a task whose JSON exists is not run
again, so an interrupted run resumes where it stopped. With two cores, two workers of one
torch thread each finish a batch in a little over half the time of one worker. Afterwards
(or with --summary-only) OUT/summary.json holds, per task, success on the held-out seeds at
each evaluation and interventions per episode in the first and last ten episodes; the
table says which tasks the starting point fails (success below --failing) and which of
them learning raised.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_task(task: str, out: Path, learn_args: list[str]) -> tuple[str, int, float | None]:
    """Run one task's `webagent learn`; (task, exit code, seconds), seconds None when its
    curves exist from an earlier run and it was skipped."""
    if (out / f"{task}.json").exists():
        return task, 0, None
    (out / f"{task}.db").unlink(missing_ok=True)  # a run that died half-way starts over
    command = [sys.executable, "-m", "webagent", "learn", "--task", task, "--db", str(out / f"{task}.db")]
    command += ["--out", str(out / task), *learn_args]
    started = time.perf_counter()
    with (out / f"{task}.log").open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return task, code, time.perf_counter() - started


def summarize(out: Path, tasks: list[str], failing: float) -> dict:
    """OUT/summary.json from the per-task curves."""
    rows: dict = {}
    for task in tasks:
        path = out / f"{task}.json"
        if not path.exists():
            continue
        curves = json.loads(path.read_text())
        evals = curves["tasks"][task]["evals"]
        row = curves["summary"]["tasks"][task]
        rows[task] = {
            "success_by_episodes": {str(e["episodes"]): e["success_rate"] for e in evals},
            "success_before": evals[0]["success_rate"],
            "success_after": evals[-1]["success_rate"],
            "interventions_first10": row["interventions_first10"],
            "interventions_last10": row["interventions_last10"],
        }
    failing_tasks = [t for t, r in rows.items() if r["success_before"] < failing]
    raised = [t for t in failing_tasks if rows[t]["success_after"] > rows[t]["success_before"]]
    n = max(len(rows), 1)
    return {
        "tasks": rows,
        "mean_success_before": sum(r["success_before"] for r in rows.values()) / n,
        "mean_success_after": sum(r["success_after"] for r in rows.values()) / n,
        "failing_below": failing,
        "failing_tasks": failing_tasks,
        "failing_tasks_raised": raised,
        "tasks_up": [t for t, r in rows.items() if r["success_after"] > r["success_before"]],
        "tasks_down": [t for t, r in rows.items() if r["success_after"] < r["success_before"]],
    }


def main() -> None:
    argv = sys.argv[1:]
    learn_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks-file", type=Path, default=ROOT / "webagent" / "envs" / "dev_tasks.txt")
    parser.add_argument("--task", action="append", help="only this task (repeat for more)")
    parser.add_argument("--out", type=Path, required=True, help="folder for every task's store, curves and log")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--failing", type=float, default=0.5, help="a starting success below this is failing")
    parser.add_argument("--summary-only", action="store_true", help="only (re)write the summary")
    args = parser.parse_args(own)
    if not args.tasks_file.exists():
        raise SystemExit(f"error: no tasks file at {args.tasks_file}")
    tasks = args.task or [
        line.strip() for line in args.tasks_file.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        from rich.progress import Progress

        with Progress() as progress, ThreadPoolExecutor(max(1, args.workers)) as pool:
            bar = progress.add_task(f"learn on {len(tasks)} tasks", total=len(tasks))
            futures = [pool.submit(run_task, task, args.out, learn_args) for task in tasks]
            for future in futures:
                task, code, seconds = future.result()
                note = "kept from an earlier run" if seconds is None else f"{seconds:.0f} s"
                progress.console.print(f"{task}: {'ok' if code == 0 else f'FAILED (exit {code})'} ({note})")
                progress.advance(bar)
    summary = summarize(args.out, tasks, args.failing)
    summary["command"] = "webagent learn --task T --db OUT/T.db --out OUT/T " + " ".join(learn_args)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.out}: success on held-out seeds by training episodes")
    for col in ("task", "success by episodes", "interventions 1-10 / last 10"):
        table.add_column(col)
    for task, row in summary["tasks"].items():
        evals = ", ".join(f"{k}: {v:.0%}" for k, v in row["success_by_episodes"].items())
        mark = " (failing, raised)" if task in summary["failing_tasks_raised"] else ""
        table.add_row(task + mark, evals, f"{row['interventions_first10']:.1f} / {row['interventions_last10']:.1f}")
    console = Console()
    console.print(table)
    console.print(
        f"mean {summary['mean_success_before']:.1%} -> {summary['mean_success_after']:.1%}; "
        f"up {len(summary['tasks_up'])}, down {len(summary['tasks_down'])}; failing tasks raised "
        f"{len(summary['failing_tasks_raised'])} of {len(summary['failing_tasks'])}"
    )
    print(f"wrote {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
