"""Replay Mind2Web steps headless, through the same ranker and policy as live runs.

For each step: the elements come from its cleaned HTML (ids = backend_node_id)
and the candidate pool is the step's positive and negative candidates, as in
MindAct; our ranker (or MindAct's ranks from a score file) orders the pool and
the top k are shown to the policy, which decides through the same
grammar-constrained DSL as on a live page. The history the policy sees is the
gold previous actions, as in the paper; the ranker's history is the gold
`action_reprs` (the element's text, which a bare `CLICK [id]` from another page
lacks). Each scored step is written to the store at once, so an interrupted
evaluation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from webagent.actions import Action
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, Ranker
from webagent.errors import DataError, WebAgentError
from webagent.mind2web.elements import elements_from_html
from webagent.mind2web.metrics import Metrics, StepScore, aggregate, markdown_table, score_step
from webagent.mind2web.records import ActionStep, Task, op_text
from webagent.policy import BasePolicy, Decision, Policy
from webagent.progress import Reporter
from webagent.settings import AgentSettings
from webagent.store import Store


def gold_action(step: ActionStep, element_id: str | None = None) -> Action:
    """The step's operation as an Action on its (first) positive element."""
    op = step.operation
    target = element_id or (step.pos_ids[0] if step.pos_ids else "none")
    return Action(op.op, target, None if op.op == "CLICK" else op.value)


def action_op(action: Action) -> str:
    return op_text(action.verb, action.argument)


class GoldPolicy(BasePolicy):
    """Acts on the step's positive candidate with the gold operation: the oracle that a
    faithful export → load → replay round trip must score 100% with."""

    name = "oracle"

    def __init__(self) -> None:
        self.step: ActionStep | None = None

    def prepare_step(self, task: Task, step: ActionStep) -> None:
        self.step = step

    def decide(self, instruction, observation, candidates, history, seed) -> Decision:
        if self.step is None:
            raise DataError("GoldPolicy needs prepare_step() before decide()")
        positives = set(self.step.pos_ids)
        target = next((c for c in candidates if c.id in positives), candidates[0])
        return Decision(action=gold_action(self.step, target.id), confidence=1.0)


def candidate_pool(step: ActionStep, elements: Sequence[Element]) -> list[Element]:
    """The elements a step may be answered with: its listed candidates (all elements
    when it lists none), as found in its cleaned HTML."""
    listed = set(step.candidate_ids)
    return [el for el in elements if not listed or el.id in listed]


def rank_step(
    task: Task,
    index: int,
    pool: Sequence[Element],
    observation: Observation,
    *,
    ranker: Ranker | None,
    ranks: dict[str, dict[str, int]] | None,
) -> list[Candidate]:
    """The whole pool, best first: by MindAct's ranks when given (elements they do
    not score are left out), else by our ranker."""
    if ranks is not None:
        per = ranks.get(task.sample_id(task.actions[index]), {})
        scored = sorted((el for el in pool if el.id in per), key=lambda el: per[el.id])
        return [Candidate(el, 1.0 / (1 + per[el.id])) for el in scored]
    if ranker is None:
        raise DataError("replay needs a ranker or MindAct ranks")
    return ranker.rank(task.confirmed_task, observation, list(task.action_reprs[:index]), max(len(pool), 1))


def _seed(sample_id: str) -> int:
    return int(hashlib.sha1(sample_id.encode()).hexdigest()[:8], 16)


