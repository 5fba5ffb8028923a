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

`--runner autonomy` runs `scripts/autonomy_run.py` per task instead (auto-approval on, the
oracle as the person; arguments after `--` go to it) and summarises interventions, wrong
proposals and auto-approval coverage in the first and last ten episodes:

    python scripts/learn_tasks.py --tasks-file ../shared/miniwob/dev_tasks.txt --runner autonomy \
        --out results/autonomy_dev -- --episodes 50 --no-critic
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


RUNNERS = {  # what runs one task: its store is OUT/TASK.db, its results OUT/TASK.json
    "learn": lambda task, out: [sys.executable, "-m", "webagent", "learn", "--task", task, "--db", f"{out / task}.db"],
    "autonomy": lambda task, out: [sys.executable, str(ROOT / "scripts" / "autonomy_run.py"), "--task", task],
}


def run_task(task: str, out: Path, learn_args: list[str], runner: str = "learn") -> tuple[str, int, float | None]:
    """Run one task's `webagent learn` (or `autonomy_run.py`); (task, exit code, seconds),
    seconds None when its results exist from an earlier run and it was skipped."""
    if (out / f"{task}.json").exists():
        return task, 0, None
    (out / f"{task}.db").unlink(missing_ok=True)  # a run that died half-way starts over
    command = [*RUNNERS[runner](task, out), "--out", str(out / task), *learn_args]
    started = time.perf_counter()
    with (out / f"{task}.log").open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return task, code, time.perf_counter() - started


def _results(out: Path, tasks: list[str]):
    """(task, its OUT/TASK.json) for every task whose run has finished."""
    for task in tasks:
        path = out / f"{task}.json"
        if path.exists():
            yield task, json.loads(path.read_text())


def summarize(out: Path, tasks: list[str], failing: float) -> dict:
    """OUT/summary.json from the per-task curves."""
    rows: dict = {}
    for task, curves in _results(out, tasks):
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


def summarize_autonomy(out: Path, tasks: list[str]) -> dict:
    """Per task, from autonomy_run's blocks of ten episodes: interventions and wrong
    proposals (interventions plus auto-approved steps the oracle disagreed with) in the
    first and last block, auto-approval coverage in the last, and the agreement on
    auto-approved steps against the promise."""
    rows: dict = {}
    for task, result in _results(out, tasks):
        first, last, summary = result["blocks"][0], result["blocks"][-1], result["summary"]
        rows[task] = {
            "episodes": summary["episodes"],
            "interventions_first10": first["interventions"],
            "interventions_last10": last["interventions"],
            "wrong_first10": first["wrong"],
            "wrong_last10": last["wrong"],
            "coverage_last10": last["coverage"],
            "success_last10": last["success"],
            "auto_steps": summary["auto_steps"],
            "auto_agreement": summary["auto_agreement"],
            "auto_agreement_lower_bound": summary["auto_agreement_lower_bound"],
        }

    def fell_5x(first: float, last: float) -> bool:
        return last * 5 <= first

    with_any = [t for t, r in rows.items() if r["interventions_first10"] > 0]
    auto = [r for r in rows.values() if r["auto_steps"]]
    agreed = sum(r["auto_agreement"] * r["auto_steps"] for r in auto)
    return {
        "tasks": rows,
        "tasks_with_interventions_first10": with_any,
        "interventions_fell_5x": [t for t in with_any if fell_5x(*_pair(rows[t], "interventions"))],
        "wrong_fell_5x": [t for t in with_any if fell_5x(*_pair(rows[t], "wrong"))],
        "mean_coverage_last10": sum(r["coverage_last10"] for r in rows.values()) / max(len(rows), 1),
        "coverage_at_least_80": [t for t, r in rows.items() if r["coverage_last10"] >= 0.8],
        "auto_steps": sum(r["auto_steps"] for r in rows.values()),
        "auto_agreement": agreed / max(sum(r["auto_steps"] for r in auto), 1) if auto else None,
    }


def _pair(row: dict, key: str) -> tuple[float, float]:
    return row[f"{key}_first10"], row[f"{key}_last10"]


def report_autonomy(out: Path, tasks: list[str], run_args: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = summarize_autonomy(out, tasks)
    summary["command"] = "python scripts/autonomy_run.py --task T --out OUT/T " + " ".join(run_args)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    table = Table(title=f"{out}: earned autonomy, first and last ten episodes")
    for col in ("task", "interventions / ep", "wrong / ep", "coverage (last 10)", "auto-approved: agreement"):
        table.add_column(col)
    for task, r in summary["tasks"].items():
        agreement = f"{r['auto_agreement']:.2f} of {r['auto_steps']}" if r["auto_steps"] else "–"
        table.add_row(
            task,
            f"{r['interventions_first10']:.2f} -> {r['interventions_last10']:.2f}",
            f"{r['wrong_first10']:.2f} -> {r['wrong_last10']:.2f}",
            f"{r['coverage_last10']:.0%}",
            agreement,
        )
    console = Console()
    console.print(table)
    n = len(summary["tasks_with_interventions_first10"])
    console.print(
        f"interventions fell >= 5x on {len(summary['interventions_fell_5x'])} of {n} tasks (wrong proposals: "
        f"{len(summary['wrong_fell_5x'])}); coverage >= 80% on {len(summary['coverage_at_least_80'])} of "
        f"{len(summary['tasks'])} (mean {summary['mean_coverage_last10']:.0%}); auto-approved steps "
        f"{summary['auto_steps']}, agreement {summary['auto_agreement']}"
    )
    print(f"wrote {out / 'summary.json'}")


def main() -> None:
    argv = sys.argv[1:]
    learn_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks-file", type=Path, default=ROOT / "webagent" / "envs" / "dev_tasks.txt")
    parser.add_argument("--task", action="append", help="only this task (repeat for more)")
    parser.add_argument("--out", type=Path, required=True, help="folder for every task's store, curves and log")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="learn", help="autonomy: scripts/autonomy_run.py")
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
            bar = progress.add_task(f"{args.runner} on {len(tasks)} tasks", total=len(tasks))
            futures = [pool.submit(run_task, task, args.out, learn_args, args.runner) for task in tasks]
            for future in futures:
                task, code, seconds = future.result()
                note = "kept from an earlier run" if seconds is None else f"{seconds:.0f} s"
                progress.console.print(f"{task}: {'ok' if code == 0 else f'FAILED (exit {code})'} ({note})")
                progress.advance(bar)
    if args.runner == "autonomy":
        return report_autonomy(args.out, tasks, learn_args)
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
