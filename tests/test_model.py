"""The transformers backend on the real default model."""

import pytest

from webagent.actions import action_grammar, parse_action
from webagent.browser.observation import Element
from webagent.errors import ModelError
from webagent.models.base import LanguageModel
from webagent.models.transformers_lm import TransformersModel

pytestmark = pytest.mark.slow


def test_default_model_implements_the_interface(default_model):
    assert isinstance(default_model, LanguageModel)
    assert default_model.name == "SmolLM2-135M-Instruct+dev-lora-2"  # the packaged adapter merged in
    assert default_model.version.startswith("SmolLM2-135M-Instruct+dev-lora-2@")


def test_forced_spans_cost_no_forward_pass(default_model):
    """`CLICK [` and the closing bracket are forced: a single-candidate CLICK needs one model call."""
    only = [Element("17", "button", text="Go", interactive=True)]
    prompt = default_model.format_chat([{"role": "user", "content": "Click Go."}])
    generation = default_model.generate(prompt, action_grammar(only))
    assert generation.text == "CLICK [17]"
    assert generation.forward_calls <= 1
    assert generation.forced_tokens == generation.tokens


def test_greedy_is_deterministic_and_confidence_is_a_probability(default_model):
    cands = [Element("1", "button", text="Yes", interactive=True), Element("2", "button", text="No", interactive=True)]
    prompt = default_model.format_chat(
        [{"role": "user", "content": "Elements:\n[1] button Yes\n[2] button No\nClick No."}]
    )
    first = default_model.generate(prompt, action_grammar(cands))
    second = default_model.generate(prompt, action_grammar(cands))
    assert first.text == second.text
    parse_action(first.text, cands)
    assert 0.0 < first.confidence <= 1.0


def test_score_prefers_the_likely_continuation(default_model):
    prompt = default_model.format_chat([{"role": "user", "content": "What is the capital of France?"}])
    assert default_model.score(prompt, "The capital of France is Paris.") > default_model.score(
        prompt, "The capital of France is banana."
    )


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        TransformersModel(str(tmp_path / "nope"))


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        TransformersModel(str(tmp_path))
