"""Baselines on the MiniWoB++ dev tasks: success of random / ranker-top1 / model
policies over seeded episodes, and the ranker's recall@k of the element the
oracle acts on. Prints tables and writes JSON.

    python scripts/baselines.py --episodes 20 --out results/baselines.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webagent.assembly import assemble
from webagent.browser.session import BrowserSession
from webagent.candidates import HybridRanker
from webagent.embeddings import Embedder
from webagent.envs.miniwob import DEV_TASKS_FILE, MiniWoBEnv, MiniWoBServer, read_task_names
from webagent.envs.oracles import ORACLES
from webagent.errors import WebAgentError
from webagent.policy import BasePolicy, FunctionPolicy
from webagent.runs import episode_row, summarize
from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings
from webagent.store import Store

DEV_TASKS = DEV_TASKS_FILE
RECALL_KS = (1, 5, 10)


class RecallProbe(BasePolicy):
    """Wraps the oracle: before each oracle action, where does the ranker put its element?"""

    def __init__(self, oracle_policy, ranker) -> None:
        self.inner, self.ranker = oracle_policy, ranker
        self.name = oracle_policy.name
        self.ranks: list[int | None] = []

    def decide(self, instruction, observation, candidates, history, seed):
        decision = self.inner.decide(instruction, observation, candidates, history, seed)
        full = self.ranker.rank(instruction, observation, [a.to_dsl() for a in history], k=10_000)
        ids = [c.id for c in full]
        self.ranks.append(ids.index(decision.action.element_id) + 1 if decision.action.element_id in ids else None)
        return decision


def run_policy(name, tasks, episodes, args, session, server, ranker, store, console) -> dict:
    per_task: dict[str, list[dict]] = {}
    recalls: dict[str, list[int | None]] = {}
    # the untuned parts: no memory, base weights
    settings = AgentSettings(
        policy="model" if name == "oracle" else name,
        model=ModelSettings(name=args.model, version="base"),
        memory=MemorySettings(enabled=False),
        loop=LoopSettings(top_k=args.top_k, max_steps=args.max_steps),
    )
    parts = None if name == "oracle" else assemble(settings, store, ranker=ranker)
    run_id = (parts or assemble(settings, store, ranker=ranker, policy=FunctionPolicy("oracle", None))).start_run(
        "baselines", args=vars(args) | {"tasks_file": str(args.tasks_file)}
    )
    for task in tasks:
        if name == "oracle":
            if task not in ORACLES:
                continue
            probe = RecallProbe(FunctionPolicy("oracle", ORACLES[task]), ranker)
            agent = assemble(settings, store, ranker=ranker, policy=probe).agent()
        else:
            agent = parts.agent()
        env = MiniWoBEnv(session, server, task)
        rows = []
        started = time.perf_counter()
        for seed in range(args.seed, args.seed + episodes):
            env.reset(seed)
            try:
                result = agent.run_episode(env, run_id=run_id, task=task, seed=seed)
                rows.append(episode_row(result, task, seed))
            except WebAgentError as exc:  # an oracle that cannot proceed counts as a failure
                rows.append(
                    {"task": task, "seed": seed, "reward": None, "outcome": "error", "steps": 0, "error": str(exc)}
                )
        per_task[task] = rows
        if name == "oracle":
            recalls[task] = probe.ranks
        rate = sum(r["outcome"] == "success" for r in rows) / len(rows)
        console.print(f"{name:>7} {task:<24} success {rate:4.0%}  ({time.perf_counter() - started:5.1f} s)")
    summary = summarize(per_task)
    if name == "oracle":
        summary["recall"] = {
            task: {f"@{k}": sum(1 for r in ranks if r is not None and r <= k) / max(len(ranks), 1) for k in RECALL_KS}
            | {"steps": len(ranks)}
            for task, ranks in recalls.items()
        }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks-file", type=Path, default=DEV_TASKS)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policies", default="random,ranker,oracle,model")
    parser.add_argument("--model", default="default")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("results/baselines.json"))
    parser.add_argument("--db", type=Path, default=Path("results/baselines.db"))
    args = parser.parse_args()
    console = Console()
    tasks = read_task_names(args.tasks_file)
    store = Store(args.db)
    ranker = HybridRanker(Embedder())
    results: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "policies": {}}
    with BrowserSession() as session, MiniWoBServer() as server:
        for name in args.policies.split(","):
            results["policies"][name] = run_policy(
                name, tasks, args.episodes, args, session, server, ranker, store, console
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))  # after each policy: nothing lost

    policies = list(results["policies"])
    table = Table(title=f"Success over {args.episodes} seeded episodes per task")
    table.add_column("task")
    for name in policies:
        table.add_column(name, justify="right")
    for task in tasks:
        cells = [results["policies"][p]["tasks"].get(task, {}).get("success_rate") for p in policies]
        table.add_row(task, *("—" if c is None else f"{c:.0%}" for c in cells))
    table.add_row("[b]mean[/b]", *(f"[b]{results['policies'][p]['mean_success_rate']:.0%}[/b]" for p in policies))
    console.print(table)
    if "oracle" in results["policies"]:
        recall = results["policies"]["oracle"]["recall"]
        rtable = Table(title="Ranker recall@k of the oracle's element (per oracle step)")
        for col in ("task", "steps", *(f"@{k}" for k in RECALL_KS)):
            rtable.add_column(col, justify="right" if col != "task" else "left")
        for task, row in recall.items():
            rtable.add_row(task, str(row["steps"]), *(f"{row[f'@{k}']:.0%}" for k in RECALL_KS))
        rtable.add_row(
            "[b]mean[/b]",
            "",
            *(f"[b]{statistics.fmean(r[f'@{k}'] for r in recall.values()):.0%}[/b]" for k in RECALL_KS),
        )
        console.print(rtable)
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
