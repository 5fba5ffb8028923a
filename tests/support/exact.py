"""Exact output distributions of a small grammar, by enumerating its decoding tree.

For a grammar with a finite language of a few dozen strings, every state the
constrained decoder can reach is enumerated (forced spans collapsed, as the
decoder takes them), the model's logits are computed once for every prefix
(level by level, one batched pass per level over a shared prompt cache), and
two distributions over the final strings follow exactly:

- `masked`: what plain constrained decoding samples (each choice from the
  model's distribution renormalised over the allowed tokens; forced tokens free);
- `conditioned`: the model's distribution conditioned on its output lying in
  the grammar (every token at its model probability, EOS at the end).

`TableSource` replays the cached logits through the `LogitsSource` interface,
so samplers run thousands of times on real model numbers in seconds. This is
the reference the speculative and SMC samplers are tested against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from webagent.errors import GrammarError, ModelError
from webagent.models.streams import Masker, ModelBatch, new_matcher


@dataclass
class Node:
    """A choice point of the decoder (or the end): the tokens so far, forced spans included."""

    seq: tuple[int, ...]
    parent: int  # index of the parent node, -1 for the root
    allowed: object  # bool tensor of the allowed next tokens; None once stopped
    stopped: bool
    accepting: bool

    def children_tokens(self, eos_token_id: int) -> list[int]:
        if self.allowed is None:
            return []
        return [int(t) for t in self.allowed.nonzero().flatten() if int(t) != eos_token_id]


def explore(ll_tokenizer, grammar: str, *, eos_token_id: int, vocab_size: int, max_nodes: int = 5000) -> list[Node]:
    """Every decoder state of `grammar`, parents before children."""
    matcher = new_matcher(ll_tokenizer, grammar)
    masker = Masker(vocab_size)
    nodes: list[Node] = []
    frontier: list[tuple[tuple[int, ...], int]] = [((), -1)]  # (tokens to replay, parent index)
    # Breadth first, replaying each path into one matcher (reset + consume) to stay simple.
    while frontier:
        if len(nodes) + len(frontier) > max_nodes:
            raise GrammarError(f"the grammar's decoding tree has more than {max_nodes} states; not enumerable")
        next_frontier = []
        for chosen, parent in frontier:
            matcher.reset()
            if chosen and not matcher.consume_tokens(list(chosen)):
                raise GrammarError(f"replaying {chosen} failed: {matcher.get_error()}")
            forced = matcher.compute_ff_tokens()
            if forced and not matcher.consume_tokens(forced):
                raise GrammarError(f"grammar rejected its own forced tokens: {matcher.get_error()}")
            seq = tuple(chosen) + tuple(forced)
            stopped = matcher.is_stopped()
            node = Node(seq, parent, None if stopped else masker.allowed(matcher), stopped, matcher.is_accepting())
            nodes.append(node)
            for token in node.children_tokens(eos_token_id):
                next_frontier.append((seq + (token,), len(nodes) - 1))
        frontier = next_frontier
    return nodes


def model_table(model, prompt_ids: Sequence[int], nodes: list[Node], vocab_size: int) -> dict[tuple[int, ...], object]:
    """The model's next-token logits after every prefix the tree needs (level by level)."""
    source = ModelBatch(model, prompt_ids, vocab_size)
    table: dict[tuple[int, ...], object] = {}
    level = [i for i, n in enumerate(nodes) if n.parent < 0]
    while level:
        starts = [len(nodes[nodes[i].parent].seq) + 1 if nodes[i].parent >= 0 else 0 for i in level]
        keeps = [len(nodes[i].seq) - s + 1 for i, s in zip(level, starts, strict=True)]
        rows = source.logits([list(nodes[i].seq) for i in level], keeps)
        for i, s, r in zip(level, starts, rows, strict=True):
            for j in range(r.shape[0]):
                table[nodes[i].seq[: s + j]] = r[j].clone()
        members = set(level)
        level = [i for i, n in enumerate(nodes) if n.parent in members]
    return table


