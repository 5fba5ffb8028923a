"""Learning the decision: a residual map on the final hidden state, trained to pick
the confirmed action among those the page offered.

MeZO on decoder blocks with the sequence likelihood (webagent.learning.objective)
moved the loss but not one greedy decision. Two reasons, and this module answers both:

- The likelihood spreads its pull over every token of the action, most of which
  ("CLICK [") the grammar forces anyway. The decision is made at a few tokens (the
  element id, the verb), each a choice among the few tokens the grammar allows. So
  the objective here is that choice: the confirmed action's alternatives are the
  same verb and value on every other element the prompt showed, plus the proposal
  the supervisor turned down; their tokens form a trie, and the loss is the
  cross-entropy of the confirmed path with each branching choice normalised over
  its children only, which is exactly the choice constrained greedy decoding makes.
  A rejection without a correction lowers its path's probability, -log(1 - p).
- Every loss evaluation ran the prompt through the perturbed blocks, a second or
  more per step on a CPU, so a round was tens of steps where MeZO needs thousands.
  The parameters here are a rank-R residual map on the final hidden state (after
  the last norm, before the output layer): h + (2/R)·(B·(A·h)). Nothing it changes
  feeds back into the blocks, so the hidden state at every branching point is
  computed once with the frozen model and kept; a loss evaluation is a few small
  matrix products over all examples, and MeZO runs thousands of steps in seconds.

The map lives on the final norm as a submodule named `decision_head`, applied by a
forward hook, so every path that reads the model's output (full logits, the
allowed-rows Head, the prefix cache's stored states) sees it. It starts as the
identity (B = 0) with A drawn from a fixed seed, so a version rebuilds from its MeZO
seeds. Unlike LoRA it cannot be merged into the weights (the output layer is tied
to the embeddings), so the live model carries it; `ensure_head` puts it there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from webagent.errors import DataError, GrammarError
from webagent.learning.objective import BatchedLoss, TrainingExample

HEAD_NAME = "decision_head"
HEAD_INIT_SEED = 0  # A is drawn with this seed, so a rebuild from seeds draws the same one

_ELEMENT_LINE = re.compile(r"^\[([^\]\s]+)\] ", re.MULTILINE)
_VERB_LINE = re.compile(r"^([A-Z]+) ", re.MULTILINE)


def _final_norm(module):
    decoder = module.get_decoder() if hasattr(module, "get_decoder") else None
    norm = getattr(decoder, "norm", None)
    if norm is None:
        raise DataError(f"{type(module).__name__} has no final norm to carry a decision head (Llama layout expected)")
    return norm


def _apply_head(norm, _args, output):
    """The norm's forward hook: a module-level function reading the head from the
    norm itself, so a deep copy of the model applies its own copy of the head."""
    head = getattr(norm, HEAD_NAME, None)
    return output if head is None or head.bypass else head(output)


def _head_class():
    import torch

    class DecisionHead(torch.nn.Module):
        """h + scale·B(A h), computed in float32 and returned in h's dtype."""

        def __init__(self, hidden: int, rank: int) -> None:
            super().__init__()
            generator = torch.Generator(device="cpu").manual_seed(HEAD_INIT_SEED)
            bound = 1 / math.sqrt(hidden)  # peft's LoRA A: kaiming-uniform with a = sqrt(5)
            self.A = torch.nn.Parameter((torch.rand(rank, hidden, generator=generator) * 2 - 1) * bound)
            self.B = torch.nn.Parameter(torch.zeros(hidden, rank))
            self.scale = 2.0 / rank  # lora_alpha = 2R, as webagent.learning.params' LoRA
            self.bypass = False

        def forward(self, h):
            x = h.float()
            return (x + self.scale * (x @ self.A.T) @ self.B.T).to(h.dtype)

    return DecisionHead


def has_head(module) -> bool:
    return any(HEAD_NAME in name for name, _ in module.named_parameters())


def inject_head(module, rank: int) -> None:
    """Give `module` a rank-`rank` decision head at its identity (once)."""
    norm = _final_norm(module)
    existing = getattr(norm, HEAD_NAME, None)
    if existing is not None:
        if existing.A.shape[0] != rank:
            raise DataError(f"module already carries a decision head of rank {existing.A.shape[0]}, not {rank}")
        return
    hidden = norm.weight.shape[0]
    norm.add_module(HEAD_NAME, _head_class()(hidden, rank).to(norm.weight.device))
    norm.register_forward_hook(_apply_head)


def ensure_head(module, tensors: dict) -> None:
    """Inject the head that `tensors` (by parameter name) describe, if the module lacks it."""
    a = next((t for n, t in tensors.items() if n.endswith(f"{HEAD_NAME}.A")), None)
    if a is not None:
        inject_head(module, a.shape[0])


