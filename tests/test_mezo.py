"""MeZO, parameter sets, checkpoints as seeds, the guard and the background tuner.

The fast tests use plain tensors and a tiny randomly initialised Llama (same code
paths, milliseconds); the slow ones use the real default model on confirmed steps
from the MiniWoB++ oracles.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time

import pytest
import torch
from support.tiny import CharTokenizer, tiny_llama

from webagent.errors import DataError
from webagent.learning.checkpoints import (
    TensorSnapshot,
    rebuild,
    replay,
    updates_from_json,
    updates_to_json,
)
from webagent.learning.mezo import MezoUpdate, apply_update, mezo_step
from webagent.learning.objective import Objective, TrainingExample, examples_from_feedback, reward_objective
from webagent.learning.params import copy_into, plain_tensors, select_parameters

# -- fast: the step itself ---------------------------------------------------------


def _tensors(seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(300, 200), (7,)]
    return [(f"t{i}", torch.nn.Parameter(torch.randn(shape, generator=g))) for i, shape in enumerate(shapes)]


def test_perturbation_round_trip_restores_weights_and_estimates_the_directional_derivative():
    params = _tensors()
    before = [p.detach().clone() for _, p in params]
    coef = [torch.randn(p.shape, generator=torch.Generator().manual_seed(9)) for _, p in params]
    seen = []

    def loss() -> float:  # linear, so L+ - L- = 2 eps <coef, z> exactly (up to float rounding)
        seen.append(max(float((p.detach() - b).abs().max()) for (_, p), b in zip(params, before, strict=True)))
        return float(sum((c * p.detach()).sum() for c, (_, p) in zip(coef, params, strict=True)))

    eps = 1e-3
    update = mezo_step(params, loss, seed=1234, eps=eps, lr=0.0)
    # The weights moved by eps*z during each evaluation (|z| reaches ~4 over 60k draws) ...
    assert len(seen) == 2 and all(2 * eps < s < 6 * eps for s in seen)
    # ... and are back to within float rounding afterwards.
    for (_, p), b in zip(params, before, strict=True):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-6)
    gen = torch.Generator().manual_seed(1234)
    z = [torch.randn(p.shape, generator=gen) for _, p in params]
    expected = float(sum((c * zi).sum() for c, zi in zip(coef, z, strict=True)))
    assert update.projected_grad == pytest.approx(expected, rel=2e-2)


def test_seeded_step_is_reproducible_and_replays_bit_exactly():
    def quadratic(params):
        return lambda: float(sum(((p.detach() - 0.5) ** 2).sum() for _, p in params))

    a, b, c, other = _tensors(), _tensors(), _tensors(), _tensors()
    ua = mezo_step(a, quadratic(a), seed=7, eps=1e-3, lr=1e-6)
    ub = mezo_step(b, quadratic(b), seed=7, eps=1e-3, lr=1e-6)
    uo = mezo_step(other, quadratic(other), seed=8, eps=1e-3, lr=1e-6)
    assert ua == ub and ua != uo
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))
    assert not torch.equal(a[0][1], other[0][1])
    # Replaying the stored numbers alone (no loss evaluated) lands on the same bits.
    apply_update(c, updates_from_json(updates_to_json([ua]))[0])
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a, c, strict=True))
    # The step moved the weights downhill (to first order it always does: -lr * g^2).
    assert quadratic(a)() < quadratic(_tensors())()


def test_a_clipped_step_caps_the_projected_gradient_and_still_replays_exactly():
    def steep(params):  # |g| in the hundreds: far past the cap
        return lambda: float(sum((1e3 * p.detach()).sum() for _, p in params))

    a, b, c = _tensors(), _tensors(), _tensors()
    free = mezo_step(b, steep(b), seed=3, eps=1e-3, lr=1e-6)
    capped = mezo_step(a, steep(a), seed=3, eps=1e-3, lr=1e-6, clip=2.0)
    assert abs(free.projected_grad) > 2.0 and capped.projected_grad == math.copysign(2.0, free.projected_grad)
    apply_update(c, updates_from_json(updates_to_json([capped]))[0])
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a, c, strict=True))


def test_reward_objective_is_a_loss_for_mezo():
    params = _tensors()
    target = torch.zeros(7)
    loss = reward_objective(lambda: -float(((params[1][1].detach() - target) ** 2).sum()))
    start = loss()
    for seed in range(30):
        mezo_step(params[1:], loss, seed=seed, eps=1e-3, lr=2e-3)
    assert loss() < 0.9 * start


def test_feedback_rows_become_examples():
    rows = [
        {"id": 1, "kind": "confirm", "prompt": "p1", "proposed": "CLICK [1]", "action": "CLICK [1]"},
        {"id": 2, "kind": "correct", "prompt": "p2", "proposed": "CLICK [1]", "action": "CLICK [2]"},
        {"id": 3, "kind": "reject", "prompt": "p3", "proposed": "CLICK [3]", "action": ""},
        {"id": 4, "kind": "confirm", "prompt": "", "proposed": "CLICK [1]", "action": "CLICK [1]"},
    ]
    assert examples_from_feedback(rows) == [
        TrainingExample("p1", "CLICK [1]"),
        TrainingExample("p2", "CLICK [2]", "CLICK [1]"),
        TrainingExample("p3", None, "CLICK [3]"),
    ]
    with pytest.raises(DataError, match="unknown kind"):
        examples_from_feedback([{"id": 5, "kind": "maybe", "prompt": "p", "action": "x"}])


# -- fast: a tiny Llama --------------------------------------------------------------


@pytest.fixture
def tiny():
    return tiny_llama(4)


TINY_EXAMPLES = [
    TrainingExample("Click the OK button. [1] OK [2] Cancel ->", "CLICK [1]"),
    TrainingExample("Type Bob. [4] name ->", 'TYPE [4] "Bob"', "CLICK [4]"),
    TrainingExample("Press Cancel. [1] OK ->", None, "CLICK [1]"),
]


def test_parameter_sets(tiny):
    names = {spec: [n for n, _ in select_parameters(copy.deepcopy(tiny), spec)] for spec in ("all", "norms", "last:1")}
    assert len(names["all"]) == len(list(tiny.parameters()))
    assert names["norms"] and all("norm" in n for n in names["norms"])
    assert names["last:1"] and all(n.startswith("model.layers.3.") for n in names["last:1"])
    lora = copy.deepcopy(tiny)
    adapter = select_parameters(lora, "lora:4")
    assert adapter and all("lora_" in n and ("q_proj" in n or "v_proj" in n) for n, _ in adapter)
    assert [n for n, _ in select_parameters(lora, "lora:4")] == [n for n, _ in adapter]  # injected once
    with pytest.raises(DataError, match="unknown parameter set"):
        select_parameters(tiny, "some")
    with pytest.raises(DataError, match="asks for 9 blocks"):
        select_parameters(tiny, "last:9")


def test_cached_prefix_gives_the_full_forward_loss(tiny):
    tok = CharTokenizer()
    full = Objective(tiny, tok, TINY_EXAMPLES, batch_size=2)
    params = select_parameters(tiny, "last:1")
    cache: dict = {}
    cached = Objective(tiny, tok, TINY_EXAMPLES, params=params, batch_size=2, prefix_cache=cache)
    assert cached._split == 3 and len(cache) == 4  # four sequences: three prompts, one with two continuations
    assert cached.loss() == pytest.approx(full.loss(), rel=1e-5)
    assert cached.nll() == pytest.approx(full.nll(), rel=1e-5)
    # Trainable weights change the loss through the cached path too.
    old = cached.loss()
    with torch.no_grad():
        for _, p in params:
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.5)
    assert cached.loss() != pytest.approx(old, rel=1e-3)
    assert cached.loss() == pytest.approx(Objective(tiny, tok, TINY_EXAMPLES, batch_size=3).loss(), rel=1e-5)


@pytest.mark.parametrize("spec", ["last:2", "lora:4", "norms", "head:4"])
def test_rebuilt_from_seeds_equals_the_trained_model(tiny, spec, tmp_path):
    tok = CharTokenizer()
    shadow = copy.deepcopy(tiny)
    params = select_parameters(shadow, spec)
    objective = Objective(shadow, tok, TINY_EXAMPLES, params=params, batch_size=2)
    updates = [mezo_step(params, objective.loss, seed=s, eps=1e-2, lr=1e-2) for s in range(5)]
    live = copy.deepcopy(tiny)
    copy_into(live, plain_tensors(shadow, params))
    stored = updates_from_json(updates_to_json(updates))
    rebuilt = rebuild(tiny, spec, stored)
    live_state, rebuilt_state = live.state_dict(), rebuilt.state_dict()
    assert live_state.keys() == rebuilt_state.keys()
    assert all(torch.equal(live_state[k], rebuilt_state[k]) for k in live_state)
    ids = torch.tensor([list(b"CLICK [1]")])
    with torch.no_grad():
        assert not torch.allclose(live(ids).logits, tiny(ids).logits)  # the steps changed what it computes


def test_tensor_snapshots_replay(tiny, tmp_path):
    from webagent.learning.checkpoints import save_tensors

    params = select_parameters(copy.deepcopy(tiny), "last:1")
    with torch.no_grad():
        for _, p in params:
            p.add_(1.0)
    save_tensors(params, tmp_path / "v1.safetensors")
    entries = [TensorSnapshot("v1.safetensors"), MezoUpdate(3, 0.5, 1e-3, 1e-3, 1.0, 0.9)]
    rebuilt = rebuild(tiny, "last:1", updates_from_json(updates_to_json(entries)), root=tmp_path)
    expected = copy.deepcopy(tiny)
    again = select_parameters(expected, "last:1")
    replay(again, [TensorSnapshot("v1.safetensors"), entries[1]], root=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.parameters(), expected.parameters(), strict=True))
    with pytest.raises(DataError, match="pass the folder"):
        rebuild(tiny, "last:1", entries)


def test_backprop_trains_only_the_chosen_parameters(tiny):
    from webagent.learning.backprop import backprop_train

    tok = CharTokenizer()
    params = select_parameters(tiny, "last:1")
    chosen = {n for n, _ in params}
    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    objective = Objective(tiny, tok, TINY_EXAMPLES, params=params, batch_size=3)
    start = objective.loss()
    losses = backprop_train(params, objective, steps=10, lr=1e-2)
    assert len(losses) == 10 and objective.loss() < start
    for name, p in tiny.named_parameters():
        assert torch.equal(p, before[name]) != (name in chosen)
        assert p.grad is None


class TinyLM:
    """What the tuner needs of a TransformersModel, over the tiny Llama."""

    def __init__(self, module) -> None:
        import threading

        self.model, self.tokenizer, self.name = module, CharTokenizer(), "tiny"
        self.version = "tiny@base"
        self.lock = threading.RLock()

    def weights_changed(self, version: str) -> None:
        self.version = version


def test_backprop_rounds_are_stored_as_tensor_files_and_restored(tiny, store):
    from webagent.learning.tuner import OnlineTuner, TunerConfig

    for ex in TINY_EXAMPLES * 3:
        store.add_feedback(
            episode_id=None, step_id=None, kind="correct" if ex.negative else "confirm", proposed=ex.negative or "",
            action=ex.target or "", source="oracle", prompt=ex.prompt,
        )  # fmt: skip
    lm = TinyLM(tiny)
    base = {k: v.clone() for k, v in tiny.state_dict().items()}
    config = TunerConfig(method="backprop", param_set="last:1", steps_per_round=5, lr=1e-2, guard_tolerance=100.0)
    tuner = OnlineTuner(lm, store, config)
    result = tuner.run_round()
    assert result is not None and result.kept and lm.version == "tiny@v1"
    row = store.model_versions("tiny")[1]
    assert row["method"] == "backprop" and row["updates"] == [{"tensors": "tiny-v1.safetensors"}]
    assert (tuner.tensor_dir / "tiny-v1.safetensors").exists()
    tuned = {k: v.clone() for k, v in tiny.state_dict().items()}
    assert any(not torch.equal(tuned[k], base[k]) for k in base)
    tuner.rollback(0)
    assert lm.version == "tiny@base" and all(torch.equal(v, base[k]) for k, v in tiny.state_dict().items())
    tuner.rollback(1)
    assert lm.version == "tiny@v1" and all(torch.equal(v, tuned[k]) for k, v in tiny.state_dict().items())
    with pytest.raises(DataError, match="tuned last:1"):
        OnlineTuner(TinyLM(copy.deepcopy(tiny)), store, TunerConfig(param_set="norms")).rollback(1)


# -- slow: the real default model on real confirmed steps ------------------------------


TASKS = ["enter-text", "click-option"]


@pytest.fixture(scope="module")
def model():
    """A private copy of the base model (no adapter, as `base_module`): these tests change its weights."""
    from webagent.models.transformers_lm import TransformersModel

    return TransformersModel("default", dtype="float32", adapter="none")


@pytest.fixture(scope="module")
def base_module():
    """The base weights, loaded separately: what checkpoints rebuild from."""
    from webagent.models.loading import load

    return load("default")[2]


def _reset_to_base(model, base_module) -> None:
    """Put the shared test model back on its base weights (after a failed test)."""
    if not model.version.endswith("@base"):
        copy_into(model.model, dict(base_module.named_parameters()))
        model.version = f"{model.name}@base"


@pytest.fixture(scope="module")
def confirmed(model, browser_session, miniwob_server, embedder):
    """Confirmed steps from the oracles: (train, held-out seeds)."""
    from webagent.candidates import HybridRanker
    from webagent.learning.oracle_set import oracle_examples

    ranker = HybridRanker(embedder)
    train = oracle_examples(browser_session, miniwob_server, model, ranker, TASKS, [0, 1, 2])
    held = oracle_examples(browser_session, miniwob_server, model, ranker, TASKS, [100, 101])
    assert len(train) >= 6 and len(held) >= 4
    return train, held


def _record(store, examples) -> None:
    for ex in examples:
        store.add_feedback(
            episode_id=None, step_id=None, kind="confirm", proposed=ex.target, action=ex.target, source="oracle",
            prompt=ex.prompt,
        )  # fmt: skip


@pytest.mark.slow
def test_mezo_reduces_the_loss_on_confirmed_steps(model, confirmed):
    from webagent.learning.tuner import DEFAULT_EPS, DEFAULT_LR, DEFAULT_PARAM_SET

    train, held = confirmed
    shadow = copy.deepcopy(model.model)
    params = select_parameters(shadow, DEFAULT_PARAM_SET)
    objective = Objective(shadow, model.tokenizer, train, params=params, batch_size=8)
    held_out = Objective(shadow, model.tokenizer, held, params=params, batch_size=8)
    # The cached prefix gives the full forward pass's loss.
    pair = Objective(shadow, model.tokenizer, train[:2], params=params, prefix_cache=objective.prefix_cache)
    assert pair.loss() == pytest.approx(Objective(shadow, model.tokenizer, train[:2]).loss(), rel=1e-4)
    before, held_before = objective.loss(), held_out.nll()
    batches = len(objective.batches)
    for step in range(30):
        batch = step % batches
        mezo_step(params, lambda b=batch: objective.loss(b), seed=step, eps=DEFAULT_EPS, lr=DEFAULT_LR["mezo"])
    after, held_after = objective.loss(), held_out.nll()
    assert after < 0.97 * before, (before, after)
    assert held_after < held_before, (held_before, held_after)


@pytest.mark.slow
def test_background_round_leaves_the_model_free_and_its_seeds_rebuild_it(model, base_module, confirmed, store):
    from webagent.learning.tuner import OnlineTuner, TunerConfig

    _reset_to_base(model, base_module)
    train, _ = confirmed
    _record(store, train)
    config = TunerConfig(steps_per_round=20, min_new_feedback=len(train), guard_tolerance=10.0)
    tuner = OnlineTuner(model, store, config)
    try:
        start_version = model.version
        tuner.notify()
        decoded_during_round = 0
        deadline = time.monotonic() + 600
        while tuner.busy and time.monotonic() < deadline:
            # The agent's side: take the lock and decode, as a step would.
            assert model.lock.acquire(timeout=5.0), "the tuner held model.lock while computing"
            try:
                model.generate("Pick a letter.", 'start: "a" | "b"\n', max_tokens=2)
            finally:
                model.lock.release()
            decoded_during_round += tuner.busy
        assert tuner.wait_idle(timeout=600) and tuner.last_error is None
        assert decoded_during_round >= 2
    finally:
        tuner.close()
    assert model.version == f"{model.name}@v1" != start_version
    versions = {r["version"]: r for r in store.model_versions(model.name)}
    assert versions[0]["status"] == "kept" and versions[1]["status"] == "active"
    row = versions[1]
    assert row["metrics"]["steps"] == 20 and len(row["updates"]) == 20
    # Checkpoints as seeds: the stored list rebuilds the live weights exactly, from the base.
    rebuilt = rebuild(base_module, row["param_set"], updates_from_json(row["updates"]))
    live = model.model.state_dict()
    assert all(torch.equal(t, live[k]) for k, t in rebuilt.state_dict().items())
    assert not all(torch.equal(t, live[k]) for k, t in base_module.state_dict().items())
    tuner.rollback(0)
    assert model.version == f"{model.name}@base"
    assert all(torch.equal(t, live[k]) for k, t in base_module.state_dict().items())


@pytest.mark.slow
def test_guard_rolls_back_harm_and_keeps_help(model, base_module, confirmed, store):
    from webagent.learning.tuner import OnlineTuner, TunerConfig

    _reset_to_base(model, base_module)
    train, held = confirmed
    _record(store, train + held)
    tuner = OnlineTuner(model, store, TunerConfig(steps_per_round=2, lr=1e-2, holdout_fraction=0.3))
    live_before = {k: v.clone() for k, v in model.model.state_dict().items()}
    harmful = tuner.run_round()
    assert harmful is not None and harmful.status == "rolled-back"
    assert not harmful.metrics["holdout_nll_after"] <= harmful.metrics["holdout_nll_before"]
    assert model.version == f"{model.name}@base"
    assert all(torch.equal(v, live_before[k]) for k, v in model.model.state_dict().items())
    # A sensible round on the same tuner starts from the restored weights, helps, and is kept.
    tuner.config = dataclasses.replace(tuner.config, steps_per_round=30, lr=None)
    helpful = tuner.run_round()
    assert helpful is not None and helpful.status == "active", helpful.metrics
    assert helpful.metrics["holdout_nll_before"] == harmful.metrics["holdout_nll_before"]
    assert helpful.metrics["holdout_nll_after"] < helpful.metrics["holdout_nll_before"]
    assert model.version == f"{model.name}@v{helpful.version}"
    rows = {r["version"]: r for r in store.model_versions(model.name)}
    assert {v: r["status"] for v, r in rows.items()} == {0: "kept", 1: "rolled-back", 2: "active"}
    assert len(rows[1]["updates"]) == 2 and len(rows[2]["updates"]) == 30  # only kept steps carry over
    tuner.rollback(0)
    assert model.version == f"{model.name}@base"
    assert all(torch.equal(v, live_before[k]) for k, v in model.model.state_dict().items())


@pytest.mark.slow
def test_a_decision_head_round_changes_decisions_and_rebuilds_from_seeds(model, base_module, confirmed, store):
    """MeZO on the decision head (param set head:R) moves greedy choices among the shown
    elements, reaches the live model, and its seeds rebuild it."""
    from webagent.learning.decision import HEAD_NAME, DecisionObjective
    from webagent.learning.tuner import OnlineTuner, TunerConfig

    _reset_to_base(model, base_module)
    train, _ = confirmed
    _record(store, train)
    tuner = OnlineTuner(model, store, TunerConfig(param_set="head:8", holdout_fraction=0.0))  # 2000 steps
    result = tuner.run_round()
    assert result is not None and result.kept, result.metrics
    m = result.metrics
    assert m["train_loss_after"] < m["train_loss_before"]
    assert len(store.model_versions(model.name)[-1]["updates"]) == 2000
    assert m["decision_accuracy_after"] > m["decision_accuracy_before"], m
    # The live model carries the head and decides with it.
    live = DecisionObjective(model.model, model.tokenizer, train)
    assert live.accuracy() == pytest.approx(m["decision_accuracy_after"])
    rebuilt = rebuild(base_module, "head:8", updates_from_json(store.model_versions(model.name)[-1]["updates"]))
    state = model.model.state_dict()
    assert all(torch.equal(t, state[k]) for k, t in rebuilt.state_dict().items())
    tuner.rollback(0)  # back to the identity
    assert not getattr(model.model.model.norm, HEAD_NAME).B.any()
    assert DecisionObjective(model.model, model.tokenizer, train).accuracy() == pytest.approx(
        m["decision_accuracy_before"]
    )
