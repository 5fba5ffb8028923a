"""A second opinion on each proposed action, folded into the step's confidence.

The critic asks a language model (the policy's own or another) a verification
question about the proposal (prompts/critic_system.jinja, prompts/critic.jinja)
and reads its answer as a probability: the reply is decoded greedily through the
two-word grammar `"Yes" | "No"` (one forward pass: both are single tokens of the
default model), and P(yes) is the masked probability of "Yes" (the chosen
reply's probability, or one minus it when the reply is "No").

The step's confidence is the weighted geometric mean of the policy's confidence
p and the critic's c: confidence = p^(1-w) · c^w (w = `CriticConfig.weight`).
Both must be high for the step to look safe, and neither alone can make it so;
the calibration of auto-approval (webagent/calibration.py) works on this number
and needs no particular scale. Both parts are kept (Decision.policy_confidence,
Decision.critic; steps.policy_confidence, steps.critic in the store).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from webagent.actions import Action
from webagent.browser.observation import Observation
from webagent.candidates import Candidate
from webagent.errors import ModelError
from webagent.models.base import LanguageModel
from webagent.policy import Decision, Policy, WrappingPolicy
from webagent.templates import render

ANSWERS = ("Yes", "No")
ANSWER_GRAMMAR = 'start: "Yes" | "No"\n'


@dataclass(frozen=True)
class CriticConfig:
    weight: float = 0.5  # w in confidence = p^(1-w) · c^w; 0 ignores the critic, 1 ignores the policy
    shown: int = 5  # candidates shown to the critic besides the proposed element

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ModelError(f"critic weight must lie in [0, 1], not {self.weight}")


@dataclass(frozen=True)
class Opinion:
    """What the critic thinks of one proposed action."""

    p_yes: float  # the critic's probability that the action is right
    reply: str  # Yes | No
    seconds: float


def combine(policy_confidence: float, critic: float, weight: float) -> float:
    """The step's confidence: p^(1-w) · c^w (weighted geometric mean)."""
    p = min(max(policy_confidence, 0.0), 1.0)
    c = min(max(critic, 0.0), 1.0)
    if weight <= 0.0:
        return p
    if weight >= 1.0:
        return c
    if p == 0.0 or c == 0.0:
        return 0.0
    return math.exp((1 - weight) * math.log(p) + weight * math.log(c))


class Critic:
    """Scores a proposed action with a verification prompt."""

    def __init__(self, model: LanguageModel, config: CriticConfig | None = None) -> None:
        self.model = model
        self.config = config or CriticConfig()

    def prompt(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        action: Action,
    ) -> str:
        shown = list(candidates[: self.config.shown])
        target = next((c.element for c in candidates if c.id == action.element_id), None)
        if action.element_id is not None:
            target = target or observation.find(action.element_id)
        if target is None and action.element_id is not None:
            raise ModelError(f"the critic cannot judge {action}: no element [{action.element_id}] on the page")
        if target is not None and all(c.id != target.id for c in shown):
            shown.append(Candidate(target, 0.0))
        user = render(
            "critic.jinja",
            instruction=instruction,
            history=[a.to_dsl() for a in history],
            candidates=shown,
            action=action.to_dsl(),
            target=target,
        )
        messages = [{"role": "system", "content": render("critic_system.jinja")}, {"role": "user", "content": user}]
        return self.model.format_chat(messages)

    def judge(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        action: Action,
    ) -> Opinion:
        start = time.perf_counter()
        prompt = self.prompt(instruction, observation, candidates, history, action)
        reply = self.model.generate(prompt, ANSWER_GRAMMAR, temperature=0.0, max_tokens=4)
        p_reply = reply.confidence
        if reply.text not in ANSWERS:
            raise ModelError(f"the critic replied {reply.text!r}, not one of {ANSWERS}")
        p_yes = p_reply if reply.text == "Yes" else 1.0 - p_reply
        return Opinion(p_yes=p_yes, reply=reply.text, seconds=time.perf_counter() - start)


class CriticPolicy(WrappingPolicy):
    """Any policy, with the critic's opinion on each decision folded into its confidence.

    Everything else (prompt, model, memory, version) is the wrapped policy's, so the
    agent, the store and the learner treat it exactly as the policy itself."""

    def __init__(self, policy: Policy, critic: Critic) -> None:
        super().__init__(policy)
        self.critic = critic

    def describe(self) -> dict:
        return {**super().describe(), "critic": asdict(self.critic.config)}

    def decide(
        self,
        instruction: str,
        observation: Observation,
        candidates: Sequence[Candidate],
        history: Sequence[Action],
        seed: int,
    ) -> Decision:
        decision = self.inner.decide(instruction, observation, candidates, history, seed)
        opinion = self.critic.judge(instruction, observation, candidates, history, decision.action)
        own = decision.policy_confidence if decision.policy_confidence is not None else decision.confidence
        return replace(
            decision,
            confidence=combine(decision.confidence, opinion.p_yes, self.critic.config.weight),
            policy_confidence=own,
            critic=opinion.p_yes,
            decide_seconds=decision.decide_seconds + opinion.seconds,
        )
