"""Mind2Web's metrics, computed as MindAct's evaluation code computes them.

- element accuracy: the predicted element is one of the step's positive candidates;
- operation F1: token-level F1 between the predicted and the gold "OP value"
  strings (sets of whitespace tokens; a CLICK carries no value);
- step success: element right and op F1 = 1;
- task success: every step of the task successful.

A step whose positive candidates all fall outside the top k shown to the policy
(or that has none) scores zero on all three. Macro averages take the mean per
task, then over tasks (the figure the paper reports); micro averages pool the
steps. Candidate recall@k is the share of steps with a positive ranked in the top k.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RECALL_KS = (5, 10, 20, 50)


def op_f1(predicted: str, gold: str) -> float:
    """Token-level F1 of two "OP value" strings, on token sets (MindAct's calculate_f1)."""
    pred, label = set(predicted.strip().split()), set(gold.strip().split())
    if not pred and not label:
        return 1.0
    if not pred or not label:
        return 0.0
    tp = len(pred & label)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(pred), tp / len(label)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class StepScore:
    annotation_id: str
    element_correct: bool
    op_f1: float
    positive_rank: int | None = None  # 1-based rank of the best-ranked positive; None when not ranked

    @property
    def step_success(self) -> bool:
        return self.element_correct and self.op_f1 == 1.0


def score_step(
    annotation_id: str,
    *,
    predicted_id: str | None,
    predicted_op: str,
    gold_op: str,
    positive_ids: Iterable[str],
    shown_ids: Iterable[str],
    positive_rank: int | None = None,
) -> StepScore:
    """Score one step. No positive among the shown candidates means zero, whatever was predicted."""
    positives = set(positive_ids)
    if not positives & set(shown_ids) or predicted_id is None:
        return StepScore(annotation_id, False, 0.0, positive_rank)
    return StepScore(annotation_id, predicted_id in positives, op_f1(predicted_op, gold_op), positive_rank)


@dataclass(frozen=True)
class Metrics:
    tasks: int
    steps: int
    element_acc: float  # macro
    op_f1: float  # macro
    step_sr: float  # macro
    task_sr: float
    micro_element_acc: float
    micro_op_f1: float
    micro_step_sr: float
    recall: dict[int, float]  # k -> share of steps with a positive in the top k

    def row(self) -> dict:
        return {
            "tasks": self.tasks,
            "steps": self.steps,
            "element_acc": self.element_acc,
            "op_f1": self.op_f1,
            "step_sr": self.step_sr,
            "task_sr": self.task_sr,
            "micro": {"element_acc": self.micro_element_acc, "op_f1": self.micro_op_f1, "step_sr": self.micro_step_sr},
            "recall": {f"@{k}": v for k, v in self.recall.items()},
        }


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def aggregate(scores: Sequence[StepScore], ks: Sequence[int] = RECALL_KS) -> Metrics:
    """Macro (per task, then over tasks) and micro averages, task success and recall@k."""
    per_task: dict[str, list[StepScore]] = {}
    for s in scores:
        per_task.setdefault(s.annotation_id, []).append(s)
    tasks = list(per_task.values())
    return Metrics(
        tasks=len(tasks),
        steps=len(scores),
        element_acc=_mean([_mean([float(s.element_correct) for s in t]) for t in tasks]),
        op_f1=_mean([_mean([s.op_f1 for s in t]) for t in tasks]),
        step_sr=_mean([_mean([float(s.step_success) for s in t]) for t in tasks]),
        task_sr=_mean([float(all(s.step_success for s in t)) for t in tasks]),
        micro_element_acc=_mean([float(s.element_correct) for s in scores]),
        micro_op_f1=_mean([s.op_f1 for s in scores]),
        micro_step_sr=_mean([float(s.step_success) for s in scores]),
        recall={k: _mean([float(s.positive_rank is not None and s.positive_rank <= k) for s in scores]) for k in ks},
    )


def markdown_table(rows: dict[str, Metrics]) -> str:
    """The paper's columns (macro), then micro and recall, one row per split."""
    head = ["split", "tasks", "steps", "Ele. Acc", "Op. F1", "Step SR", "SR", "micro Ele/Op/Step"]
    head += [f"R@{k}" for k in RECALL_KS]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for split, m in rows.items():
        cells = [split, str(m.tasks), str(m.steps)]
        cells += [f"{100 * v:.1f}" for v in (m.element_acc, m.op_f1, m.step_sr, m.task_sr)]
        cells.append("/".join(f"{100 * v:.1f}" for v in (m.micro_element_acc, m.micro_op_f1, m.micro_step_sr)))
        cells += [f"{100 * m.recall.get(k, 0.0):.1f}" for k in RECALL_KS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
