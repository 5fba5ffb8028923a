"""The act stage alone: the oracle's actions on MiniWoB++ dev tasks, executed as
webagent does now (a click prepared in one call, then the event-driven settle)
and, in the same run on the same seeds, as it did before: Playwright's locator
click with the event-driven settle, and the locator click with the fixed settle
(the load event, then a 100 ms sleep). Only CLICK changes between the rows:
TYPE is today's in all three. Prints a table, writes JSON.

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

    from dataclasses import replace

    import webagent.browser.execute as execute_module
    from webagent.actions import VERBS
    from webagent.browser import perform
    from webagent.browser.session import BrowserSession
    from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
    from webagent.envs.oracles import ORACLES

    one_call = VERBS["CLICK"]
    by_locator = replace(one_call, perform=lambda page, locator, action, ms: perform._click_in_frame(page, locator, ms))
    event_driven = execute_module.settle
    modes = {
        "current (one-call click, event-driven)": (one_call, event_driven),
        "locator click, event-driven": (by_locator, event_driven),
        "locator click, fixed 100 ms": (by_locator, fixed_settle),
    }
    results: dict = {name: {"act_s": [], "success": 0, "episodes": 0} for name in modes}
    with BrowserSession() as session, MiniWoBServer() as server:
        for task in TASKS:
            env = MiniWoBEnv(session, server, task)
            for seed in range(args.seeds):
                for name, (verb, settle) in modes.items():  # interleaved: load changes hit all alike
                    VERBS["CLICK"], execute_module.settle = verb, settle
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
    VERBS["CLICK"], execute_module.settle = one_call, event_driven
    table = Table(title=f"act, oracle actions on {len(TASKS)} dev tasks × {args.seeds} seeds")
    for col in ("act", "actions", "p50 ms", "p95 ms", "oracle success"):
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
    current, baseline = (summary[name]["p50_ms"] for name in (next(iter(modes)), "locator click, fixed 100 ms"))
    summary["act_speedup_vs_baseline"] = baseline / current
    console.print(f"act p50 speedup against the locator click with the fixed settle: {baseline / current:.2f}×")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tasks": TASKS, "seeds": args.seeds, **summary}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
