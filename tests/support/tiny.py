"""A tiny randomly initialised Llama and a byte tokenizer: enough for the learning
code's mechanics (objectives, parameter sets, checkpoints) without the real model."""

from __future__ import annotations


class CharTokenizer:
    """Bytes as tokens; the objectives only encode and need EOS and padding."""

    eos_token_id = 256
    pad_token_id = 257

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": list(text.encode())}


def tiny_llama(layers: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=260,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()
