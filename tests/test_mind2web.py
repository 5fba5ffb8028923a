"""Mind2Web: metrics against hand-computed cases, the loader on both encodings and
on malformed records, export → load → replay round trips, resuming."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from webagent.actions import parse_action
from webagent.assembly import assemble
from webagent.browser.observation import Observation
from webagent.candidates import HybridRanker
from webagent.envs.miniwob import MiniWoBEnv
from webagent.envs.oracles import ORACLES
from webagent.errors import DataError, WebAgentError
from webagent.mind2web import loader
from webagent.mind2web.elements import elements_from_html
from webagent.mind2web.export import export_mind2web, task_json
from webagent.mind2web.loader import iter_tasks, load_ranks, parse_task, split_files
from webagent.mind2web.metrics import StepScore, aggregate, op_f1, score_step
from webagent.mind2web.replay import GoldPolicy, Replayer, candidate_pool, memory_from_tasks, rank_step, run_replay
from webagent.policy import FunctionPolicy, retrieval_query
from webagent.settings import AgentSettings, LoopSettings, MemorySettings

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "mind2web_sample"

# -- metrics -----------------------------------------------------------------------


def test_op_f1_is_token_set_f1():
    assert op_f1("CLICK", "CLICK") == 1.0
    assert op_f1("", "") == 1.0
    assert op_f1("CLICK", "") == 0.0
    assert op_f1("TYPE new york", "TYPE New York") == pytest.approx(1 / 3)  # case matters, as in MindAct
    assert op_f1("SELECT Events", "SELECT Events Today") == pytest.approx(0.8)  # p = 1, r = 2/3
    assert op_f1("TYPE a a b", "TYPE a b") == 1.0  # sets of tokens
    assert op_f1("CLICK", "TYPE x") == 0.0


def test_a_step_without_a_shown_positive_scores_zero():
    outside = score_step(
        "t", predicted_id="7", predicted_op="CLICK", gold_op="CLICK", positive_ids=["7"], shown_ids=["1", "2"]
    )
    assert (outside.element_correct, outside.op_f1, outside.step_success) == (False, 0.0, False)
    empty = score_step("t", predicted_id="7", predicted_op="CLICK", gold_op="CLICK", positive_ids=[], shown_ids=["7"])
    assert (empty.element_correct, empty.op_f1) == (False, 0.0)
    right_element_wrong_value = score_step(
        "t", predicted_id="7", predicted_op="TYPE a", gold_op="TYPE b", positive_ids=["7"], shown_ids=["7"]
    )
    assert right_element_wrong_value.element_correct and not right_element_wrong_value.step_success
    assert right_element_wrong_value.op_f1 == 0.5


def test_macro_averages_per_task_then_over_tasks_and_micro_pools_steps():
    scores = [
        StepScore("A", True, 1.0, positive_rank=1),
        StepScore("B", True, 1.0, positive_rank=6),
        StepScore("B", False, 0.5, positive_rank=None),
        StepScore("B", False, 0.0, positive_rank=30),
    ]
    m = aggregate(scores)
    assert (m.tasks, m.steps) == (2, 4)
    assert m.micro_step_sr == pytest.approx(2 / 4)
    assert m.step_sr == pytest.approx((1 + 1 / 3) / 2)
    assert m.element_acc == pytest.approx((1 + 1 / 3) / 2)
    assert m.op_f1 == pytest.approx((1 + 1.5 / 3) / 2)
    assert m.micro_op_f1 == pytest.approx(2.5 / 4)
    assert m.task_sr == 0.5
    assert m.recall == {5: 0.25, 10: 0.5, 20: 0.5, 50: 0.75}


# -- loader ----------------------------------------------------------------------------

HTML = (
    '<html backend_node_id="1"><body backend_node_id="2"><h2 backend_node_id="3">Find a table</h2>'
    '<input backend_node_id="4" type="text" placeholder="Where?" aria-label="Location"/>'
    '<select backend_node_id="5" name="party"><option>1 guest</option><option selected="">2 guests</option></select>'
    '<button backend_node_id="6"><span backend_node_id="7">Search</span></button>'
    '<div backend_node_id="8" hidden="true">later</div></body></html>'
)


def _candidate(node_id: str, tag: str, positive: bool) -> dict:
    return {
        "tag": tag,
        "attributes": json.dumps({"backend_node_id": node_id, "class": "x"}),
        "is_original_target": positive,
        "is_top_level_target": positive,
        "backend_node_id": node_id,
    }


def _task(annotation_id: str = "a1") -> dict:
    def action(uid, op, value, pos, tag):
        negs = [_candidate(i, t, False) for i, t in (("4", "input"), ("5", "select"), ("6", "button")) if i != pos]
        return {
            "action_uid": uid,
            "raw_html": "<html>raw</html>",
            "cleaned_html": HTML,
            "operation": {"op": op, "original_op": "ENTER" if op == "CLICK" else op, "value": value},
            "pos_candidates": [_candidate(pos, tag, True)],
            "neg_candidates": negs,
        }

    return {
        "annotation_id": annotation_id,
        "website": "exploretock",
        "domain": "Travel",
        "subdomain": "Restaurant",
        "confirmed_task": "Find a table for 2 guests in New York",
        "action_reprs": ["[textbox]  Where? -> TYPE: New York", "[combobox]  party -> SELECT: 2 guests", "[button]"],
        "actions": [
            action("u1", "TYPE", "New York", "4", "input"),
            action("u2", "SELECT", "2 guests", "5", "select"),
            action("u3", "CLICK", "", "6", "button"),
        ],
    }


def _as_strings(task: dict) -> dict:
    """The test-split encoding: nested fields as JSON strings."""
    out = dict(task)
    out["actions"] = [
        {
            **a,
            "operation": json.dumps(a["operation"]),
            "pos_candidates": json.dumps(a["pos_candidates"]),
            "neg_candidates": [json.dumps(c) for c in a["neg_candidates"]],
        }
        for a in task["actions"]
    ]
    return out


def test_both_encodings_give_the_same_tasks(tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    (tmp_path / "test_task").mkdir()
    (tmp_path / "train" / "train_0.json").write_text(json.dumps([_task("a1"), _task("a2")]))
    (tmp_path / "test_task" / "test_task_0.json").write_text(json.dumps([_as_strings(_task("a1")), _task("a2")]))
    monkeypatch.setattr(loader, "CHUNK_BYTES", 97)  # force tasks across many reads
    plain = list(iter_tasks(split_files(tmp_path, "train")))
    strings = list(iter_tasks(split_files(tmp_path, "test_task")))
    assert [replace(t, source="") for t in plain] == [replace(t, source="") for t in strings]
    task = plain[0]
    assert [s.operation.text for s in task.actions] == ["TYPE New York", "SELECT 2 guests", "CLICK"]
    assert task.actions[2].operation.original_op == "ENTER"
    assert task.actions[0].pos_ids == ("4",) and task.actions[0].pos_candidates[0].attrs["class"] == "x"
    assert task.actions[0].raw_html == ""  # dropped unless asked for
    assert next(iter_tasks(split_files(tmp_path, "train"), keep_raw_html=True)).actions[0].raw_html


def test_the_shipped_sample_uses_both_encodings_and_loads():
    train = json.loads((SAMPLE / "train" / "train_0.json").read_text())
    test = json.loads((SAMPLE / "test_task" / "test_task_0.json").read_text())
    assert isinstance(train[0]["actions"][0]["operation"], dict)
    assert isinstance(test[0]["actions"][0]["operation"], str)
    for split in ("train", "test_task", "test_website"):
        tasks = list(iter_tasks(split_files(SAMPLE, split)))
        assert tasks and all(t.actions and all(s.pos_ids for s in t.actions) for t in tasks)
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*.json")) < 1_000_000


def test_a_malformed_record_names_file_task_and_step(tmp_path):
    bad = _task("bad-one")
    del bad["actions"][1]["action_uid"]
    path = tmp_path / "train_3.json"
    path.write_text(json.dumps([_task("a1"), bad, _task("a3")]))
    with pytest.raises(DataError, match=r"train_3\.json: task #1 \(bad-one\), step 1: missing field 'action_uid'"):
        list(iter_tasks([path]))
    errors: list[DataError] = []
    tasks = list(iter_tasks([path], skip_bad=True, errors=errors))
    assert [t.annotation_id for t in tasks] == ["a1", "a3"]
    assert len(errors) == 1 and "bad-one" in str(errors[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["actions"][0]["operation"].update(op="DRAG"), "unknown operation 'DRAG'"),
        (lambda t: t["actions"][0]["pos_candidates"][0].update(attributes="{not json"), "attributes is a string"),
        (lambda t: t["action_reprs"].pop(), "3 actions but 2 action_reprs"),
        (lambda t: t.update(actions="[oops"), "actions is a string that is not valid JSON"),
    ],
)
def test_malformed_fields(change, message):
    task = _task()
    change(task)
    with pytest.raises(DataError, match=message):
        parse_task(task, source="f.json")


def test_invalid_json_in_one_record_is_skipped_and_reading_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "CHUNK_BYTES", 64)
    path = tmp_path / "test_task_0.json"
    path.write_text(
        "[" + json.dumps(_task("a1")) + ',\n{"annotation_id": "x", oops},\n' + json.dumps(_task("a3")) + "]"
    )
    with pytest.raises(DataError, match=r"test_task_0\.json: task #1: not valid JSON"):
        list(iter_tasks([path]))
    errors: list[DataError] = []
    assert [t.annotation_id for t in iter_tasks([path], skip_bad=True, errors=errors)] == ["a1", "a3"]
    assert len(errors) == 1
    cut = tmp_path / "cut.json"
    cut.write_text(path.read_text()[:-40])
    with pytest.raises(DataError, match="cut.json"):
        list(iter_tasks([cut]))


def test_json_lines_and_missing_splits(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(_task("a1")) + "\n" + json.dumps(_task("a2")) + "\n")
    assert [t.annotation_id for t in iter_tasks([path])] == ["a1", "a2"]
    with pytest.raises(DataError, match="no split 'test_domain'"):
        split_files(tmp_path, "test_domain")


def test_elements_from_cleaned_html():
    els = {el.id: el for el in elements_from_html(HTML)}
    assert els["4"].editable and els["4"].label == "Location" and els["4"].placeholder == "Where?"
    assert els["5"].is_select and els["5"].options == ("1 guest", "2 guests") and els["5"].selected_option == "2 guests"
    assert els["6"].text == "Search" and els["6"].interactive and els["7"].parent_id == "6"
    assert not els["8"].visible and els["4"].context == "Find a table"


def test_mindact_ranks_from_scores_and_no_code_from_pickles(tmp_path):
    import numpy as np

    path = tmp_path / "scores.pkl"
    path.write_bytes(pickle.dumps({"scores": {"a1_u1": {"4": np.float32(0.1), "5": 2.0, "6": 0.5}}}))
    assert load_ranks(path) == {"a1_u1": {"5": 0, "6": 1, "4": 2}}
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(os.system))
    with pytest.raises(DataError, match="not allowed"):
        load_ranks(evil)


# -- replay -------------------------------------------------------------------------


def test_given_ranks_decide_what_is_shown(tmp_path, store):
    path = tmp_path / "test_task" / "test_task_0.json"
    path.parent.mkdir()
    path.write_text(json.dumps([_task("a1")]))
    # MindAct ranks: step u1's positive (4) is ranked last of 3; top-2 leaves it out.
    ranks = {"a1_u1": {"5": 0, "6": 1, "4": 2}, "a1_u2": {"5": 0, "4": 1, "6": 2}, "a1_u3": {"6": 0}}
    eval_id = store.start_replay("k", split="test_task", settings={})
    replayer = Replayer(GoldPolicy(), store, eval_id, ranks=ranks, top_k=2)
    replayer.replay(iter_tasks([path]))
    rows = store.replay_steps(eval_id)
    assert [r["positive_rank"] for r in rows] == [3, 1, 1]
    assert [r["step_success"] for r in rows] == [0, 1, 1] and rows[0]["predicted"] is None
    assert rows[1]["predicted"] == 'SELECT [5] "2 guests"'
    m = replayer.metrics()
    assert m.task_sr == 0.0 and m.step_sr == pytest.approx(2 / 3) and m.recall[5] == 1.0


def _oracle_episodes(browser, miniwob_server, store, embedder, cases):
    ranker = HybridRanker(embedder)
    run_id = store.start_run(command="test", policy="oracle", model="", model_version="", seed=0, config={})
    for task, seed in cases:
        settings = AgentSettings(memory=MemorySettings(enabled=False), loop=LoopSettings(top_k=10_000))
        agent = assemble(settings, store, ranker=ranker, policy=FunctionPolicy("oracle", ORACLES[task])).agent()
        env = MiniWoBEnv(browser, miniwob_server, task)
        env.reset(seed)
        assert agent.run_episode(env, run_id=run_id, task=task, seed=seed).outcome == "success"
    return ranker


def test_round_trip_export_load_replay_with_the_oracle_scores_100(browser, miniwob_server, store, embedder, tmp_path):
    ranker = _oracle_episodes(
        browser, miniwob_server, store, embedder, [("enter-text", 0), ("choose-list", 1), ("click-checkboxes", 0)]
    )
    paths = export_mind2web(store, tmp_path / "m2w", split="test_task", json_strings=True)
    tasks = list(iter_tasks(paths))
    assert [t.website for t in tasks] == ["enter-text", "choose-list", "click-checkboxes"]
    first = tasks[0]
    stored = [s for s in store.steps(store.episode_ids()[0]) if not s["error"]]
    acted = [parse_action(r["action"]) for r in stored]
    assert [(s.operation.op, s.pos_ids[0]) for s in first.actions] == [(a.verb, a.element_id) for a in acted]
    assert first.actions[0].operation.op == "TYPE" and first.actions[0].operation.value in first.confirmed_task
    assert all(len(s.neg_candidates) >= 1 for t in tasks for s in t.actions)
    assert json.loads(json.dumps(task_json(first)))["actions"][0]["pos_candidates"][0]["tag"] == "input"
    eval_id = store.start_replay("round-trip", split="test_task", settings={})
    replayer = Replayer(GoldPolicy(), store, eval_id, ranker=ranker, top_k=50)
    replayer.replay(tasks)
    m = replayer.metrics()
    assert (m.element_acc, m.op_f1, m.step_sr, m.task_sr) == (1.0, 1.0, 1.0, 1.0)
    assert m.recall[50] == 1.0 and m.steps == sum(len(t.actions) for t in tasks)


def test_replay_resumes_after_an_interruption(store, embedder):
    ranker = HybridRanker(embedder)
    tasks = list(iter_tasks(split_files(SAMPLE, "test_task")))
    total = sum(len(t.actions) for t in tasks)

    class Interrupting(GoldPolicy):
        def __init__(self, stop_after: int | None) -> None:
            super().__init__()
            self.calls, self.stop_after = 0, stop_after

        def decide(self, *args):
            if self.stop_after is not None and self.calls >= self.stop_after:
                raise KeyboardInterrupt
            self.calls += 1
            return super().decide(*args)

    eval_id = store.start_replay("resume", split="test_task", settings={})
    first = Interrupting(stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        Replayer(first, store, eval_id, ranker=ranker).replay(tasks)
    assert len(store.replay_steps(eval_id)) == 5
    again = Interrupting(stop_after=None)
    assert store.start_replay("resume", split="test_task", settings={}) == eval_id
    replayer = Replayer(again, store, eval_id, ranker=ranker)
    assert replayer.replay(tasks) == total - 5 == again.calls
    m = replayer.metrics()
    assert m.steps == total and m.task_sr == 1.0


def test_cli_export_then_replay(browser, miniwob_server, store, embedder, tmp_path):
    from typer.testing import CliRunner

    from webagent.cli import app

    _oracle_episodes(browser, miniwob_server, store, embedder, [("click-button", 0)])
    runner = CliRunner()
    out = tmp_path / "m2w"
    result = runner.invoke(app, ["export", "--format", "mind2web", "--out", str(out), "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    args = ["replay", "--data", str(out), "--split", "train", "--policy", "oracle", "--db", str(store.path)]
    result = runner.invoke(app, [*args, "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "| train | 1 | 1 | 100.0 | 100.0 | 100.0 | 100.0 |" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["splits"]["train"]["task_sr"] == 1.0
    result = runner.invoke(app, args)  # same evaluation: nothing to replay again
    assert "1 steps resumed from the store" in result.output
    bad = runner.invoke(app, ["replay", "--data", str(out), "--split", "test_domain", "--db", str(store.path)])
    assert bad.exit_code == 2 and "no split 'test_domain'" in bad.output


def test_memory_from_the_training_split_recalls_the_same_kind_of_task(embedder):
    ranker = HybridRanker(embedder)
    train = list(iter_tasks(split_files(SAMPLE, "train")))
    memory = memory_from_tasks(train, ranker=ranker, embedder=embedder)
    outputs = [e.output for e in memory.retrieve("anything", k=len(memory))]
    gold = {f"{s.operation.op} [{s.pos_ids[0]}]" for t in train for s in t.actions}
    assert {o.split(" ", 2)[0] + " " + o.split(" ", 2)[1] for o in outputs} == gold
    for test in iter_tasks(split_files(SAMPLE, "test_task")):
        step = test.actions[0]
        pool = candidate_pool(step, elements_from_html(step.cleaned_html))
        observation = Observation(url="", title="", elements=tuple(pool))
        shown = rank_step(test, 0, pool, observation, ranker=ranker, ranks=None)[:10]
        nearest = memory.retrieve(retrieval_query(test.confirmed_task, [], shown), k=1)[0]
        same_kind = {t.annotation_id for t in train if t.website == test.website}
        assert nearest.task in same_kind, (test.website, nearest.task)


def test_memory_needs_a_model_policy(store):
    with pytest.raises(WebAgentError, match="--memory needs the model policy"):
        run_replay(SAMPLE, ["test_task"], store=store, settings=AgentSettings(), gold=True, memory_path=SAMPLE)


@pytest.mark.slow
def test_the_default_model_replays_the_sample_with_gold_history(default_model, store, embedder):
    from webagent.policy import ModelPolicy

    ranker = HybridRanker(embedder)
    policy = ModelPolicy(default_model)
    eval_id = store.start_replay("model", split="test_task", settings={})
    replayer = Replayer(policy, store, eval_id, ranker=ranker, top_k=10)
    tasks = [t for t in iter_tasks(split_files(SAMPLE, "test_task")) if t.website in ("enter-text", "choose-list")]
    replayer.replay(tasks)
    rows = store.replay_steps(eval_id)
    assert len(rows) == sum(len(t.actions) for t in tasks)
    assert all(r["predicted"] and r["error"] is None for r in rows)
    for row in rows:
        assert row["predicted"].split("[")[1].split("]")[0] in row["shown"]  # grammar: only shown ids
    for task in tasks:  # the history in the prompt is the gold previous action, whatever the model did
        second = next(r for r in rows if r["annotation_id"] == task.annotation_id and r["idx"] == 1)
        first = task.actions[0]
        assert f'1. {first.operation.op} [{first.pos_ids[0]}] "{first.operation.value}"' in second["prompt"]
    m = replayer.metrics()
    assert 0.0 <= m.step_sr <= m.element_acc <= 1.0


SITES_SAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "mind2web_sites"


def test_the_real_site_sample_is_mind2web_and_the_gold_replays_it_fully(store, embedder):
    """datasets/mind2web_sites: the scripted solutions on the site suite, exported (STOP is not
    a Mind2Web operation and is left out; Enter on a field is Mind2Web's ENTER, scored as CLICK)."""
    test = list(iter_tasks(split_files(SITES_SAMPLE, "test_task")))
    train = list(iter_tasks(split_files(SITES_SAMPLE, "train")))
    assert len(test) >= 10 and len(train) >= 40
    assert {t.confirmed_task for t in test}.isdisjoint(t.confirmed_task for t in train)
    ops = {(s.operation.op, s.operation.original_op) for t in test + train for s in t.actions}
    assert ("CLICK", "ENTER") in ops and ("TYPE", "TYPE") in ops and all(op in loader.OPS for op, _ in ops)
    eval_id = store.start_replay("sites-gold", split="test_task", settings={})
    replayer = Replayer(GoldPolicy(), store, eval_id, ranker=HybridRanker(embedder), top_k=50)
    replayer.replay(test)
    assert replayer.metrics().task_sr == 1.0
