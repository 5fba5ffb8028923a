"""What learning minimises: the likelihood of confirmed actions, against rejected ones.

Per example (a prompt and what the supervisor said about the action proposed under it):

- a target (confirmed or corrected action): its negative log-likelihood, mean per
  target token, with the end-of-sequence token included (the decoder stops on it);
- a target and a negative (a correction: the proposal was wrong, this is right):
  the NLL plus a hinge on the margin between the two sequences' log-probabilities,
  max(0, MARGIN - (log p(target) - log p(negative))). Sequence sums make the tokens
  the two actions share ("CLICK [") cancel, so the push lands exactly on where they
  differ (the element id, the typed value); once the right action wins by the margin
  the term stops pulling, so it cannot drive the model to degenerate;
- a negative alone (a rejection without a correction): sequence-level unlikelihood
  -log(1 - p(negative)). Per-token unlikelihood would push down "CLICK [" too, which
  every right answer also starts with; the sequence form only removes the probability
  mass of this one action and fades to zero once it is unlikely.

The objective batches examples with left padding and keeps logits only for the
continuation positions (the LM head over the whole prompt would cost ~10% of a
forward for nothing). When every trainable parameter lives in decoder blocks >= k
(e.g. `last:2`), the blocks below k cannot change, so their output is computed once
per sequence (and kept across rounds in a cache keyed by the tokens) and every loss
evaluation runs only blocks k.. (15x cheaper for `last:2` of SmolLM2's 30 blocks):
this is what makes MeZO affordable on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from webagent.errors import DataError

MARGIN = 2.0  # nats: the corrected action should be e^2 ≈ 7x likelier than the rejected one


@dataclass(frozen=True)
class TrainingExample:
    prompt: str
    target: str | None
    negative: str | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.target is None and self.negative is None:
            raise DataError("a training example needs a target, a negative, or both")


def examples_from_feedback(rows: Iterable[dict]) -> list[TrainingExample]:
    """confirm -> target; correct -> target and the proposal as negative; reject -> negative.
    Rows without a prompt cannot train anything and are skipped."""
    out = []
    for row in rows:
        prompt, kind = row.get("prompt") or "", row.get("kind")
        if not prompt:
            continue
        if kind == "confirm":
            out.append(TrainingExample(prompt, row["action"]))
        elif kind == "correct":
            negative = row.get("proposed") or None
            out.append(TrainingExample(prompt, row["action"], None if negative == row["action"] else negative))
        elif kind == "reject":
            if row.get("proposed"):
                out.append(TrainingExample(prompt, None, row["proposed"]))
        else:
            raise DataError(f"feedback row {row.get('id')} has unknown kind {kind!r}")
    return out


def reward_objective(reward: Callable[[], float]) -> Callable[[], float]:
    """A loss for mezo_step from any reward, differentiable or not (an episode's
    success, a grammar check): MeZO only ever evaluates the loss, never its gradient.
    `reward` must read the current (perturbed) weights, e.g. by running the model."""

    def loss() -> float:
        return -float(reward())

    return loss


@dataclass
class _Batch:
    example_ids: list[int]
    input_ids: object  # [S, T]
    attention_mask: object
    position_ids: object
    labels: object  # [S, K-1], -100 where not a continuation token
    keep: int  # K: the last K positions are all the LM head sees
    rows: list[tuple[int, str]]  # per sequence: (example index, "target" | "negative")
    prefix: tuple[object, dict] | None = None  # cached input of the first trainable block


class _Stop(Exception):
    pass


class BatchedLoss:
    """What the tuner reads off an objective, from its `batches` and `batch_terms(i)`:
    (sum of weight * loss, sum of weight, sum of target NLL, target count) per batch."""

    batches: list

    def batch_terms(self, index: int):
        raise NotImplementedError

    def loss(self, batch: int | None = None) -> float:
        """The weighted mean loss of one batch, or of all of them; no autograd."""
        import torch

        indices = range(len(self.batches)) if batch is None else [batch]
        total, weights = 0.0, 0.0
        with torch.inference_mode():
            for i in indices:
                t, w, _, _ = self.batch_terms(i)
                total += float(t)
                weights += w
        return total / weights if weights else math.nan

    def nll(self) -> float:
        """Mean over the targets of their NLL (what the guard compares)."""
        import torch

        total, count = 0.0, 0
        with torch.inference_mode():
            for i in range(len(self.batches)):
                _, _, nll_sum, n = self.batch_terms(i)
                total += float(nll_sum)
                count += n
        return total / count if count else math.nan


class Objective(BatchedLoss):
    """Tokenised examples in fixed batches over one module; `loss()` is the
    weighted mean of the per-example losses above."""

    def __init__(
        self,
        module,
        tokenizer,
        examples: Sequence[TrainingExample],
        *,
        params: Sequence[tuple[str, object]] | None = None,
        batch_size: int = 8,
        prefix_cache: dict | None = None,
    ) -> None:
        import torch

        if not examples:
            raise DataError("an objective needs at least one training example")
        self.module = module
        self.examples = list(examples)
        # token ids -> input of the first trainable block; valid while the blocks below it do not change
        self.prefix_cache = prefix_cache if prefix_cache is not None else {}
        self.used_keys: set[tuple[int, ...]] = set()  # the cache entries this objective reads
        eos = tokenizer.eos_token_id
        if eos is None:
            raise DataError(f"tokenizer of {type(module).__name__} has no end-of-sequence token")
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

        def encode(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False)["input_ids"]

        encoded = [
            (
                encode(ex.prompt),
                encode(ex.target) + [eos] if ex.target is not None else None,
                encode(ex.negative) + [eos] if ex.negative is not None else None,
            )
            for ex in self.examples
        ]
        self._split = self._cache_point(params)
        self.batches: list[_Batch] = []
        for start in range(0, len(encoded), batch_size):
            ids = list(range(start, min(start + batch_size, len(encoded))))
            self.batches.append(self._make_batch(ids, encoded, torch))
        if self._split is not None:
            for batch in self.batches:
                batch.prefix = self._prefix(batch)

    # -- building batches -------------------------------------------------------
    def _make_batch(self, ids: list[int], encoded, torch) -> _Batch:
        seqs, rows = [], []
        for i in ids:
            prompt, target, negative = encoded[i]
            for kind, cont in (("target", target), ("negative", negative)):
                if cont is not None:
                    seqs.append((prompt, cont))
                    rows.append((i, kind))
        width = max(len(p) + len(c) for p, c in seqs)
        keep = max(len(c) for _, c in seqs) + 1
        input_ids = torch.full((len(seqs), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        labels = torch.full((len(seqs), keep - 1), -100, dtype=torch.long)
        for r, (prompt, cont) in enumerate(seqs):
            seq = prompt + cont
            input_ids[r, width - len(seq) :] = torch.tensor(seq)
            mask[r, width - len(seq) :] = 1
            labels[r, keep - 1 - len(cont) :] = torch.tensor(cont)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        return _Batch(ids, input_ids, mask, position_ids, labels, keep, rows)

    def _cache_point(self, params) -> int | None:
        """The block whose input can be cached, when the model has the Llama layout."""
        if params is None:
            return None
        from webagent.learning.params import decoder_blocks, first_trainable_block

        try:
            first = first_trainable_block(self.module, params)
            decoder_blocks(self.module)
        except DataError:
            return None
        decoder = self.module.get_decoder() if hasattr(self.module, "get_decoder") else None
        if not first or decoder is None or not hasattr(decoder, "norm"):
            return None
        return first

    def _block_input(self, block: int, input_ids, attention_mask, position_ids) -> tuple[object, dict]:
        """What decoder block `block` receives: (hidden states, keyword arguments), by
        running the model up to it and stopping there."""
        import torch

        from webagent.learning.params import decoder_blocks

        _, blocks = decoder_blocks(self.module)
        captured: dict = {}

        def hook(_module, args, kwargs):
            captured["hidden"] = args[0] if args else kwargs.pop("hidden_states")
            captured["kwargs"] = dict(kwargs)
            raise _Stop

        handle = blocks[block].register_forward_pre_hook(hook, with_kwargs=True)
        try:
            with torch.no_grad():
                self.module(
                    input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
                )
        except _Stop:
            pass
        finally:
            handle.remove()
        if "hidden" not in captured:
            raise DataError(f"block {block} of {type(self.module).__name__} never ran; cannot cache its input")
        return captured["hidden"], captured["kwargs"]

    def _prefix(self, batch: _Batch) -> tuple[object, dict]:
        """The first trainable block's input for a batch. Each sequence's hidden states
        are computed alone (no padding) and kept in the shared prefix cache, keyed by
        its tokens, so later rounds pay only for sequences they have not seen; the
        batch's mask and rotary embeddings come from running just the embeddings."""
        import torch

        _, kwargs = self._block_input(0, batch.input_ids, batch.attention_mask, batch.position_ids)
        rows, width = batch.input_ids.shape
        hidden = None
        for r in range(rows):
            length = int(batch.attention_mask[r].sum())
            tokens = batch.input_ids[r, width - length :]
            key = tuple(tokens.tolist())
            self.used_keys.add(key)
            cached = self.prefix_cache.get(key)
            if cached is None:
                ones = torch.ones((1, length), dtype=torch.long)
                positions = torch.arange(length)[None]
                cached = self._block_input(self._split, tokens[None], ones, positions)[0][0]
                self.prefix_cache[key] = cached
            if hidden is None:
                hidden = torch.zeros((rows, width, cached.shape[-1]), dtype=cached.dtype)
            hidden[r, width - length :] = cached
        return hidden, kwargs

    # -- the loss -----------------------------------------------------------------
    def _logps(self, batch: _Batch):
        """Log-probabilities of the continuation tokens, [S, K-1] (0 where masked)."""
        import torch

        keep = batch.keep
        if batch.prefix is not None:
            from webagent.learning.params import decoder_blocks

            _, blocks = decoder_blocks(self.module)
            hidden, kwargs = batch.prefix
            for block in blocks[self._split :]:
                hidden = block(hidden, **kwargs)
                if isinstance(hidden, tuple):
                    hidden = hidden[0]
            hidden = self.module.get_decoder().norm(hidden[:, -keep:-1])
            logits = self.module.get_output_embeddings()(hidden)
        else:
            out = self.module(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids,
                use_cache=False,
                logits_to_keep=keep,
            )
            logits = out.logits[:, :-1]
        logps = torch.log_softmax(logits.float(), dim=-1)
        valid = batch.labels >= 0
        picked = logps.gather(-1, batch.labels.clamp(min=0)[..., None])[..., 0]
        return picked * valid, valid

    def batch_terms(self, index: int):
        """(sum of weight * loss, sum of weight, sum of target NLL, target count) for one
        batch, as tensors that carry gradients when grad mode is on."""
        import torch

        batch = self.batches[index]
        picked, valid = self._logps(batch)
        seq_logp = picked.sum(-1)
        counts = valid.sum(-1)
        per = {}
        for r, (i, kind) in enumerate(batch.rows):
            per.setdefault(i, {})[kind] = (seq_logp[r], counts[r])
        total = torch.zeros(())
        weights = 0.0
        nll_sum = torch.zeros(())
        n_targets = 0
        for i, parts in per.items():
            ex = self.examples[i]
            if "target" in parts:
                lp, count = parts["target"]
                nll = -lp / count
                nll_sum = nll_sum + nll
                n_targets += 1
                loss = nll
                if "negative" in parts:
                    loss = loss + torch.relu(MARGIN - (lp - parts["negative"][0]))
            else:
                lp = parts["negative"][0].clamp(max=-1e-6)
                loss = -torch.log1p(-torch.exp(lp))
            total = total + ex.weight * loss
            weights += ex.weight
        return total, weights, nll_sum, n_targets
