"""The scripted oracles solve their MiniWoB++ tasks: real pages in a real Chromium."""

from __future__ import annotations

import pytest

from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ORACLES, solve_episode
from webagent.errors import ActionError

SEEDS = range(10)

# Include the seeds where button TWO covers the centre of button ONE: CLICK must
# then click the part of ONE that can be seen.
COVERED_CENTRE = [("click-test-2", 13), ("click-button-sequence", 13)]


def _cases() -> list:
    cases = [pytest.param(task, seed, id=f"{task}-{seed}") for task in ORACLES for seed in SEEDS]
    return cases + [pytest.param(task, seed, id=f"{task}-{seed}-covered") for task, seed in COVERED_CENTRE]


@pytest.mark.parametrize(("task", "seed"), _cases())
def test_oracle_solves_the_task(browser, miniwob_server, task, seed):
    env = MiniWoBEnv(browser, miniwob_server, task)
    reward, actions = solve_episode(env, seed)
    assert reward == 1.0, f"{task} seed {seed}: {env.instruction!r} -> {[str(a) for a in actions]}"


def test_solve_episode_names_a_task_without_an_oracle(browser, miniwob_server):
    with pytest.raises(ActionError, match="no oracle"):
        solve_episode(MiniWoBEnv(browser, miniwob_server, "book-flight"), 0)
