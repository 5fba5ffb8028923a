"""Confidence from agreement: would other annotators have made the same decision?

After "Trust or Escalate" (Jung et al., 2024): a small model's token probability
is a poor judge of whether it is right (on these tasks memory made it most sure
exactly when it copied a demonstration's id), while agreement across *simulated
annotators* calibrates much better. An annotator here is the same model deciding
the same step under a different prompt: a different set of demonstrations drawn
from memory's nearest exemplars, and the shown elements in a different order (the
ids stay the same, so the answers are comparable; without a memory, the order is
the only thing that changes). Each annotator decodes greedily through the step's
grammar, exactly as the policy does.

The step's confidence is then the share of voters, the policy included, that
chose the policy's action: with N annotators one of (1, 2, ..., N+1) / (N+1).
Steps with the same share are ordered by the policy's own probability p, which
moves the confidence down within its share's bin, never into the next one:
confidence = share − (1 − p) / (N + 1). The share decides; p only breaks its
ties, so the calibration in webagent/calibration.py has more than N+1 levels
to choose a threshold from.

What it costs: N more decisions per step, each with its own prompt (the prefix
cache helps only with the system text). It is off unless asked for
(`--annotators N`); `scripts/bench_confidence.py` measures what it buys.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from webagent.actions import Action, parse_action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate
from webagent.errors import ModelError
from webagent.policy import Decision, ModelPolicy, WrappingPolicy


@dataclass(frozen=True)
class AgreementConfig:
    annotators: int = 4  # extra decisions per step, each under a different prompt

    def __post_init__(self) -> None:
        if self.annotators < 1:
            raise ModelError(f"agreement needs at least one annotator, not {self.annotators}")


def share(action: Action, votes: Sequence[Action]) -> float:
    """The share of voters (the policy, whose vote is `action`, and the annotators'
    `votes`) that chose `action`."""
    return (1 + sum(v == action for v in votes)) / (1 + len(votes))


def blend(agreement: float, policy_confidence: float, voters: int) -> float:
    """share − (1 − p) / voters: inside the share's bin ((k−1)/voters, k/voters], ordered by p."""
    p = min(max(policy_confidence, 0.0), 1.0)
    return agreement - (1.0 - p) / voters


def annotator_view(
    index: int,
    seed: int,
    pool: Sequence,
    shots: int,
    candidates: Sequence[Candidate],
) -> tuple[list, list[Candidate]]:
    """Annotator `index`'s demonstrations (a sample of `shots` from `pool`) and its
    order of the shown elements, both drawn from (seed, index) so a step's votes
    are reproducible."""
    rng = random.Random(f"{seed}:{index}")
    exemplars = rng.sample(list(pool), min(shots, len(pool)))
    order = list(candidates)
    rng.shuffle(order)
    return exemplars, order


class AgreementPolicy(WrappingPolicy):
    """The model policy, with its confidence replaced by the annotators' agreement.

    The action is the wrapped policy's; everything else (prompt, model, memory,
    version) is too, so the loop, the store and the learner treat it as that policy."""

    def __init__(self, policy: ModelPolicy, config: AgreementConfig | None = None) -> None:
        super().__init__(policy)
        self.config = config or AgreementConfig()

    def describe(self) -> dict:
        return {**super().describe(), "agreement": {"annotators": self.config.annotators}}

    def votes(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> list[Action]:
        """What each annotator would do on this step (greedy, under its own prompt)."""
        policy = self.inner
        pool = policy.exemplar_pool(instruction, candidates, history, observation.verbs)
        grammar = policy.grammar(instruction, candidates, observation, history)
        elements = [c.element for c in candidates]
        votes = []
        for index in range(self.config.annotators):
            exemplars, order = annotator_view(index, seed, pool, policy.config.shots, candidates)
            prompt = policy.prompt(instruction, observation, order, history, exemplars)
            generation = policy.model.generate(prompt, grammar, temperature=0.0, max_tokens=policy.config.max_tokens)
            votes.append(parse_action(generation.text, elements))
        return votes

    def decide(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> Decision:
        decision = self.inner.decide(instruction, observation, candidates, history, seed)
        start = time.perf_counter()
        votes = self.votes(instruction, observation, candidates, history, seed)
        agreement = share(decision.action, votes)
        return replace(
            decision,
            confidence=blend(agreement, decision.confidence, self.config.annotators + 1),
            policy_confidence=decision.confidence,
            agreement=agreement,
            decide_seconds=decision.decide_seconds + time.perf_counter() - start,
        )
