"""Mind2Web records as typed, frozen values (one task, its steps, their candidates)."""

from __future__ import annotations

from dataclasses import dataclass

OPS = ("CLICK", "TYPE", "SELECT")


@dataclass(frozen=True)
class Operation:
    op: str  # CLICK | TYPE | SELECT (HOVER and ENTER arrive as CLICK, with original_op kept)
    original_op: str
    value: str = ""

    @property
    def text(self) -> str:
        """The "OP value" string op F1 is computed on; a CLICK carries no value (MindAct)."""
        return op_text(self.op, self.value)


def op_text(op: str, value: str | None) -> str:
    return op if op == "CLICK" else f"{op} {value or ''}".strip()


@dataclass(frozen=True)
class CandidateRecord:
    backend_node_id: str
    tag: str
    attributes: tuple[tuple[str, str], ...] = ()
    is_original_target: bool = False
    is_top_level_target: bool = False

    @property
    def attrs(self) -> dict[str, str]:
        return dict(self.attributes)


@dataclass(frozen=True)
class ActionStep:
    action_uid: str
    cleaned_html: str
    operation: Operation
    pos_candidates: tuple[CandidateRecord, ...]
    neg_candidates: tuple[CandidateRecord, ...]
    raw_html: str = ""  # dropped by the loader unless asked for: it is most of the file's size
    repr: str = ""  # this step's entry of the task's action_reprs

    @property
    def pos_ids(self) -> tuple[str, ...]:
        return tuple(c.backend_node_id for c in self.pos_candidates)

    @property
    def candidate_ids(self) -> tuple[str, ...]:
        return self.pos_ids + tuple(c.backend_node_id for c in self.neg_candidates)


@dataclass(frozen=True)
class Task:
    annotation_id: str
    website: str
    domain: str
    subdomain: str
    confirmed_task: str
    action_reprs: tuple[str, ...]
    actions: tuple[ActionStep, ...]
    source: str = ""  # the file it was read from

    def sample_id(self, step: ActionStep) -> str:
        """The key MindAct's candidate-score pickle uses for one step."""
        return f"{self.annotation_id}_{step.action_uid}"
