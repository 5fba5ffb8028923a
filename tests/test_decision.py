"""The decision objective and head (webagent.learning.decision) on a tiny Llama:
alternatives from the prompt's element list, the trie's choices, the loss against
the model's own logits, the head carried through copies, versions and backprop."""

import copy
import math

import pytest

torch = pytest.importorskip("torch")

from support.tiny import CharTokenizer, tiny_llama  # noqa: E402

from webagent.errors import DataError  # noqa: E402
from webagent.learning.decision import (  # noqa: E402
    HEAD_NAME,
    DecisionObjective,
    alternatives,
    choices_on_path,
    has_head,
    offered_verbs,
    shown_ids,
)
from webagent.learning.mezo import mezo_step  # noqa: E402
from webagent.learning.objective import TrainingExample  # noqa: E402
from webagent.learning.params import copy_into, plain_tensors, select_parameters, shadow_copy  # noqa: E402

PROMPT = (
    'Reply with one action:\nCLICK [id] clicks.\nTYPE [id] "text" types.\n'
    "Elements:\n[a] demo button\nNext action: CLICK [a]\n\n"  # a retrieved demonstration's list
    'Task: click OK.\nElements:\n[1] button text="OK"\n[2] button text="Cancel"\n[12] input type=text\nNext action:'
)


def test_shown_ids_come_from_the_last_element_list():
    assert shown_ids(PROMPT) == ["1", "2", "12"]
    assert shown_ids("no list here") == []


def test_alternatives_vary_the_element_and_the_verb():
    assert offered_verbs(PROMPT) == ["CLICK", "TYPE"]
    assert alternatives(PROMPT, "CLICK [2]") == ["CLICK [2]", "CLICK [1]", "CLICK [12]", "TYPE"]
    assert alternatives(PROMPT, 'TYPE [12] "Bob"') == ['TYPE [12] "Bob"', 'TYPE [1] "Bob"', 'TYPE [2] "Bob"', "CLICK"]
    assert alternatives(PROMPT, "STOP") == ["STOP", "CLICK", "TYPE"]
    assert alternatives(PROMPT, "not an action") == ["not an action"]


def test_choices_are_the_branching_points_on_the_path():
    # "CLICK [1]", "CLICK [2]", "CLICK [12]" as characters: they branch after "CLICK [" and after "CLICK [1".
    paths = [list(t.encode()) for t in ("CLICK [1]", "CLICK [2]", "CLICK [12]")]
    found = choices_on_path([0], paths, paths[2])
    assert [bytes(c.context[1:]).decode() for c in found] == ["CLICK [", "CLICK [1"]
    assert [sorted(bytes(c.children).decode()) for c in found] == [["1", "2"], ["2", "]"]]
    assert [bytes([c.children[c.taken]]).decode() for c in found] == ["1", "2"]
    assert choices_on_path([0], paths[:1], paths[0]) == []  # no alternative, nothing to choose


@pytest.fixture
def tiny():
    return tiny_llama(2)


EXAMPLES = [
    TrainingExample(PROMPT, "CLICK [1]"),
    TrainingExample(PROMPT, "CLICK [2]", "CLICK [12]"),  # a correction
    TrainingExample(PROMPT, None, "CLICK [12]"),  # a rejection
    TrainingExample(PROMPT, "STOP"),  # chosen against the other verbs only
]


def _path_logp(model, prompt: str, action: str, options: list[str]) -> float:
    """log p(action) with each branching token normalised over the options' tokens, from full forwards."""
    ids = list(prompt.encode())
    paths = [list(o.encode()) for o in options]
    total = 0.0
    for choice in choices_on_path(ids, paths, list(action.encode())):
        with torch.no_grad():
            logits = model(torch.tensor([choice.context])).logits[0, -1]
        picked = logits[list(choice.children)].log_softmax(-1)
        total += float(picked[choice.taken])
    return total


