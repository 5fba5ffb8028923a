"""Everything an agent is built from, as one layered, frozen settings object.

`AgentSettings` is what `webagent.assembly.assemble` reads and what every run
record stores (`AgentSettings.record()`), so any result can be traced to the
exact settings and model version that produced it. Each layer is one part of
the agent (the model and its decoding, memory, critic, tuner, supervision,
auto-approval, the loop, the browser); a command changes only the layers it has
options for, with `dataclasses.replace`.

Values are checked here, when the settings are made, before anything heavy
loads: a bad name or number fails at once with the valid choices listed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from webagent.allow import SitePolicy
from webagent.errors import DataError
from webagent.kinds import Decoding, PolicyKind, Source, SupervisorKind, TuneMethod, parse
from webagent.secrets import NAME_RE

PROMPT_VARIANTS = ("auto", "plain", "rich")
BASE_VERSION = "base"
ACTIVE_VERSION = "active"


@dataclass(frozen=True)
class ModelSettings:
    name: str = "default"  # 'default' (SmolLM2-135M-Instruct), a local folder or a cached model id
    version: str = ACTIVE_VERSION  # active (the store's active tuned version) | base | a version number
    decoding: Decoding = Decoding.PLAIN
    particles: int = 8  # SMC particles
    draft_model: str | None = None  # speculative: a model with the same tokenizer, or "lookup"; else a self-draft
    temperature: float = 0.0
    dtype: str = "auto"  # auto (bfloat16 where the CPU computes it natively and nothing is tuned) | float32 | bfloat16
    threads: int = 0  # torch threads (0: torch's default); 1 may be faster when the other core is busy
    prefix_entries: int = 8  # recent prompts whose KV cache a decision reuses (0: read every prompt in full)
    adapter: str = "default"  # merged at load: default (the packaged one) | none | a file (webagent.adapters)
    prompt: str = "auto"  # how shown elements are written: auto (rich lines on real sites) | plain | rich

    def __post_init__(self) -> None:
        from webagent.models.numerics import DTYPES

        object.__setattr__(self, "decoding", parse(Decoding, self.decoding, "decoding mode"))
        if self.dtype not in DTYPES:
            raise DataError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.threads < 0 or self.prefix_entries < 0:
            raise DataError(f"threads and prefix entries must be 0 or more, not {self.threads}, {self.prefix_entries}")
        if self.version not in (ACTIVE_VERSION, BASE_VERSION) and not str(self.version).isdigit():
            raise DataError(f"model version must be active, base or a number, not {self.version!r}")
        if self.particles < 1:
            raise DataError(f"particles must be at least 1, not {self.particles}")
        if self.prompt not in PROMPT_VARIANTS:
            raise DataError(f"unknown prompt variant {self.prompt!r}; choose one of {', '.join(PROMPT_VARIANTS)}")


@dataclass(frozen=True)
class RankerSettings:
    """The candidate ranker's weights (webagent.candidates.RankerWeights): what orders the shown elements."""

    lexical: float = 0.5  # BM25 against the task and recent actions
    semantic: float = 0.4  # embedding similarity
    interactive: float = 0.15  # the prior for elements one acts on
    typing: float = 0.15  # the prior for empty text fields while the task has a value not yet typed

    def __post_init__(self) -> None:
        if min(self.lexical, self.semantic, self.interactive, self.typing) < 0:
            raise DataError(
                "ranker weights must be 0 or more, not "
                f"{self.lexical}, {self.semantic}, {self.interactive}, {self.typing}"
            )

    def weights(self):
        from webagent.candidates import RankerWeights

        return RankerWeights(self.lexical, self.semantic, self.interactive, self.typing)


@dataclass(frozen=True)
class MemorySettings:
    enabled: bool = True  # the store's exemplar memory, in the prompt and learning from verdicts
    shots: int = 3  # exemplars shown per decision
    relabel: bool = True  # demonstrations' element ids shown as a, b, c (webagent.memory.relabel)
    guard: bool = False  # leave out exemplars that make their task's other confirmed steps less likely
    procedures: bool = True  # reuse successful supervised episodes on tasks worded alike (webagent.procedures)

    def __post_init__(self) -> None:
        if self.shots < 0:
            raise DataError(f"shots must be at least 0, not {self.shots}")


@dataclass(frozen=True)
class CriticSettings:
    enabled: bool = False  # a second opinion on each proposal, folded into its confidence
    weight: float = 0.5  # w in confidence = policy^(1-w) * critic^w

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise DataError(f"the critic weight must lie in [0, 1], not {self.weight}")


@dataclass(frozen=True)
class AgreementSettings:
    """Confidence from simulated annotators (webagent.agreement): 0 annotators is off."""

    annotators: int = 0  # extra decisions per step under other demonstrations and element orders

    def __post_init__(self) -> None:
        if self.annotators < 0:
            raise DataError(f"annotators must be at least 0, not {self.annotators}")


@dataclass(frozen=True)
class TunerSettings:
    method: TuneMethod = TuneMethod.NONE  # online weight tuning while supervising
    param_set: str = ""  # what it moves (webagent.learning.params); "" = the tuner's default
    steps: int = 0  # optimisation steps per round; 0 = the default for the parameter set
    lr: float | None = None  # None = the default for the method and parameter set

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", parse(TuneMethod, self.method, "tuning method"))
        if self.steps < 0:
            raise DataError(f"tuning steps must be at least 0, not {self.steps}")
        if self.lr is not None and not self.lr > 0:
            raise DataError(f"the tuning learning rate must be positive, not {self.lr}")