class _Bypass:
    """Within it, the module's decision head (if any) is the identity."""

    def __init__(self, module) -> None:
        self.head = getattr(_final_norm(module), HEAD_NAME, None)

    def __enter__(self):
        if self.head is not None:
            self.head.bypass = True

    def __exit__(self, *exc):
        if self.head is not None:
            self.head.bypass = False


# -- the alternatives a decision chose among ------------------------------------------


def shown_ids(prompt: str) -> list[str]:
    """The element ids of the prompt's last element list (the page the decision was on;
    earlier lists belong to retrieved demonstrations)."""
    tail = prompt.rsplit("Elements:", 1)
    return _ELEMENT_LINE.findall(tail[1]) if len(tail) == 2 else []


def offered_verbs(prompt: str) -> list[str]:
    """The verbs the prompt's instructions list (the lines that describe each one)."""
    from webagent.actions import VERBS

    head = prompt.split("Task:", 1)[0]
    return [v for v in dict.fromkeys(_VERB_LINE.findall(head)) if v in VERBS]


def alternatives(prompt: str, action: str) -> list[str]:
    """`action`, the same verb and value on every other element the prompt showed, and
    every other verb the prompt offers (as the bare verb: the choice at the first token,
    so a head trained on one step's element cannot quietly move the next step's verb).
    Just `action` when it is not an action."""
    from webagent.actions import Action, parse_action

    try:
        parsed = parse_action(action)
    except GrammarError:
        return [action]
    out = [action]
    if parsed.element_id is not None:
        for element in shown_ids(prompt):
            other = Action(parsed.verb, element, parsed.argument).to_dsl()
            if other not in out:
                out.append(other)
    out += [verb for verb in offered_verbs(prompt) if verb != parsed.verb]
    return out


@dataclass(frozen=True)
class Choice:
    """One branching point on a path: the context's tokens, the allowed next tokens,
    and which of them the path takes."""

    context: tuple[int, ...]
    children: tuple[int, ...]
    taken: int


def choices_on_path(prompt_ids: Sequence[int], paths: Sequence[Sequence[int]], path: Sequence[int]) -> list[Choice]:
    """The branching points of the trie of `paths` that `path` passes, in order."""
    out = []
    for depth, token in enumerate(path):
        prefix = tuple(path[:depth])
        children = []
        for other in paths:
            if len(other) > depth and tuple(other[:depth]) == prefix and other[depth] not in children:
                children.append(other[depth])
        if len(children) >= 2:
            out.append(Choice(tuple(prompt_ids) + prefix, tuple(children), children.index(token)))
    return out


# -- the objective ------------------------------------------------------------------


@dataclass
class _Item:
    example: int
    kind: str  # target | negative
    choices: list[Choice]