@dataclass
class Replayer:
    """Replays tasks into one evaluation of the store."""

    policy: Policy
    store: Store
    eval_id: int
    ranker: Ranker | None = None
    ranks: dict[str, dict[str, int]] | None = None
    top_k: int = 50
    seen: list[str] = field(default_factory=list)  # annotation_ids covered by this run, done now or before

    def replay(
        self,
        tasks: Iterable[Task],
        *,
        limit: int | None = None,
        on_task: Callable[[Task, list[dict]], None] | None = None,
    ) -> int:
        """Replay the tasks (the first `limit`); steps already in the store are skipped.
        Returns how many steps were replayed now."""
        done = {(r["annotation_id"], r["action_uid"]) for r in self.store.replay_steps(self.eval_id)}
        replayed = 0
        for count, task in enumerate(tasks):
            if limit is not None and count >= limit:
                break
            self.seen.append(task.annotation_id)
            rows = []
            history: list[Action] = []
            for index, step in enumerate(task.actions):
                if (task.annotation_id, step.action_uid) not in done:
                    rows.append(self.replay_step(task, index, history))
                    replayed += 1
                history.append(gold_action(step))
            if on_task:
                on_task(task, rows)
        return replayed

    def replay_step(self, task: Task, index: int, history: Sequence[Action]) -> dict:
        step = task.actions[index]
        start = time.perf_counter()
        pool = candidate_pool(step, elements_from_html(step.cleaned_html))
        observation = Observation(url=f"mind2web://{task.website}", title=task.website, elements=tuple(pool))
        ranking = rank_step(task, index, pool, observation, ranker=self.ranker, ranks=self.ranks)
        positives = set(step.pos_ids)
        ids = [c.id for c in ranking]
        positive_rank = next((r for r, i in enumerate(ids, start=1) if i in positives), None)
        shown = ranking[: self.top_k]
        decision, error = None, None
        if positive_rank is not None and positive_rank <= self.top_k:  # else it scores zero: no need to ask
            if isinstance(self.policy, GoldPolicy):  # the one policy that reads the answer
                self.policy.prepare_step(task, step)
            try:
                decision = self.policy.decide(
                    task.confirmed_task, observation, shown, history, _seed(task.sample_id(step))
                )
            except WebAgentError as exc:  # a policy that cannot answer gets the step wrong, and we go on
                error = str(exc)
        predicted = decision.action if decision else None
        score = score_step(
            task.annotation_id,
            predicted_id=predicted.element_id if predicted else None,
            predicted_op=action_op(predicted) if predicted else "",
            gold_op=step.operation.text,
            positive_ids=positives,
            shown_ids=[c.id for c in shown],
            positive_rank=positive_rank,
        )
        row = {
            "annotation_id": task.annotation_id,
            "action_uid": step.action_uid,
            "idx": index,
            "website": task.website,
            "domain": task.domain,
            "subdomain": task.subdomain,
            "positives": sorted(positives),
            "positive_rank": positive_rank,
            "candidates": len(ranking),
            "shown": [c.id for c in shown],
            "predicted": predicted.to_dsl() if predicted else None,
            "predicted_op": action_op(predicted) if predicted else None,
            "gold_op": step.operation.text,
            "element_correct": int(score.element_correct),
            "op_f1": score.op_f1,
            "step_success": int(score.step_success),
            "raw_output": decision.raw_output if decision else None,
            "prompt": decision.prompt if decision else None,
            "confidence": decision.confidence if decision else None,
            "error": error,
            "seconds": round(time.perf_counter() - start, 4),
        }
        self.store.record_replay_step(self.eval_id, row)
        return row

    def metrics(self) -> Metrics:
        """Over the tasks this run covered (steps from an earlier, interrupted run included)."""
        return metrics_of(self.store.replay_steps(self.eval_id), set(self.seen) if self.seen else None)


def metrics_of(rows: Iterable[dict], annotation_ids: set[str] | None = None) -> Metrics:
    scores = [
        StepScore(r["annotation_id"], bool(r["element_correct"]), float(r["op_f1"]), r["positive_rank"])
        for r in rows
        if annotation_ids is None or r["annotation_id"] in annotation_ids
    ]
    return aggregate(scores)


