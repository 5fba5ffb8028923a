"""Make datasets/mind2web_sample/: oracle-solved MiniWoB++ episodes, exported in
the Mind2Web format (the real dataset cannot be downloaded here).

The oracles play seeded episodes of a few dev tasks through the agent loop
(ranker on, every element ranked, so the stored candidates are the whole
ranking) into a temporary store; successful episodes are exported as

    train/train_0.json               seeds 0-1 of the tasks below (plain JSON)
    test_task/test_task_0.json       seed 2 of the same tasks (nested fields as JSON strings)
    test_website/test_website_0.json held-out tasks (nested fields as JSON strings)

    python scripts/make_mind2web_sample.py [--out datasets/mind2web_sample]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from webagent.assembly import assemble
from webagent.browser.session import BrowserSession
from webagent.candidates import HybridRanker
from webagent.embeddings import Embedder
from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
from webagent.envs.oracles import ORACLES
from webagent.mind2web.export import episode_task, write_split
from webagent.policy import FunctionPolicy
from webagent.settings import AgentSettings, LoopSettings, MemorySettings
from webagent.store import Store

# No task with a password: typed passwords are stored masked, so their gold value would be "••••••••".
TASKS = ["click-button", "click-checkboxes", "choose-list", "enter-text", "search-engine", "use-autocomplete"]
HELD_OUT = ["click-option", "click-link"]
SPLITS = {
    "train": ([(t, s) for t in TASKS for s in (0, 1)], False),
    "test_task": ([(t, 2) for t in TASKS], True),
    "test_website": ([(t, s) for t in HELD_OUT for s in (0, 1)], True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("datasets/mind2web_sample"))
    args = parser.parse_args()
    console = Console()
    ranker = HybridRanker(Embedder())
    settings = AgentSettings(memory=MemorySettings(enabled=False), loop=LoopSettings(top_k=10_000))
    with tempfile.TemporaryDirectory() as tmp, BrowserSession() as session, MiniWoBServer() as server:
        store = Store(Path(tmp) / "sample.db")
        run_id = store.start_run(
            command="make_mind2web_sample", policy="oracle", model="", model_version="oracle", seed=0, config=SPLITS
        )
        episodes: dict[str, list[int]] = {}
        for split, (cases, _) in SPLITS.items():
            for task, seed in cases:
                oracle = FunctionPolicy("oracle", ORACLES[task])
                agent = assemble(settings, store, ranker=ranker, policy=oracle).agent()
                env = MiniWoBEnv(session, server, task)
                env.reset(seed)
                result = agent.run_episode(env, run_id=run_id, task=task, seed=seed)
                console.print(f"{split:>12} {task:<18} seed {seed}: {result.outcome} ({len(result.steps)} steps)")
                if result.outcome == "success":
                    episodes.setdefault(split, []).append(result.episode_id)
        if args.out.exists():
            shutil.rmtree(args.out)
        for split, (_, json_strings) in SPLITS.items():
            tasks = [episode_task(store, e) for e in episodes.get(split, [])]
            for path in write_split(tasks, args.out, split, json_strings=json_strings):
                console.print(f"wrote {path} ({len(tasks)} tasks, {path.stat().st_size / 1024:.0f} KiB)")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
