"""One assembly: every entrance builds from `AgentSettings`, and what the agent
learned (exemplars, the active tuned version) reaches every command by default.
Real sqlite files, the real default model and embedder."""

import pytest

from webagent.assembly import assemble
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate, HybridRanker
from webagent.errors import DataError
from webagent.memory import Exemplar, ExemplarMemory
from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings
from webagent.supervision import OracleSupervisor


def test_bad_settings_fail_before_anything_loads():
    with pytest.raises(DataError, match="choose one of plain, speculative, smc"):
        ModelSettings(decoding="fast")
    with pytest.raises(DataError, match="top-k must be at least 1"):
        LoopSettings(top_k=0)
    with pytest.raises(DataError, match="unknown supervisor 'boss'"):
        AgentSettings(supervisor="boss")
    with pytest.raises(DataError, match="model version must be"):
        ModelSettings(version="latest")


def test_supervised_and_unsupervised_agents_share_the_parts(store, embedder):
    from webagent.policy import RankerTopPolicy

    oracle = OracleSupervisor(lambda instruction, observation, history: None)
    parts = assemble(AgentSettings(policy="ranker"), store, ranker=HybridRanker(embedder), supervisor=oracle)
    trainer, evaluator = parts.agent(), parts.agent(supervised=False)
    assert trainer.supervisor is parts.approver and evaluator.supervisor is None
    assert trainer.policy is evaluator.policy and isinstance(parts.policy, RankerTopPolicy)
    assert [type(o).__name__ for o in trainer.observers] == ["StepRecorder", "Teacher"]
    assert [type(o).__name__ for o in evaluator.observers] == ["StepRecorder"]
    run_id = parts.start_run("test")
    config = store.run(run_id)["config"]
    assert config["supervisor"] == "oracle" and config["settings"]["policy"] == "ranker"


def test_stored_exemplars_reach_the_prompt_by_default(store, embedder, default_model):
    button = Element("3", "button", text="Submit", interactive=True)
    observation = Observation("http://x/", "t", (button,))
    remembered = Exemplar("Click Submit\ndone: nothing yet\nbutton Submit", "REMEMBERED STATE", "CLICK [7]")
    ExemplarMemory(store, embedder).add(remembered)
    candidates = [Candidate(button, 1.0)]

    def prompt(settings):
        policy = assemble(settings, store, model=default_model, ranker=HybridRanker(embedder)).policy
        return policy.prompt("Click Submit", observation, candidates, [])

    assert "REMEMBERED STATE" in prompt(AgentSettings())
    assert "REMEMBERED STATE" not in prompt(AgentSettings(memory=MemorySettings(enabled=False)))


def test_the_active_tuned_version_is_used_unless_base_is_asked(tmp_path, embedder):
    import torch

    from webagent.models.transformers_lm import TransformersModel
    from webagent.store import Store

    store = Store(tmp_path / "versions.db")
    base = TransformersModel("default", dtype="float32")
    name = base.name  # versions are kept per model: the default one has the packaged adapter merged
    update = {"seed": 7, "projected_grad": 50.0, "lr": 1e-3, "eps": 1e-3, "loss_plus": 1.0, "loss_minus": 0.9}
    store.add_model_version(model=name, version=0, parent=None, method="base", param_set="", updates=[], status="kept")
    store.add_model_version(
        model=name, version=1, parent=0, method="mezo", param_set="last:2", updates=[update], status="active"
    )
    ranker = HybridRanker(embedder)
    before = {n: p.detach().clone() for n, p in base.model.named_parameters()}
    assemble(AgentSettings(model=ModelSettings(version="base")), store, model=base, ranker=ranker)
    assert base.version.endswith("@base")
    parts = assemble(AgentSettings(), store, model=base, ranker=ranker)
    assert parts.policy.version.endswith("@v1") and parts.describe()["stored_version"] == 1
    changed = [n for n, p in base.model.named_parameters() if not torch.equal(p, before[n])]
    assert changed, "version 1's update did not reach the weights"
    with pytest.raises(DataError, match="no version 5"):
        assemble(
            AgentSettings(model=ModelSettings(version="5")),
            store,
            model=TransformersModel("default", dtype="float32"),
            ranker=ranker,
        )


def test_a_stored_decision_head_version_reaches_the_agent(tmp_path, embedder):
    """A head:R version is carried by the live model (it cannot be merged): assembling
    gives the model its head, rebuilt from the version's seeds."""
    from webagent.learning.decision import HEAD_NAME
    from webagent.models.transformers_lm import TransformersModel
    from webagent.store import Store

    base = TransformersModel("default", dtype="float32")
    store = Store(tmp_path / "versions.db")
    update = {"seed": 7, "projected_grad": 50.0, "lr": 1e-3, "eps": 1e-3, "loss_plus": 1.0, "loss_minus": 0.9}
    for version, param_set, updates in ((0, "", []), (1, "head:8", [update])):
        store.add_model_version(
            model=base.name, version=version, parent=version - 1 if version else None,
            method="mezo" if version else "base", param_set=param_set, updates=updates,
            status="active" if version else "kept",
        )  # fmt: skip
    parts = assemble(AgentSettings(), store, model=base, ranker=HybridRanker(embedder))
    assert parts.policy.version.endswith("@v1")
    head = getattr(base.model.get_decoder().norm, HEAD_NAME)
    assert head.A.shape[0] == 8 and head.B.abs().sum() > 0
