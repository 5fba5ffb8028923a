"""A small fixed set of confirmed steps from the MiniWoB++ oracles, for tests and benchmarks.

Each step is what the agent would have seen (the model policy's real prompt over
the ranker's top-k candidates) and what a person would have confirmed (the
oracle's action). Steps whose right element is not among the shown candidates are
left out: no shown-candidate action could be confirmed there.
"""

from __future__ import annotations

from collections.abc import Sequence

from webagent.learning.objective import TrainingExample


def oracle_examples(
    session,
    server,
    model,
    ranker,
    tasks: Sequence[str],
    seeds: Sequence[int],
    *,
    top_k: int = 10,
    max_steps: int = 12,
) -> list[TrainingExample]:
    """Play each (task, seed) with its oracle and return one example per step."""
    from webagent.envs.miniwob import MiniWoBEnv
    from webagent.envs.oracles import ORACLES, next_action
    from webagent.errors import ActionError
    from webagent.policy import ModelPolicy

    policy = ModelPolicy(model)
    out: list[TrainingExample] = []
    for task in tasks:
        if task not in ORACLES:
            raise ActionError(f"no oracle for MiniWoB++ task {task!r}")
        env = MiniWoBEnv(session, server, task)
        for seed in seeds:
            env.reset(seed)
            history = []
            error = None
            for _ in range(max_steps):
                observation, action = next_action(ORACLES[task], env, tuple(history), last_error=error)
                candidates = ranker.rank(env.instruction, observation, [a.to_dsl() for a in history], top_k)
                if any(c.id == action.element_id for c in candidates):
                    prompt = policy.prompt(env.instruction, observation, candidates, history)
                    out.append(TrainingExample(prompt, action.to_dsl()))
                error = env.act(action, observation)
                history.append(action)
                if env.status().done:
                    break
    return out
