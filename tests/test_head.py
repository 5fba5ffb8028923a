"""The allowed tokens' logits in float32 (webagent.models.head): unpacking the
grammar's bitmask, which models qualify, and on the real models the same
decisions as the model's own logits."""

import dataclasses

import pytest
import torch

from webagent.actions import action_grammar
from webagent.browser.observation import Element
from webagent.models.head import Head, allowed_tokens


def test_a_packed_bitmask_unpacks_to_its_token_ids_sign_bit_included():
    ids = [0, 5, 31, 32, 63, 64, 95]
    words = [0, 0, 0]
    for i in ids:
        words[i // 32] |= 1 << (i % 32)
    row = torch.tensor([w - (1 << 32) if w >= 1 << 31 else w for w in words], dtype=torch.int32)  # as int32
    assert allowed_tokens(row, vocab_size=96).tolist() == ids
    assert allowed_tokens(row, vocab_size=64).tolist() == [0, 5, 31, 32, 63]  # padding bits past the vocabulary


class _Body(torch.nn.Module):
    pass


class _LM(torch.nn.Module):
    def __init__(self, bias: bool = False, **config) -> None:
        super().__init__()
        self.model = _Body()
        self.lm_head = torch.nn.Linear(4, 10, bias=bias)
        self.config = type("Config", (), config)()

    def get_output_embeddings(self):
        return self.lm_head

    def get_decoder(self):
        return self.model


def test_only_models_whose_logits_are_the_plain_output_layer_qualify():
    assert Head.of(_LM()) is not None
    assert Head.of(_LM(bias=True)) is None
    assert Head.of(_LM(final_logit_softcapping=30.0)) is None
    assert Head.of(_LM(logit_scale=0.0625)) is None
    assert Head.of(_LM(logit_scale=1.0)) is not None
    assert Head.of(torch.nn.Linear(2, 2)) is None


@pytest.mark.parametrize("fixture", ["base_model", "default_model"])
def test_the_head_s_logits_are_the_model_s_own_to_its_rounding(fixture, request):
    model = request.getfixturevalue(fixture)
    head = model._decoder.head
    assert head is not None  # SmolLM2 qualifies
    ids = torch.tensor([model._encode(model.format_chat([{"role": "user", "content": "Press the Submit button."}]))])
    allowed = torch.tensor([0, 17, 1000, 20000, 49151])
    with torch.inference_mode():
        hidden, _ = head.forward(ids, None)
        mine = head.logits(hidden, allowed)
        own = model.model(input_ids=ids).logits[0, -1, allowed].float()
    # bfloat16 logits step by 1/8 around 20: the head computes them in float32 instead.
    tolerance = 1e-3 if model.dtype == "float32" else 0.25
    assert mine.tolist() == pytest.approx(own.tolist(), abs=tolerance)


def test_decisions_with_the_head_are_those_of_the_model_s_own_logits(base_model):
    model = base_model  # float32: the same numbers but for the order of a sum
    own_logits = dataclasses.replace(model._decoder, head=None)
    buttons = [Element(str(i), "button", text=t, interactive=True) for i, t in enumerate(["Cancel", "Submit", "Help"])]
    grammar = action_grammar(buttons)
    prompts = [
        model.format_chat([{"role": "user", "content": f"Press the {word} button.\n" + "\n".join(lines)}])
        for word in ("Submit", "Cancel", "Help")
        for lines in (["[0] Cancel", "[1] Submit", "[2] Help"], ["[2] Help", "[1] Submit", "[0] Cancel"])
    ]
    kept, kept_prefix = model._decoder, model.prefix
    try:
        with_head = [model.generate(p, grammar) for p in prompts]
        model._decoder, model.prefix = own_logits, type(model.prefix)(0)
        without = [model.generate(p, grammar) for p in prompts]
    finally:
        model._decoder, model.prefix = kept, kept_prefix
    assert [g.text for g in with_head] == [g.text for g in without]
    assert [g.logprob for g in with_head] == pytest.approx([g.logprob for g in without], abs=1e-3)