def eval_key(*, files: Sequence[Path], split: str, settings: dict) -> str:
    """What makes two evaluations the same: the data files (name, size), the split and the settings."""
    data = [(str(Path(f).resolve()), Path(f).stat().st_size) for f in files]
    blob = json.dumps({"files": data, "split": split, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def policy_settings(policy: Policy) -> dict:
    """The policy's identity for the evaluation key: name, model and version, config."""
    described = policy.describe()
    model = policy.model
    return {
        "policy": policy.name,
        "model": model.name if model is not None else "",
        "model_version": str(model.version) if model is not None else "",
        "config": described["config"],
    }


# -- exemplar memory from the training split (Synapse-style) ------------------------

EXEMPLAR_CANDIDATES = 5  # candidates kept in an exemplar's state, the right one among them


def memory_from_tasks(tasks: Iterable[Task], *, ranker: Ranker, embedder, capacity: int = 100_000):
    """Every training step with a positive becomes an exemplar, built as a live
    confirmed step is (webagent.agent): the state the model would have seen with
    the gold history, the best-ranked candidates with the right one among them,
    and the gold action. Kept in memory only, apart from the live exemplars."""
    from webagent.memory import ExemplarMemory
    from webagent.teaching import step_exemplar

    memory = ExemplarMemory(None, embedder, namespace="mind2web-train", capacity=capacity)
    for task in tasks:
        history: list[Action] = []
        for index, step in enumerate(task.actions):
            pool = candidate_pool(step, elements_from_html(step.cleaned_html))
            observation = Observation(url=f"mind2web://{task.website}", title=task.website, elements=tuple(pool))
            ranking = rank_step(task, index, pool, observation, ranker=ranker, ranks=None)
            target = next((c for c in ranking if c.id in set(step.pos_ids)), None)
            if target is not None:
                right = gold_action(step, target.id)
                memory.add(
                    step_exemplar(
                        task.confirmed_task,
                        observation,
                        ranking,
                        history,
                        right,
                        keep=EXEMPLAR_CANDIDATES,
                        task=task.annotation_id,
                    )
                )
            history.append(gold_action(step))
    return memory


# -- one command: load, replay, score -------------------------------------------------


def _files_identity(files: Sequence[Path]) -> list:
    return [(str(Path(f).resolve()), Path(f).stat().st_size) for f in files]


def run_replay(
    data: str | Path,
    splits: Sequence[str],
    *,
    store: Store,
    settings: AgentSettings,
    gold: bool = False,
    top_k: int = 50,
    ranks_path: str | Path | None = None,
    memory_path: str | Path | None = None,
    limit: int | None = None,
    skip_bad: bool = False,
    restart: bool = False,
    reporter: Reporter | None = None,
) -> dict:
    """Replay each split into its own stored evaluation (resumed when it exists) and
    return the paper's metrics per split. The policy is `settings.policy` (or the
    gold actions with `gold`), assembled without the store's memory: `memory_path`
    fills one from a Mind2Web training split instead."""
    from webagent.assembly import build_policy
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder
    from webagent.mind2web.loader import iter_tasks, load_ranks, split_files

    reporter = reporter or Reporter()
    if memory_path and (gold or not settings.uses_model):
        raise WebAgentError(f"--memory needs the model policy, not {'oracle' if gold else settings.policy.value!r}")
    ranks = load_ranks(ranks_path) if ranks_path else None
    ranker = HybridRanker(Embedder()) if ranks is None or memory_path else None
    memory = None
    if memory_path:
        memory_files = split_files(memory_path, "train")
        memory = memory_from_tasks(
            iter_tasks(memory_files, skip_bad=skip_bad, reporter=reporter), ranker=ranker, embedder=ranker.embedder
        )
        reporter.note(f"memory: {len(memory)} exemplars from {len(memory_files)} file(s)")
    if gold:
        policy: Policy = GoldPolicy()
    else:
        settings = replace(settings, memory=replace(settings.memory, enabled=False))
        policy = build_policy(settings, store, memory=memory)
    key_settings: dict = {
        **policy_settings(policy),
        "top_k": top_k,
        "ranker": f"mindact:{_files_identity([Path(ranks_path)])}" if ranks_path else "hybrid",
    }
    if memory_path:
        key_settings["memory"] = _files_identity(memory_files)
    results: dict = {"settings": key_settings, "splits": {}}
    tables: dict[str, Metrics] = {}
    for split in splits:
        files = split_files(data, split)
        key = eval_key(files=files, split=split, settings=key_settings)
        if restart:
            store.delete_replay(key)
        eval_id = store.start_replay(key, split=split, settings={**key_settings, "files": _files_identity(files)})
        errors: list[DataError] = []
        replayer = Replayer(policy, store, eval_id, ranker=ranker, ranks=ranks, top_k=top_k)

        def show(task: Task, rows: list[dict], split: str = split) -> None:
            if not rows:
                return
            ok = sum(r["step_success"] for r in rows)
            mark = "[green]✓[/green]" if ok == len(rows) else "[red]✗[/red]"
            reporter.note(f"{mark} {split} {task.annotation_id}: {ok}/{len(rows)} steps right")

        tasks = iter_tasks(files, skip_bad=skip_bad, errors=errors, reporter=reporter)
        replayed = replayer.replay(tasks, limit=limit, on_task=show)
        metrics = replayer.metrics()
        store.finish_replay(eval_id, metrics.row())
        results["splits"][split] = {
            "eval_id": eval_id,
            "key": key,
            "replayed_now": replayed,
            **metrics.row(),
            "bad_records": [str(e) for e in errors],
        }
        tables[split] = metrics
    results["table"] = markdown_table(tables)
    return results
