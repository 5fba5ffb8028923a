"""Teaching: what a verdict teaches (feedback, exemplars) is in the sqlite file the moment
it is given, so a process killed mid-episode loses none of it."""

import subprocess
import sys
import textwrap

import pytest

from webagent.store import Store


@pytest.mark.browser
def test_feedback_survives_a_crash_mid_episode(tmp_path, miniwob_server):
    """The process dies right after the first confirmed step: its feedback and exemplar are on disk."""
    db = tmp_path / "crash.db"
    script = textwrap.dedent(
        f"""
        import os
        from webagent.assembly import assemble
        from webagent.browser.session import BrowserSession
        from webagent.candidates import HybridRanker
        from webagent.embeddings import Embedder
        from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
        from webagent.envs.oracles import ORACLES
        from webagent.policy import FunctionPolicy
        from webagent.settings import AgentSettings
        from webagent.store import Store
        from webagent.supervision import OracleSupervisor

        store, embedder = Store({str(db)!r}), Embedder()
        oracle = ORACLES["login-user"]
        parts = assemble(AgentSettings(), store, ranker=HybridRanker(embedder), policy=FunctionPolicy("oracle", oracle),
                         supervisor=OracleSupervisor(oracle))
        agent = parts.agent()
        with BrowserSession() as session, MiniWoBServer() as server:
            env = MiniWoBEnv(session, server, "login-user")
            env.reset(0)
            run = store.start_run(command="t", policy="oracle", model="", model_version="", seed=0, config={{}})
            agent.run_episode(env, run_id=run, task="login-user", seed=0, on_step=lambda step: os._exit(9))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 9, done.stderr[-2000:]
    store = Store(db)
    episode = store.db["episodes"].get(1)
    assert episode["outcome"] == "running"  # never finished
    (row,) = store.feedback(episode_id=1)
    assert row["kind"] == "confirm" and row["action"].startswith("TYPE [")
    assert store.db["exemplars"].count == 1