CALIBRATION_SOURCES = (Source.PERSON, Source.ORACLE)


@dataclass(frozen=True)
class AutonomySettings:
    """Auto-approval (webagent.autonomy): confirm a step without asking when its
    confidence clears a threshold calibrated on the store's past verdicts."""

    enabled: bool = False
    alpha: float = 0.1  # promised disagreement rate on auto-approved steps, at most
    delta: float = 0.1  # chance the promise fails, at most
    min_samples: int = 30  # judged steps before any threshold at all (fewer: always ask)
    sources: tuple[str, ...] = tuple(CALIBRATION_SOURCES)
    audit: float = 0.1  # share of the steps it would confirm that are still asked (0: none), so calibration goes on
    audit_window: int = 30  # the latest audits are also tested alone, so a change in the agent shows (0: all only)

    def __post_init__(self) -> None:
        if not 0 <= self.audit <= 1:
            raise DataError(f"the audit share must lie in [0, 1], not {self.audit}")
        if not 0 < self.alpha < 1 or not 0 < self.delta < 1:
            raise DataError(f"alpha and delta must lie in (0, 1), not {self.alpha} and {self.delta}")
        if self.min_samples < 1:
            raise DataError(f"min_samples must be at least 1, not {self.min_samples}")
        if self.audit_window < 0:
            raise DataError(f"the audit window must be 0 (all audits only) or more, not {self.audit_window}")


@dataclass(frozen=True)
class LoopSettings:
    """The episode loop (webagent.agent)."""

    top_k: int = 10  # ranked candidates shown to the policy
    max_steps: int = 12
    loop_repeats: int = 3  # the same action this many times on the same unchanged page ends the episode as a loop
    # A click that left the page as it was is not offered again on that page (its element leaves
    # the candidates; a text field or select stays: clicking one only focuses it).
    skip_tried: bool = True
    screenshots: bool = False
    patience_seconds: float = 3.0  # how long to keep looking when the policy finds nothing to do
    exemplar_candidates: int = 5  # candidates kept in a remembered exemplar (the right one always among them)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise DataError(f"top-k must be at least 1, not {self.top_k}")
        if self.max_steps < 1:
            raise DataError(f"max-steps must be at least 1, not {self.max_steps}")
        if self.loop_repeats < 2:
            raise DataError(f"loop_repeats must be at least 2, not {self.loop_repeats}")


@dataclass(frozen=True)
class CaptureSettings:
    """What a CLI run keeps besides the store (webagent.capture): a Playwright trace
    per episode, a PNG per step. Both show the page, typed values included."""

    trace_dir: str | None = None
    screenshots_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("trace_dir", "screenshots_dir"):
            value = getattr(self, name)
            object.__setattr__(self, name, str(value) if value else None)


@dataclass(frozen=True)
class AgentSettings:
    policy: PolicyKind = PolicyKind.MODEL
    model: ModelSettings = field(default_factory=ModelSettings)
    ranker: RankerSettings = field(default_factory=RankerSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    critic: CriticSettings = field(default_factory=CriticSettings)
    agreement: AgreementSettings = field(default_factory=AgreementSettings)
    tuner: TunerSettings = field(default_factory=TunerSettings)
    supervisor: SupervisorKind = SupervisorKind.NONE
    autonomy: AutonomySettings = field(default_factory=AutonomySettings)
    loop: LoopSettings = field(default_factory=LoopSettings)
    headless: bool = True
    sites: SitePolicy = field(default_factory=SitePolicy)  # where the browser may go (webagent.allow)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    seed: int = 0
    # Declared secrets as (NAME, value) (webagent.secrets): the agent sees `{NAME}`; run records keep the names only.
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", tuple((str(n), str(v)) for n, v in dict(self.secrets).items()))
        for name, value in self.secrets:
            if not NAME_RE.match(name) or not value:
                raise DataError(f"secret {name!r}: a name of letters, digits and _, and a value, are needed")
        if self.secrets and (self.capture.trace_dir or self.capture.screenshots_dir):
            what = "--trace" if self.capture.trace_dir else "--screenshots"
            raise DataError(
                f"{what} records the page as it is, typed values included, so it would keep the secrets "
                "in clear: leave out --secret/--secrets-file, or leave out --trace and --screenshots"
            )
        if self.capture.screenshots_dir and not self.loop.screenshots:
            object.__setattr__(self, "loop", replace(self.loop, screenshots=True))
        object.__setattr__(self, "policy", parse(PolicyKind, self.policy, "policy"))
        object.__setattr__(self, "supervisor", parse(SupervisorKind, self.supervisor, "supervisor"))
        wants_model = self.critic.enabled or self.agreement.annotators or self.tuner.method != TuneMethod.NONE
        if self.policy != PolicyKind.MODEL and wants_model:
            raise DataError(f"the critic, annotators and tuning need the model policy, not {self.policy.value!r}")

    def browser_config(self):
        """The browser these settings ask for."""
        from webagent.browser.session import BrowserConfig

        return BrowserConfig(headless=self.headless, sites=self.sites)

    @property
    def uses_model(self) -> bool:
        return self.policy == PolicyKind.MODEL

    def record(self) -> dict:
        """JSON-ready, for the run record (secrets by name only)."""
        return {**asdict(self), "secrets": [name for name, _ in self.secrets]}