class DecisionObjective(BatchedLoss):
    """The decision loss over `examples` for a module carrying a decision head; the
    same surface as webagent.learning.objective.Objective (`loss` and `nll` from
    BatchedLoss, `batch_terms`, `batches`, `used_keys`), so the tuner and backprop
    take either; here `nll` is the mean -log p of the confirmed choices.

    `prefix_cache` maps a context's tokens to its final hidden state (before the
    head); it stays valid while the module's blocks do not change, i.e. across rounds
    of tuning the head alone."""

    def __init__(
        self,
        module,
        tokenizer,
        examples: Sequence[TrainingExample],
        *,
        params=None,  # noqa: ARG002 - the head is the only thing this objective can train
        batch_size: int = 0,
        prefix_cache: dict | None = None,
    ) -> None:
        import torch

        if not examples:
            raise DataError("an objective needs at least one training example")
        if not has_head(module):
            raise DataError("the decision objective trains a decision head; the module carries none (param set head:R)")
        self.module = module
        self.examples = list(examples)
        self.prefix_cache = prefix_cache if prefix_cache is not None else {}
        self.used_keys: set[tuple[int, ...]] = set()

        def encode(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False)["input_ids"]

        items: list[_Item] = []
        for i, ex in enumerate(self.examples):
            prompt = encode(ex.prompt)
            named = [a for a in (ex.target, ex.negative) if a is not None]
            texts = []
            for action in [*named, *alternatives(ex.prompt, named[0])]:
                if action not in texts:
                    texts.append(action)
            paths = [encode(t) for t in texts]
            for kind, action in (("target", ex.target), ("negative", ex.negative)):
                if action is None or (kind == "negative" and ex.target is not None):
                    continue  # a correction's proposal is already among the target's alternatives
                found = choices_on_path(prompt, paths, paths[texts.index(action)])
                if found:
                    items.append(_Item(i, kind, found))
        self._items = items
        self._hidden(torch, [c.context for item in items for c in item.choices])
        size = batch_size if batch_size > 0 else max(1, len(self.examples))
        groups: dict[int, list[int]] = {}
        for k, item in enumerate(items):
            groups.setdefault(item.example // size, []).append(k)
        self.batches = [self._pack(torch, ks) for _, ks in sorted(groups.items())] or [self._pack(torch, [])]

    def _hidden(self, torch, contexts: list[tuple[int, ...]]) -> None:
        """Fill the cache with the final hidden state (before the head) of every context,
        one forward pass per longest context (a shorter one on the same path is a prefix)."""
        self.used_keys |= set(contexts)
        missing = sorted({c for c in contexts if c not in self.prefix_cache}, key=len, reverse=True)
        decoder = self.module.get_decoder()
        done: set[tuple[int, ...]] = set()
        with torch.inference_mode(), _Bypass(self.module):
            for context in missing:
                if context in done:
                    continue
                out = decoder(input_ids=torch.tensor([context])).last_hidden_state[0].float()
                for other in missing:  # every wanted context that is a prefix of this one
                    if other not in done and context[: len(other)] == other:
                        self.prefix_cache[other] = out[len(other) - 1].clone()
                        done.add(other)

    def _pack(self, torch, ks: list[int]) -> dict:
        """One batch as tensors: every branching point of its items, children padded."""
        rows = [(k, c) for k in ks for c in self._items[k].choices]
        weight = self.module.get_output_embeddings().weight
        width = max((len(c.children) for _, c in rows), default=1)
        hidden = torch.stack([self.prefix_cache[c.context] for _, c in rows]) if rows else torch.zeros(0, 1)
        children = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for r, (_, c) in enumerate(rows):
            children[r, : len(c.children)] = torch.tensor(c.children)
            mask[r, : len(c.children)] = True
        with torch.no_grad():
            rows_weight = weight.detach()[children].float()  # [N, C, hidden]: the output layer is not trained here
        return {
            "items": ks,
            "item_of_row": torch.tensor([ks.index(k) for k, _ in rows], dtype=torch.long),
            "hidden": hidden,
            "children": rows_weight,
            "mask": mask,
            "taken": torch.tensor([c.taken for _, c in rows], dtype=torch.long),
        }

    def _path_logp(self, batch: dict):
        """log p of each item's path under the trie, as the head now maps the hidden states."""
        import torch

        head = getattr(_final_norm(self.module), HEAD_NAME)
        mapped = head(batch["hidden"])  # [N, hidden]
        logits = torch.einsum("nch,nh->nc", batch["children"], mapped).masked_fill(~batch["mask"], -math.inf)
        picked = logits.log_softmax(-1).gather(1, batch["taken"][:, None])[:, 0]
        return torch.zeros(len(batch["items"])).index_add(0, batch["item_of_row"], picked)

    def batch_terms(self, index: int):
        """(sum of weight * loss, sum of weight, sum of target NLL, target count) for one
        batch, as tensors that carry gradients when grad mode is on."""
        import torch

        batch = self.batches[index]
        if not batch["items"]:
            return torch.zeros(()), 0.0, torch.zeros(()), 0
        logp = self._path_logp(batch)
        total, weights, nll, count = torch.zeros(()), 0.0, torch.zeros(()), 0
        for j, k in enumerate(batch["items"]):
            item = self._items[k]
            w = self.examples[item.example].weight
            if item.kind == "target":
                term = -logp[j]
                nll, count = nll - logp[j], count + 1
            else:  # -log(1 - p), stable near p = 1
                term = -torch.log1p(-logp[j].exp().clamp(max=1 - 1e-6))
            total, weights = total + w * term, weights + w
        return total, weights, nll, count

    def accuracy(self) -> float:
        """Share of the targets whose every choice is the most likely child: the
        decisions greedy decoding over these alternatives would get right."""
        import torch

        right, count = 0, 0
        head = getattr(_final_norm(self.module), HEAD_NAME)
        with torch.inference_mode():
            for batch in self.batches:
                if not batch["items"]:
                    continue
                logits = torch.einsum("nch,nh->nc", batch["children"], head(batch["hidden"]))
                ok = logits.masked_fill(~batch["mask"], -math.inf).argmax(-1) == batch["taken"]
                for j, k in enumerate(batch["items"]):
                    if self._items[k].kind == "target":
                        count += 1
                        right += bool(ok[batch["item_of_row"] == j].all())
        return right / count if count else math.nan