class TableSource:
    """`LogitsSource` over a precomputed table of logits."""

    def __init__(self, table: dict[tuple[int, ...], object], vocab_size: int) -> None:
        self.table = table
        self.vocab_size = vocab_size
        self.calls = 0

    def logits(self, seqs: Sequence[Sequence[int]], keep: Sequence[int]) -> list:
        import torch

        self.calls += 1
        out = []
        for seq, k in zip(seqs, keep, strict=True):
            seq = tuple(seq)
            try:
                out.append(torch.stack([self.table[seq[: len(seq) - k + 1 + j]] for j in range(k)]))
            except KeyError as exc:
                raise ModelError(f"prefix {exc.args[0]} is not in the table") from exc
        return out


@dataclass(frozen=True)
class ExactDistributions:
    masked: dict[str, float]  # plain constrained decoding's output distribution
    conditioned: dict[str, float]  # the model's distribution conditioned on the grammar


def exact_distributions(
    nodes: list[Node], table: dict, *, eos_token_id: int, detokenize, temperature: float = 1.0
) -> ExactDistributions:
    """Both output distributions over strings, from the tree and the logits table."""
    import torch

    t = temperature if temperature > 0 else 1.0
    masked_lp = [0.0] * len(nodes)
    full_lp = [0.0] * len(nodes)
    masked: dict[str, float] = {}
    conditioned: dict[str, float] = {}

    def log_softmax(prefix):
        return torch.log_softmax(table[prefix] / t, dim=-1)

    def masked_logps(node: Node):
        return torch.log_softmax(table[node.seq].masked_fill(~node.allowed, float("-inf")) / t, dim=-1)

    for i, node in enumerate(nodes):
        start = 0
        if node.parent >= 0:
            parent = nodes[node.parent]
            start = len(parent.seq)
            masked_lp[i] = masked_lp[node.parent] + float(masked_logps(parent)[node.seq[start]])
            full_lp[i] = full_lp[node.parent]
        for j in range(start, len(node.seq)):
            full_lp[i] += float(log_softmax(node.seq[:j])[node.seq[j]])
        end_masked = None
        if node.stopped:
            end_masked = masked_lp[i]
        elif node.accepting and bool(node.allowed[eos_token_id]):
            end_masked = masked_lp[i] + float(masked_logps(node)[eos_token_id])
        if end_masked is None:
            continue
        text = detokenize(list(node.seq))
        end_full = full_lp[i] + float(log_softmax(node.seq)[eos_token_id])
        masked[text] = masked.get(text, 0.0) + math.exp(end_masked)
        conditioned[text] = conditioned.get(text, 0.0) + math.exp(end_full)
    total = sum(conditioned.values())
    if total <= 0:
        raise ModelError("the model gives the grammar's language zero probability")
    return ExactDistributions(masked=masked, conditioned={k: v / total for k, v in conditioned.items()})


def total_variation(a: dict[str, float], b: dict[str, float]) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


@dataclass(frozen=True)
class Reference:
    """A small grammar's decoding tree with the target's (and a self-draft's) logits cached."""

    nodes: list[Node]
    target: dict
    draft: dict | None
    exact: ExactDistributions


def build_reference(
    decoder, prompt_ids: Sequence[int], grammar: str, *, draft_layers: int | None = None, temperature: float = 1.0
) -> Reference:
    """Enumerate `grammar` after `prompt_ids` and cache the real model's logits for it
    (`decoder` is a `webagent.models.constrained.Decoder`)."""
    from webagent.models.draft import self_draft

    nodes = explore(decoder.ll_tokenizer, grammar, eos_token_id=decoder.eos_token_id, vocab_size=decoder.vocab_size)
    target = model_table(decoder.model, prompt_ids, nodes, decoder.vocab_size)
    draft = None
    if draft_layers:
        draft = model_table(self_draft(decoder.model, draft_layers), prompt_ids, nodes, decoder.vocab_size)
    exact = exact_distributions(
        nodes,
        target,
        eos_token_id=decoder.eos_token_id,
        detokenize=decoder.ll_tokenizer.decode_str,
        temperature=temperature,
    )
    return Reference(nodes, target, draft, exact)
