"""One way to build an agent: every part, from one `AgentSettings`, for every entrance.

The CLI commands, `webagent learn`, the panel's worker, the scripts and the
`Online` API all build what they run here, so they agree on what a setting
means, and what the agent learned reaches all of them: by default the policy
reads the store's exemplar memory and decides with the store's active model
version (`MemorySettings.enabled`, `ModelSettings.version` opt out).

    parts = assemble(settings, store)          # model, ranker, policy, memory, tuner, supervisor…
    run_id = parts.start_run("miniwob click-button")
    agent = parts.agent()                      # supervised when settings name a supervisor
    evaluator = parts.agent(supervised=False)  # the same parts, nobody asked, nothing taught

`assemble` accepts ready-made parts where settings cannot describe them: a
loaded model (tests load it once), a ranker, a memory, a policy (the oracles, probes) or
a supervisor (the person at the panel; it is wrapped in the auto-approver
unless it is one, and `on_auto` hears of each step the auto-approver confirms). Agents are immutable: a different
role is a different agent over the same parts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from webagent.agent import Agent, Observer
from webagent.autonomy import AutoApprover
from webagent.candidates import HybridRanker, Ranker
from webagent.feedback import Learner
from webagent.kinds import PolicyKind, TuneMethod
from webagent.memory import ExemplarMemory
from webagent.policy import ModelPolicy, ModelPolicyConfig, Policy, RandomPolicy, RankerTopPolicy
from webagent.procedures import ProcedureMemory, ProcedurePolicy
from webagent.recording import StepRecorder
from webagent.settings import AgentSettings, ModelSettings, TunerSettings
from webagent.store import Store
from webagent.supervision import Supervisor, make_supervisor
from webagent.teaching import Teacher


def load_model(settings: ModelSettings, *, tuned: bool = False):
    """The language model the settings name, with their decoding mode, at its base weights.
    `tuned`: it will hold tuned weights (a tuner, or a stored version), so `auto` means float32."""
    from webagent.models.numerics import resolve_dtype
    from webagent.models.transformers_lm import TransformersModel

    return TransformersModel(
        settings.name,
        adapter=settings.adapter,
        dtype=resolve_dtype(settings.dtype, tuned=tuned),
        threads=settings.threads,
        prefix_entries=settings.prefix_entries,
        decoding=settings.decoding,
        particles=settings.particles,
        draft_model=settings.draft_model,
    )


def holds_tuned_weights(settings: AgentSettings, store: Store) -> bool:
    """Whether the model will be tuned or moved to a stored version (before loading it)."""
    from webagent.learning.versions import resolve_version
    from webagent.models.loading import loaded_name

    if settings.tuner.method != TuneMethod.NONE:
        return True
    name = loaded_name(settings.model.name, settings.model.adapter)
    return resolve_version(store, name, settings.model.version) is not None


def make_tuner(model, store: Store, tuner: TunerSettings, *, seed: int = 0):
    from webagent.learning.tuner import AGENT_PARAM_SET, OnlineTuner, TunerConfig

    config = TunerConfig(
        method=tuner.method.value,
        param_set=tuner.param_set or AGENT_PARAM_SET,
        steps_per_round=tuner.steps or None,
        lr=tuner.lr,
        seed=seed,
    )
    return OnlineTuner(model, store, config)


def put_version(model, store: Store, wanted: str, tuner=None) -> dict | None:
    """Move `model` (at base weights) to the stored version `wanted` names; the row, or None for base."""
    from webagent.learning.versions import apply_version, resolve_version

    row = resolve_version(store, model.name, wanted)
    if row is not None and tuner is None and model.version == f"{model.name}@v{row['version']}":
        return row  # a model reused across runs already holds it (applying it again would add its updates twice)
    if row is not None:
        if tuner is not None:
            tuner.rollback(row["version"])  # the tuner then continues from it
        else:
            apply_version(model, store, row)
    return row


@dataclass
class Assembly:
    """The parts of one agent, built once and shared by the agents made from them."""

    settings: AgentSettings
    store: Store
    ranker: Ranker
    policy: Policy
    model: object | None  # the LanguageModel, when the policy or critic uses one
    memory: ExemplarMemory | None
    tuner: object | None  # webagent.learning.tuner.OnlineTuner
    supervisor: Supervisor | None  # wrapped in the auto-approver
    approver: AutoApprover | None
    learner: Learner | None
    version_row: dict | None = None  # the stored version decided with (None: base weights)
    procedures: ProcedureMemory | None = None  # grown by supervised episodes that succeed

    def agent(self, *, supervised: bool = True) -> Agent:
        """An agent over these parts; supervised (asked, and taught) when there is a supervisor."""
        supervisor = self.supervisor if supervised else None
        observers: list[Observer] = [StepRecorder(self.store)]
        if supervisor is not None and self.learner is not None:
            observers.append(
                Teacher(
                    self.learner, self.policy, supervisor, exemplar_candidates=self.settings.loop.exemplar_candidates
                )
            )
            if self.procedures is not None:
                observers.append(self.procedures)
        return Agent(self.ranker, self.policy, self.settings.loop, supervisor, tuple(observers), self.store.secrets)

    def describe(self) -> dict:
        """What the run record says about the parts (beside the settings)."""
        return {
            "policy": self.policy.describe(),
            "model_version": self.policy.version,
            "stored_version": self.version_row["version"] if self.version_row else None,
            "memory_exemplars": len(self.memory) if self.memory is not None else None,
            "procedures": len(self.procedures) if self.procedures is not None else None,
            "supervisor": self.supervisor.name if self.supervisor is not None else None,
            "secrets": self.store.secrets.names,
        }

    def start_run(self, command: str, **extra) -> int:
        """The run record, once per run: settings, the parts as built, and `extra` (the command's own)."""
        return self.store.start_run(
            command=command,
            policy=self.policy.name,
            model=self.policy.model.name if self.policy.model is not None else "",
            model_version=self.policy.version,
            seed=self.settings.seed,
            config={"settings": self.settings.record(), **self.describe(), **extra},
        )

    def close(self) -> None:
        """Stop background work (the tuner); the store and browser belong to the caller."""
        if self.tuner is not None:
            self.tuner.close()


def assemble(
    settings: AgentSettings,
    store: Store,
    *,
    model=None,
    ranker: Ranker | None = None,
    policy: Policy | None = None,
    supervisor: Supervisor | None = None,
    memory: ExemplarMemory | None = None,
    on_auto=None,
) -> Assembly:
    """Every part `settings` describe, built once (see the module docstring)."""
    for name, value in settings.secrets:  # the store masks them in everything it writes; agents type them
        store.secrets.declare(name, value)
    if ranker is None:
        from webagent.embeddings import Embedder

        ranker = HybridRanker(Embedder(), settings.ranker.weights())
    if policy is None and settings.uses_model and model is None:
        model = load_model(settings.model, tuned=holds_tuned_weights(settings, store))
    if supervisor is None:
        supervisor = make_supervisor(settings.supervisor)
    if memory is None and settings.memory.enabled and ((policy is None and settings.uses_model) or supervisor):
        memory = ExemplarMemory(store, ranker.embedder)
    tuner = None
    if settings.tuner.method != TuneMethod.NONE:
        tuner = make_tuner(model, store, settings.tuner, seed=settings.seed)
    version_row = put_version(model, store, settings.model.version, tuner) if model is not None else None
    procedures = None
    if policy is None:
        policy = _policy(settings, model, memory)
        if memory is not None and settings.memory.procedures and settings.uses_model:
            procedures = ProcedureMemory(store)
            policy = ProcedurePolicy(procedures, policy)
    approver = supervisor if isinstance(supervisor, AutoApprover) else None  # the panel makes its own, early
    if supervisor is not None and approver is None:
        rng = random.Random(settings.seed)  # which would-be auto-approvals are audited
        approver = AutoApprover(supervisor, store, settings.autonomy, on_auto=on_auto, rng=rng)
    learner = Learner(store, memory, tuner) if supervisor is not None else None
    return Assembly(
        settings, store, ranker, policy, model, memory, tuner, approver, approver, learner, version_row, procedures
    )


def build_policy(settings: AgentSettings, store: Store, *, memory: ExemplarMemory | None = None) -> Policy:
    """Only the policy (Mind2Web replay needs no loop): its model at the stored version, the given memory."""
    model = None
    if settings.uses_model:
        model = load_model(settings.model, tuned=holds_tuned_weights(settings, store))
        put_version(model, store, settings.model.version)
    return _policy(settings, model, memory)


def _policy(settings: AgentSettings, model, memory) -> Policy:
    if settings.policy == PolicyKind.RANKER:
        return RankerTopPolicy()
    if settings.policy == PolicyKind.RANDOM:
        return RandomPolicy()
    config = ModelPolicyConfig(
        temperature=settings.model.temperature,
        shots=settings.memory.shots,
        relabel=settings.memory.relabel,
        guard=settings.memory.guard,
        prompt=settings.model.prompt,
    )
    policy: Policy = ModelPolicy(model, config, memory=memory)
    if settings.agreement.annotators:
        from webagent.agreement import AgreementConfig, AgreementPolicy

        policy = AgreementPolicy(policy, AgreementConfig(annotators=settings.agreement.annotators))
    if settings.critic.enabled:
        from webagent.critic import Critic, CriticConfig, CriticPolicy

        policy = CriticPolicy(policy, Critic(model, CriticConfig(weight=settings.critic.weight)))
    return policy
