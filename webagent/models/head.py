"""The next token's logits for the tokens the grammar allows, in float32.

A constrained decision never needs the logits of the whole vocabulary: the
grammar allows a handful of tokens at each choice (the verbs, the shown ids,
spans of the instruction). Computing only their rows of the output layer does
two things for a model held in bfloat16:

- it is exact where it matters: bfloat16 logits step by 1/8 around 20, so two
  ids a hundredth apart tie and the lower token id wins; the allowed rows are
  multiplied in float32 (from the last hidden state, upcast), and the decision
  follows the model rather than the rounding;
- it is cheaper: the output layer of SmolLM2-135M is 28M of its 135M weights,
  read in full by every decoding step, which is bound by memory on a CPU.

It applies to causal LMs whose logits are exactly `lm_head(final hidden state)`
(a bias-free linear layer, no soft-capping or scaling); for any other, `Head.of`
gives None and decoding reads the model's own logits.
"""

from __future__ import annotations

from dataclasses import dataclass

# Config attributes that change logits after the output layer: where present, the model's own logits are used.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


@dataclass(frozen=True)
class Head:
    body: object  # the model without its output layer (transformers' get_decoder())
    weight: object  # the output layer's weight, (vocab, hidden): the live tensor, so tuning shows at once

    @classmethod
    def of(cls, model) -> Head | None:
        import torch

        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        body = model.get_decoder() if hasattr(model, "get_decoder") else None
        config = getattr(model, "config", None)
        if not isinstance(head, torch.nn.Linear) or head.bias is not None or body is None or body is model:
            return None
        if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
            return None
        return cls(body, head.weight)

    def forward(self, input_ids, past):
        """Run the body on `input_ids` after `past`: (last hidden state as float32, the extended cache)."""
        out = self.body(input_ids=input_ids, past_key_values=past, use_cache=True)
        return out.last_hidden_state[0, -1].float(), out.past_key_values

    def logits(self, hidden, allowed):
        """Float32 logits of the `allowed` token ids (a 1-D LongTensor), in that order."""
        return self.weight[allowed].float() @ hidden


def allowed_tokens(bitmask_row, vocab_size: int):
    """The token ids a packed llguidance bitmask row (int32 words, bit i of word w is token 32w + i) allows."""
    import torch

    shifts = torch.arange(32, dtype=torch.int32)
    bits = (bitmask_row.unsqueeze(1) >> shifts) & 1  # arithmetic shift: the sign bit unpacks right too
    ids = torch.nonzero(bits.reshape(-1), as_tuple=True)[0]
    return ids[ids < vocab_size]
