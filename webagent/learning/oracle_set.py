"""A small fixed set of confirmed steps from the MiniWoB++ oracles, for tests and benchmarks.

Each step is what the agent would have seen (the model policy's real prompt over
the ranker's top-k candidates) and what a person would have confirmed (the
oracle's action). Steps whose right element is not among the shown candidates are
left out: no shown-candidate action could be confirmed there.
"""

from __future__ import annotations

from collections.abc import Sequence

from webagent.learning.objective import TrainingExample
from webagent.secrets import Secrets, instruction_secrets


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
            # What the agent reads and writes: the task's password as {PASSWORD} (webagent.secrets).
            secrets = Secrets(instruction_secrets(env.instruction))
            instruction = secrets.mask(env.instruction)
            history = []
            error = None
            for _ in range(max_steps):
                observation, action = next_action(ORACLES[task], env, tuple(history), last_error=error)
                seen = secrets.mask_observation(observation)
                shown = [secrets.mask_action(a) for a in history]
                candidates = ranker.rank(instruction, seen, [a.to_dsl() for a in shown], top_k)
                if any(c.id == action.element_id for c in candidates):
                    prompt = policy.prompt(instruction, seen, candidates, shown)
                    out.append(TrainingExample(prompt, secrets.mask_action(action).to_dsl()))
                error = env.act(action, observation)
                history.append(action)
                if env.status().done:
                    break
    return out


def site_examples(session, suite, model, ranker, tasks: Sequence, *, top_k: int = 10, max_steps: int = 12):
    """Play each site-suite task (webagent.envs.sites.SiteTask) with its family's scripted
    solution and return one example per step, the STOP that ends it included: what the
    MiniWoB++ oracles never show (an environment there ends the episode itself)."""
    import time

    from webagent.envs.site_solutions import SOLUTIONS
    from webagent.envs.sites import SiteEnv
    from webagent.errors import ActionError
    from webagent.policy import ModelPolicy

    policy = ModelPolicy(model)
    out: list[TrainingExample] = []
    for task in tasks:
        env = SiteEnv(session, suite, task)
        env.reset()
        # As the agent sees it: a password the instruction gives is {PASSWORD} (webagent.secrets).
        secrets = Secrets(instruction_secrets(env.instruction))
        instruction = secrets.mask(env.instruction)
        history: list = []
        error = None
        for _ in range(max_steps):
            deadline = time.monotonic() + 3.0
            while True:  # the page may still be drawing, as in solve()
                observation = secrets.mask_observation(env.observe(last_error=error))
                try:
                    action = SOLUTIONS[task.family](instruction, observation, tuple(history))
                    break
                except ActionError:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.2)
            candidates = ranker.rank(instruction, observation, [a.to_dsl() for a in history], top_k)
            if action.element_id is None or any(c.id == action.element_id for c in candidates):
                prompt = policy.prompt(instruction, observation, candidates, history)
                out.append(TrainingExample(prompt, action.to_dsl()))
            if action.verb == "STOP":
                break
            error = env.act(secrets.reveal_action(action), observation)
            history.append(action)
    return out