def test_the_loss_is_the_decoders_choice_among_the_alternatives(tiny):
    select_parameters(tiny, "head:4")
    with torch.no_grad():  # move the head off the identity so the hook matters
        getattr(tiny.model.norm, HEAD_NAME).B.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    objective = DecisionObjective(tiny, CharTokenizer(), EXAMPLES)
    options = alternatives(PROMPT, "CLICK [1]")
    lp = [_path_logp(tiny, PROMPT, a, options) for a in ("CLICK [1]", "CLICK [2]", "CLICK [12]", "TYPE")]
    assert sum(math.exp(v) for v in lp) == pytest.approx(1.0, rel=1e-5)
    stop = _path_logp(tiny, PROMPT, "STOP", alternatives(PROMPT, "STOP"))
    expected = (-lp[0] - lp[1] - math.log1p(-math.exp(lp[2])) - stop) / 4
    assert objective.loss() == pytest.approx(expected, rel=1e-4)
    assert objective.nll() == pytest.approx((-lp[0] - lp[1] - stop) / 3, rel=1e-4)
    assert objective.accuracy() in (0.0, 1 / 3, 2 / 3, 1.0)  # three targets


def test_mezo_on_the_head_learns_the_decision_and_the_model_decides_with_it(tiny):
    params = select_parameters(tiny, "head:4")
    assert [n for n, _ in params] == [f"model.norm.{HEAD_NAME}.A", f"model.norm.{HEAD_NAME}.B"]
    examples = [TrainingExample(PROMPT, "CLICK [12]")]
    objective = DecisionObjective(tiny, CharTokenizer(), examples)
    before = objective.loss()
    for seed in range(300):
        mezo_step(params, objective.loss, seed=seed, eps=1e-2, lr=5e-2)
    assert objective.loss() < before - 0.5
    assert objective.accuracy() == 1.0
    # the live forward pass agrees with the objective: greedy over the options picks CLICK [12]
    options = alternatives(PROMPT, "CLICK [12]")
    scores = {a: _path_logp(tiny, PROMPT, a, options) for a in options}
    assert max(scores, key=scores.get) == "CLICK [12]"


def test_the_head_travels_with_copies_and_tensors(tiny):
    shadow = copy.deepcopy(tiny)
    params = select_parameters(shadow, "head:4")
    with torch.no_grad():
        params[1][1].fill_(0.3)
    twin = copy.deepcopy(shadow)  # a copy applies its own head, not the original's
    with torch.no_grad():
        params[1][1].zero_()
    ids = torch.tensor([list(b"CLICK [")])
    with torch.no_grad():
        assert not torch.allclose(twin(ids).logits, shadow(ids).logits)
        assert torch.allclose(shadow(ids).logits, tiny(ids).logits)  # B = 0: the identity
    live = copy.deepcopy(tiny)
    assert not has_head(live)
    copy_into(live, plain_tensors(twin, select_parameters(twin, "head:4")))
    with torch.no_grad():
        assert torch.allclose(live(ids).logits, twin(ids).logits)


def test_a_head_shadow_shares_the_frozen_weights_and_owns_its_head(tiny):
    live = copy.deepcopy(tiny)
    shadow = shadow_copy(live, "head:4")
    trained = select_parameters(shadow, "head:4")
    frozen = dict(live.named_parameters())
    shared = [n for n, p in shadow.named_parameters() if n in frozen and p is frozen[n]]
    assert shared == list(frozen)  # every weight of the live model, none copied ...
    assert not has_head(live)  # ... and the head only in the shadow
    with torch.no_grad():
        trained[1][1].fill_(0.3)
    ids = torch.tensor([list(b"CLICK [")])
    with torch.no_grad():
        assert torch.allclose(live(ids).logits, tiny(ids).logits)  # the live model is untouched
        assert not torch.allclose(shadow(ids).logits, tiny(ids).logits)
    full = shadow_copy(live, "last:1")  # sets that move the model's own weights get a copy
    assert not any(p is frozen[n] for n, p in full.named_parameters())


def test_a_module_without_a_head_is_refused(tiny):
    with pytest.raises(DataError, match="carries none"):
        DecisionObjective(tiny, CharTokenizer(), EXAMPLES)
    select_parameters(tiny, "head:4")
    with pytest.raises(DataError, match="rank 4, not 8"):
        select_parameters(tiny, "head:8")


def test_backprop_trains_the_head_alone(tiny):
    from webagent.learning.backprop import backprop_train

    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    params = select_parameters(tiny, "head:4")
    objective = DecisionObjective(tiny, CharTokenizer(), [TrainingExample(PROMPT, "CLICK [12]")])
    losses = backprop_train(params, objective, steps=30, lr=5e-2)
    assert losses[-1] < losses[0]
    assert all(torch.equal(p, before[n]) for n, p in tiny.named_parameters() if HEAD_NAME not in n)
