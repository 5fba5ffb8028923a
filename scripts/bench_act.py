"""The act stage alone: the oracle's actions on MiniWoB++ dev tasks, executed with
the event-driven settle and, in the same run on the same seeds, with the fixed
settle it replaced (the load event, then a 100 ms sleep). Prints a table, writes JSON.

    python scripts/bench_act.py --seeds 3 --out results/act.json

Success of the oracle episodes is reported for both: waiting less must not
make the page's reaction missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TASKS = ("click-button", "click-link", "click-checkboxes", "click-collapsible", "enter-text", "login-user", "click-tab")


def fixed_settle(page, activity, **_) -> None:
    """The settle before: the load event, then 100 ms whatever the page did."""
    with contextlib.suppress(Exception):
        page.wait_for_load_state("load", timeout=5_000)
        page.wait_for_timeout(100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/act.json"))
    args = parser.parse_args()
    console = Console()

    import webagent.browser.execute as execute_module
    from webagent.browser.session import BrowserSession
    from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
    from webagent.envs.oracles import ORACLES

    modes = {"event-driven": execute_module.settle, "fixed 100 ms": fixed_settle}
    results: dict = {name: {"act_s": [], "success": 0, "episodes": 0} for name in modes}
    with BrowserSession() as session, MiniWoBServer() as server:
        for task in TASKS:
            env = MiniWoBEnv(session, server, task)
            for seed in range(args.seeds):
                for name, settle in modes.items():  # interleaved: load changes hit both alike
                    execute_module.settle = settle
                    env.reset(seed)
                    history: list = []
                    for _ in range(8):
                        observation = env.observe()
                        action = ORACLES[task](env.instruction, observation, tuple(history))
                        if action is None:
                            break
                        start = time.perf_counter()
                        env.act(action, observation)
                        results[name]["act_s"].append(time.perf_counter() - start)
                        history.append(action)
                        if env.status().done:
                            break
                    status = env.status()
                    results[name]["episodes"] += 1
                    results[name]["success"] += bool(status.done and (status.reward or 0) > 0)
    execute_module.settle = modes["event-driven"]
    table = Table(title=f"act, oracle actions on {len(TASKS)} dev tasks × {args.seeds} seeds")
    for col in ("settle", "actions", "p50 ms", "p95 ms", "oracle success"):
        table.add_column(col)
    summary = {}
    for name, row in results.items():
        times = sorted(row["act_s"])
        summary[name] = {
            "actions": len(times),
            "p50_ms": 1000 * statistics.median(times),
            "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
            "success": f"{row['success']}/{row['episodes']}",
        }
        s = summary[name]
        table.add_row(name, str(s["actions"]), f"{s['p50_ms']:.0f}", f"{s['p95_ms']:.0f}", s["success"])
    console.print(table)
    summary["act_speedup_vs_fixed"] = summary["fixed 100 ms"]["p50_ms"] / summary["event-driven"]["p50_ms"]
    console.print(f"act p50 speedup {summary['act_speedup_vs_fixed']:.2f}×")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tasks": TASKS, "seeds": args.seeds, **summary}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
