"""The scripted oracles solve their MiniWoB++ tasks: real pages in a real Chromium."""

from __future__ import annotations

import pytest

from webagent.actions import Action
from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ALSO_RIGHT, ORACLES, next_action, solve_episode
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


@pytest.mark.parametrize("task", sorted(ALSO_RIGHT))
def test_what_the_person_also_accepts_never_loses_the_episode(browser, miniwob_server, task):
    """Where a task has several right actions (any box still to set, any item named as
    asked, any closed folder while none shows, any suggestion that starts and ends as
    asked), each other one the simulated person accepts still wins the episode when the
    oracle plays the rest. Some seeds have such alternatives: the test is not vacuous."""
    env, oracle, also = MiniWoBEnv(browser, miniwob_server, task), ORACLES[task], ALSO_RIGHT[task]

    def replay(seed: int, actions: list[Action]) -> str | None:
        env.reset(seed)
        error = None
        for action in actions:
            error = env.act(action, env.observe())
        return error

    def finish(history: list[Action], error: str | None) -> float:
        while not env.status().done and len(history) < 12:
            observation, action = next_action(oracle, env, tuple(history), last_error=error)
            error = env.act(action, observation)
            history = [*history, action]
        return env.status().reward or 0.0

    tried = 0
    for seed in range(4):
        played, error = [], replay(seed, [])
        while not env.status().done and len(played) < 12:
            observation, right = next_action(oracle, env, tuple(played), last_error=error)
            clicks = [Action("CLICK", el.id) for el in observation.actionable]
            others = [a for a in clicks if a != right and also(env.instruction, observation, tuple(played), a)]
            for other in others:
                replay(seed, played)
                reward = finish([*played, other], env.act(other, env.observe()))
                assert reward == 1.0, f"{task} seed {seed}: {other} after {[str(a) for a in played]}"
                tried += 1
            if others:
                replay(seed, played)  # back to where the oracle was
            error = env.act(right, env.observe())
            played.append(right)
    assert tried
