"""Writing episodes to the store as they happen: an observer of the agent loop.

The episode row is created when the episode starts and finished when it ends;
each step is committed the moment it has run, so an interrupted run keeps all
its finished steps. The recorder also sets the ids the other observers (the
teacher) file their rows under, in the episode's context.
"""

from __future__ import annotations

from webagent.agent import EpisodeContext, EpisodeResult, Observer, Step
from webagent.store import Store


class StepRecorder(Observer):
    """Records episodes of runs (a context without a run id is not recorded)."""

    records = True  # told of interrupted episodes too (webagent.agent)

    def __init__(self, store: Store) -> None:
        self.store = store
        self._secrets_seen = store.secrets.version

    def episode_started(self, context: EpisodeContext) -> None:
        self._secrets_seen = self.store.secrets.version
        if context.run_id is not None:
            context.episode_id = self.store.start_episode(
                context.run_id, task=context.task, seed=context.seed, instruction=context.instruction
            )

    def step_done(self, context: EpisodeContext, step: Step) -> None:
        step_id = None
        if context.episode_id is not None:
            step_id = self.store.record_step(context.episode_id, step.row(context.seed, context.instruction))
            if self.store.secrets.version != self._secrets_seen:  # a value just became secret
                self.store.redact_episode(context.episode_id)
        self._secrets_seen = self.store.secrets.version
        context.step_ids.append(step_id)

    def episode_done(self, context: EpisodeContext, result: EpisodeResult) -> None:
        if context.episode_id is not None:
            self.store.finish_episode(
                context.episode_id,
                reward=result.reward,
                done=result.done,
                outcome=result.outcome,
                error=result.error,
                answer=result.answer,
                final_url=result.final_url,
            )
