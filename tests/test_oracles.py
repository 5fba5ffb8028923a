"""The scripted oracles solve their MiniWoB++ tasks: real pages in a real Chromium."""

from __future__ import annotations

import pytest

from webagent.actions import Action
from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ORACLES, any_named_item_or_closed_folder, navigate_tree, next_action, solve_episode
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


def test_what_the_person_also_accepts_on_navigate_tree_never_loses_the_episode(browser, miniwob_server):
    """Any item named as asked, and (while none shows) any closed folder, count as right:
    after each, the oracle still wins the episode. Both kinds occur in these seeds."""
    env = MiniWoBEnv(browser, miniwob_server, "navigate-tree")
    kinds = set()
    for seed in range(6):
        env.reset(seed)
        first = env.observe()
        right = [
            Action("CLICK", el.id)
            for el in first.actionable
            if any_named_item_or_closed_folder(env.instruction, first, (), Action("CLICK", el.id))
        ]
        assert right, f"seed {seed}: nothing accepted"
        for action in right:
            kinds.add(first.element(action.element_id).tag)
            env.reset(seed)
            history, error = [action], env.act(action, env.observe())
            while not env.status().done and len(history) < 10:
                observation, step = next_action(navigate_tree, env, tuple(history), last_error=error)
                error = env.act(step, observation)
                history.append(step)
            assert env.status().reward == 1.0, f"seed {seed}: {[str(a) for a in history]}"
    assert {"li", "span", "div"} <= kinds  # named items (li), folders' names (span) and toggles (div)
