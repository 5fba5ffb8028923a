"""The suite of real web applications: install, seed, serve, check, measure.

    python scripts/sites.py install                  # pip install Django, pypiserver, MkDocs (the `sites` extra)
    python scripts/sites.py seed [--force]           # seed each application from datasets/sites/seed.json
    python scripts/sites.py serve [--port-base 8100] # serve all three on 127.0.0.1 until Ctrl-C
    python scripts/sites.py check                    # every task's scripted solution, through the agent loop
    python scripts/sites.py measure --policies random,ranker,model --out results/sites.json
    python scripts/sites.py measure --policies model --tasks results/adapter/unseen_site_tasks.jsonl
    python scripts/sites.py learn --families open-book --train 2 --policies model   # supervised, then fresh
    python scripts/sites.py generate                 # rewrite seed.json and tasks.jsonl (fixed seed)

Applications live under --root (default: $WEBAGENT_SITES_ROOT or the user cache
dir, webagent/sites). Success is read from the applications (webagent.envs.sites).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webagent.sites.apps import APPS, Suite, default_root, install, seed
from webagent.sites.data import TASKS_FILE


def _agent_run(args, console, policies: list[str]) -> dict:
    from webagent.assembly import assemble
    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.envs.site_solutions import SOLUTIONS
    from webagent.envs.sites import SiteEnv, read_site_tasks
    from webagent.errors import WebAgentError
    from webagent.policy import FunctionPolicy
    from webagent.runs import episode_row, summarize
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings
    from webagent.store import Store

    tasks = read_site_tasks(args.tasks, sites=args.sites.split(",") if args.sites else (), families=args.families or ())
    if args.per_family:
        by_family: dict[str, list] = defaultdict(list)
        for task in tasks:
            by_family[task.family].append(task)
        tasks = [t for t in tasks if by_family[t.family].index(t) < args.per_family]
    store = Store(args.db)
    ranker = HybridRanker(Embedder())
    results: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "policies": {}}
    with Suite(args.root, ports=fixed_ports(args.port_base)) as suite, BrowserSession() as session:
        for name in policies:
            settings = AgentSettings(
                policy="model" if name == "solution" else name,
                model=ModelSettings(name=args.model, version="base", adapter=args.adapter),
                memory=MemorySettings(enabled=False),
                loop=LoopSettings(max_steps=args.max_steps, top_k=args.top_k),
                seed=args.seed,
            )
            fixed = FunctionPolicy("solution", None) if name == "solution" else None
            parts = assemble(settings, store, ranker=ranker, policy=fixed)
            run_id = parts.start_run(f"sites {name}", tasks=[t.name for t in tasks])
            per_family: dict[str, list[dict]] = defaultdict(list)
            started = time.perf_counter()
            for task in tasks:
                if name == "solution":
                    policy = FunctionPolicy("solution", SOLUTIONS[task.family])
                    agent = assemble(settings, store, ranker=ranker, policy=policy).agent()
                else:
                    agent = parts.agent()
                env = SiteEnv(session, suite, task)
                try:
                    env.reset(args.seed)
                    result = agent.run_episode(env, run_id=run_id, task=task.name, seed=args.seed)
                    row = episode_row(result, task.name, args.seed)
                except WebAgentError as exc:
                    row = {"task": task.name, "reward": None, "outcome": "error", "steps": 0, "error": str(exc)}
                row["site"], row["family"] = task.site, task.family
                per_family[f"{task.site}/{task.family}"].append(row)
                mark = "[green]✓[/green]" if row["outcome"] == "success" else "[red]✗[/red]"
                actions = " ; ".join(row.get("actions", []))
                console.print(f"{mark} {name:>8} {task.name:<28} {row['outcome']:<9} {actions}")
            parts.close()
            summary = summarize(per_family)
            summary["seconds"] = round(time.perf_counter() - started, 1)
            summary["success_rate"] = sum(
                r["outcome"] == "success" for rows in per_family.values() for r in rows
            ) / max(len(tasks), 1)
            stored_policy = store.run(run_id)["policy"]
            summary["latency"] = latency_percentiles(store.step_latencies(policy=stored_policy, run_id=run_id))
            results["policies"][name] = summary
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2))
    return results


def _learn(args, console) -> dict:
    """Per family: zero-shot success on fresh variants, then --train supervised episodes
    (the family's scripted solution as the person; memory on), then the fresh variants
    again without supervision. Each family gets its own store, so memory holds only it."""
    from webagent.assembly import assemble
    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.envs.site_solutions import SOLUTIONS
    from webagent.envs.sites import FAMILIES, SiteEnv, read_site_tasks
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings
    from webagent.store import Store
    from webagent.supervision import OracleSupervisor

    ranker = HybridRanker(Embedder())
    results: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "families": {}}
    args.db.parent.mkdir(parents=True, exist_ok=True)
    with Suite(args.root, ports=fixed_ports(args.port_base)) as suite, BrowserSession() as session:
        for family in args.families or FAMILIES:
            tasks = read_site_tasks(families=[family])
            train, fresh = tasks[: args.train], tasks[args.train :]
            db = args.db.with_name(f"{args.db.stem}-learn-{family}.db")
            db.unlink(missing_ok=True)
            store = Store(db)
            settings = AgentSettings(
                policy=args.policies.split(",")[0],
                model=ModelSettings(name=args.model, version="base", adapter=args.adapter),
                memory=MemorySettings(enabled=True),
                loop=LoopSettings(max_steps=args.max_steps, top_k=args.top_k),
                seed=args.seed,
            )
            supervisor = OracleSupervisor({t.name: SOLUTIONS[family] for t in tasks})
            parts = assemble(settings, store, ranker=ranker, supervisor=supervisor)
            run_id = parts.start_run(f"sites learn {family}", tasks=[t.name for t in tasks])

            def episodes(agent, chosen, label, run_id=run_id):
                rows = []
                for task in chosen:
                    env = SiteEnv(session, suite, task)
                    env.reset(args.seed)
                    result = agent.run_episode(env, run_id=run_id, task=task.name, seed=args.seed)
                    fixes = sum(s.interventions for s in result.steps)
                    rows.append({"task": task.name, "outcome": result.outcome, "interventions": fixes})
                    console.print(f"{label:>9} {task.name:<28} {result.outcome:<10} interventions {fixes}")
                return rows

            before = episodes(parts.agent(supervised=False), fresh, "zero-shot") if args.zero_shot else []
            taught = episodes(parts.agent(), train, "train")
            after = episodes(parts.agent(supervised=False), fresh, "after")
            parts.close()

            def rate(rows):
                return sum(r["outcome"] == "success" for r in rows) / max(len(rows), 1)

            results["families"][family] = {
                "train": taught,
                "fresh_before": before,
                "fresh_after": after,
                "zero_shot": rate(before) if before else None,
                "after_training": rate(after),
            }
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2))
    table = Table(title=f"Fresh variants: zero-shot and after {args.train} supervised episodes")
    for col in ("family", "fresh", "zero-shot", "after"):
        table.add_column(col)
    for family, r in results["families"].items():
        zero = "–" if r["zero_shot"] is None else f"{r['zero_shot']:.0%}"
        table.add_row(family, str(len(r["fresh_after"])), zero, f"{r['after_training']:.0%}")
    console.print(table)
    return results


def fixed_ports(base: int) -> dict[str, int]:
    """library, packages, docs on base, +1, +2. The prompt shows the page's URL, so a
    free port chosen afresh each run would make two runs of the same model differ."""
    return {app: base + i for i, app in enumerate(APPS)}


def latency_percentiles(rows: list[dict]) -> dict:
    """p50 / p95 seconds per stage, and of observe + rank + decide."""
    import statistics

    out = {}
    stages = {"observe", "rank", "decide", "act"}
    for stage in (*sorted(stages), "observe+rank+decide"):
        if stage == "observe+rank+decide":
            values = [r.get("observe", 0) + r.get("rank", 0) + r.get("decide", 0) for r in rows]
        else:
            values = [r[stage] for r in rows if stage in r]
        if len(values) >= 2:
            cuts = statistics.quantiles(values, n=20)
            out[stage] = {"p50": round(statistics.median(values), 4), "p95": round(cuts[18], 4), "steps": len(values)}
    return out


def _table(results: dict, console) -> None:
    policies = list(results["policies"])
    families = list(next(iter(results["policies"].values()))["tasks"]) if policies else []
    table = Table(title="Success per family (STOP required; judged by the application)")
    table.add_column("site/family")
    table.add_column("tasks", justify="right")
    for name in policies:
        table.add_column(name, justify="right")
    for family in families:
        cells = [results["policies"][p]["tasks"][family]["success_rate"] for p in policies]
        n = results["policies"][policies[0]]["tasks"][family]["episodes"]
        table.add_row(family, str(n), *(f"{c:.0%}" for c in cells))
    table.add_row("[b]all tasks[/b]", "", *(f"[b]{results['policies'][p]['success_rate']:.0%}[/b]" for p in policies))
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("install", "seed", "serve", "check", "measure", "learn", "generate"))
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="seed again even where seeded")
    parser.add_argument("--port-base", type=int, default=8100, help="library, packages, docs here, +1, +2")
    parser.add_argument("--sites", default="", help="comma-separated: library,packages,docs (default all)")
    parser.add_argument("--families", nargs="*", help="only these families")
    parser.add_argument("--train", type=int, default=2, help="learn: supervised episodes per family")
    parser.add_argument(
        "--zero-shot",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="learn: run the fresh variants before training too",
    )
    parser.add_argument(
        "--tasks", type=Path, default=TASKS_FILE, help="measure: a task file (default datasets/sites/tasks.jsonl)"
    )
    parser.add_argument("--per-family", type=int, default=0, help="only the first N variants of each family")
    parser.add_argument("--policies", default="random,ranker,model")
    parser.add_argument("--model", default="default")
    parser.add_argument("--adapter", default="default", help="default | none | PATH (webagent.adapters)")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--db", type=Path, default=Path("results/sites.db"))
    args = parser.parse_args()
    console = Console()
    root = args.root or default_root()
    args.root = root
    if args.command == "generate":
        from webagent.sites.data import write

        for path in write(args.seed):
            console.print(f"wrote {path}")
        return 0
    if args.command == "install":
        install()
        return 0
    if args.command == "seed":
        for app in APPS:
            console.print(f"seeded {app} in {seed(app, root, force=args.force)}")
        return 0
    if args.command == "serve":
        ports = fixed_ports(args.port_base)
        import signal

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the applications too
        with Suite(root, ports=ports) as suite:
            for app in APPS:
                console.print(f"{app:<9} {suite[app].url('/')}   request log {suite[app].log_path}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
    if args.command == "learn":
        args.out = args.out or Path("results/sites_learn.json")
        _learn(args, console)
        console.print(f"wrote {args.out}")
        return 0
    policies = ["solution"] if args.command == "check" else args.policies.split(",")
    if args.command == "measure" and args.out is None:
        args.out = Path("results/sites.json")
    results = _agent_run(args, console, policies)
    _table(results, console)
    if args.out:
        console.print(f"wrote {args.out}")
    if args.command == "check":
        return 0 if results["policies"]["solution"]["success_rate"] == 1.0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
