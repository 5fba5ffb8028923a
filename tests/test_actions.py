"""The DSL: grammar, parser, and the promise that decoding cannot produce an invalid action."""

import random

import pytest

from webagent.actions import (
    ALL_VERBS,
    BASIC_VERBS,
    KEYS,
    MAX_ANSWER_WORDS,
    Action,
    action_grammar,
    check_action,
    escape,
    page_texts,
    parse_action,
    verb_descriptions,
)
from webagent.browser.observation import Element
from webagent.errors import GrammarError

BUTTON = Element("3", "button", text="Submit", interactive=True)
LINK = Element("12", "a", text="Next page", interactive=True)
FIELD = Element("7", "input", input_type="text", editable=True, interactive=True)
SELECT = Element("40", "select", options=("Red", 'Blue "navy"', "back\\slash"), interactive=True)


def test_round_trip_through_dsl():
    for action in (
        Action("CLICK", "3"),
        Action("TYPE", "7", 'say "hi" \\ bye'),
        Action("SELECT", "40", 'Blue "navy"'),
        Action("TYPE", "7", ""),
    ):
        assert parse_action(action.to_dsl()) == action


@pytest.mark.parametrize(
    "text",
    ["CLICK 3", "CLICK [3] extra", "TYPE [7]", 'CLICK [3] "x"', "JUMP [3]", 'TYPE [7] "unterminated'],
)
def test_parser_rejects_malformed(text):
    with pytest.raises(GrammarError):
        parse_action(text)


def test_check_action_against_candidates():
    cands = [BUTTON, FIELD, SELECT]
    check_action(Action("SELECT", "40", "Red"), cands)
    with pytest.raises(GrammarError, match="not a candidate"):
        check_action(Action("CLICK", "99"), cands)
    with pytest.raises(GrammarError, match="cannot act"):
        check_action(Action("TYPE", "3", "x"), cands)
    with pytest.raises(GrammarError, match="not an option"):
        check_action(Action("SELECT", "40", "Green"), cands)


def test_grammar_only_offers_verbs_with_targets():
    grammar = action_grammar([BUTTON, LINK])
    assert "type" not in grammar.split("\n")[0] and "select" not in grammar.split("\n")[0]
    assert '"12"' in grammar and '"3"' in grammar
    with pytest.raises(GrammarError):
        action_grammar([])


def test_grammar_accepts_exactly_valid_actions():
    import llguidance
    import llguidance.hf
    from transformers import AutoTokenizer

    from webagent.models.loading import default_model_dir

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir())
    ll = llguidance.hf.from_tokenizer(tokenizer)
    grammar = llguidance.LLMatcher.grammar_from_lark(action_grammar([BUTTON, FIELD, SELECT]))

    def accepts(text: str) -> bool:
        matcher = llguidance.LLMatcher(ll, grammar)
        tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
        return matcher.consume_tokens(tokens) and matcher.is_accepting()

    for good in ("CLICK [3]", "CLICK [40]", 'TYPE [7] "hello"', f'SELECT [40] "{escape(SELECT.options[1])}"'):
        assert accepts(good), good
    for bad in (
        "CLICK [99]",
        'TYPE [3] "x"',
        'SELECT [40] "Green"',
        'SELECT [7] "Red"',
        "CLICK [4]",
        'TYPE [7] "a\nb"',
    ):
        assert not accepts(bad), bad


def _random_candidates(rng: random.Random) -> list[Element]:
    words = ["Submit", "OK", "name", 'say "hi"', "back\\slash", "Ünïcode", "a b  c", "]", "[", "42"]
    elements = []
    for _ in range(rng.randint(1, 8)):
        eid = str(rng.randint(1, 500))
        if any(e.id == eid for e in elements):
            continue
        kind = rng.choice(["button", "input", "select", "a"])
        if kind == "input":
            elements.append(Element(eid, "input", editable=True, interactive=True, label=rng.choice(words)))
        elif kind == "select":
            options = tuple(dict.fromkeys(rng.sample(words, rng.randint(1, 5))))
            elements.append(Element(eid, "select", options=options, interactive=True))
        else:
            elements.append(Element(eid, kind, text=rng.choice(words), interactive=True))
    return elements


@pytest.mark.slow
def test_high_temperature_sampling_always_parses(default_model):
    """Invalid output is impossible: many hot samples on varied candidate sets all parse
    and name a shown candidate (and a real option for SELECT)."""
    rng = random.Random(0)
    verbs = set()
    for trial in range(60):
        candidates = _random_candidates(rng)
        listing = "\n".join(f"[{e.id}] {e.describe()}" for e in candidates)
        prompt = default_model.format_chat([{"role": "user", "content": f"Elements:\n{listing}\nNext action:"}])
        generation = default_model.generate(
            prompt, action_grammar(candidates, max_text_chars=20), temperature=2.5, seed=trial, max_tokens=64
        )
        action = parse_action(generation.text, candidates)  # raises if invalid
        verbs.add(action.verb)
        target = next(e for e in candidates if e.id == action.element_id)
        if action.verb == "SELECT":
            assert action.argument in target.options, (action, target.options)
        if action.verb == "TYPE":
            assert target.editable and len(action.argument) <= 20, action
    assert verbs == {"CLICK", "TYPE", "SELECT"}


# -- the verbs of real pages -------------------------------------------------------

PAGE = ("The latest version is 4.2.1", 'He said "go" \\ then')


def _matcher_for(grammar_text: str):
    import llguidance
    import llguidance.hf
    from transformers import AutoTokenizer

    from webagent.models.loading import default_model_dir

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir())
    ll = llguidance.hf.from_tokenizer(tokenizer)
    grammar = llguidance.LLMatcher.grammar_from_lark(grammar_text)

    def accepts(text: str) -> bool:
        matcher = llguidance.LLMatcher(ll, grammar)
        tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
        return matcher.consume_tokens(tokens) and matcher.is_accepting()

    return accepts


def test_round_trip_of_the_new_verbs():
    for action in (
        Action("PRESS", "7", "Enter"),
        Action("SCROLL", None, "down"),
        Action("BACK"),
        Action("STOP"),
        Action("STOP", None, 'He said "go"'),
    ):
        assert parse_action(action.to_dsl()) == action
    for bad in ('PRESS [7] "F5"', 'SCROLL "left"', "BACK [3]", 'BACK "x"', "STOP [3]", "SCROLL"):
        with pytest.raises(GrammarError):
            parse_action(bad)


def test_full_grammar_accepts_exactly_valid_actions():
    accepts = _matcher_for(action_grammar([BUTTON, FIELD, SELECT], verbs=ALL_VERBS, page_texts=PAGE))
    good = [
        "CLICK [3]",
        'TYPE [7] "hello"',
        'PRESS [7] "Enter"',
        'PRESS [3] "ArrowDown"',
        'SCROLL "down"',
        'SCROLL "up"',
        "BACK",
        "STOP",
        'STOP "4.2.1"',
        'STOP "latest version is 4.2.1"',
        f'STOP "{escape(chr(34) + "go" + chr(34) + " " + chr(92))}"',
    ]
    for text in good:
        assert accepts(text), text
    for bad in (
        'PRESS [7] "F5"',
        'PRESS [99] "Enter"',
        'SCROLL "left"',
        "BACK [3]",
        'STOP "4.2.2"',  # not on the page
        'STOP "version 4.2.1 He"',  # across two texts
        'STOP ""',
        'STOP "4.2.1 "',
    ):
        assert not accepts(bad), bad


def test_basic_verbs_keep_the_grammar_and_prompt_of_miniwob():
    grammar = action_grammar([BUTTON, FIELD, SELECT])
    assert grammar == action_grammar([BUTTON, FIELD, SELECT], verbs=BASIC_VERBS, page_texts=PAGE)
    assert grammar.split("\n")[0] == "start: click | type | select"
    assert [d.split()[0] for d in verb_descriptions()] == ["CLICK", "TYPE", "SELECT"]


def test_answer_spans_are_bounded_in_length():
    text = " ".join(f"w{i}" for i in range(40))
    accepts = _matcher_for(action_grammar([], verbs=("STOP",), page_texts=[text]))
    assert accepts('STOP "w3 w4 w5"') and accepts("STOP")
    assert not accepts('STOP "' + " ".join(f"w{i}" for i in range(MAX_ANSWER_WORDS + 1)) + '"')


def test_a_question_is_answered_while_the_page_has_text():
    accepts = _matcher_for(action_grammar([BUTTON], verbs=("CLICK", "STOP"), page_texts=PAGE, answer_required=True))
    assert accepts('STOP "4.2.1"') and accepts("CLICK [3]")
    assert not accepts("STOP")
    nothing = _matcher_for(action_grammar([BUTTON], verbs=("CLICK", "STOP"), page_texts=(), answer_required=True))
    assert nothing("STOP")  # no text to answer from: the bare STOP is what is left


def test_page_texts_hold_what_fields_show_but_never_a_password():
    elements = [
        Element("1", "td", text="ISBN"),
        Element("2", "input", input_type="text", value="9786022345007", editable=True, interactive=True),
        Element("3", "input", input_type="password", value="hunter2", editable=True, interactive=True),
        Element("4", "td", text="hidden", visible=False),
        Element("5", "input", input_type="text", value="", editable=True, interactive=True),
    ]
    assert page_texts(elements) == ["ISBN", "9786022345007"]


def test_a_question_is_never_answered_with_what_it_names():
    elements = [Element("1", "h1", text="Glossary"), Element("2", "td", text="The glossary timeout is 30 s")]
    assert page_texts(elements, excluding=["Glossary"]) == ["The ", " timeout is 30 s"]
    accepts = _matcher_for(action_grammar([], verbs=("STOP",), page_texts=page_texts(elements, ["Glossary"])))
    assert accepts('STOP "30 s"') and not accepts('STOP "Glossary"') and not accepts('STOP "glossary timeout"')


def test_a_password_the_task_gives_goes_only_into_a_password_field():
    user = Element("5", "input", input_type="text", editable=True, interactive=True)
    secret = Element("6", "input", input_type="password", editable=True, interactive=True)
    texts = ["ana", "{PASSWORD}", "password {PASSWORD}"]
    accepts = _matcher_for(action_grammar([user, secret, BUTTON], texts=texts, secret_texts=["{PASSWORD}"]))
    assert accepts('TYPE [5] "ana"') and accepts('TYPE [6] "{PASSWORD}"') and accepts("CLICK [3]")
    for bad in ('TYPE [5] "{PASSWORD}"', 'TYPE [5] "password {PASSWORD}"', 'TYPE [6] "ana"'):
        assert not accepts(bad), bad
    alone = _matcher_for(action_grammar([user, BUTTON], texts=texts, secret_texts=["{PASSWORD}"]))
    assert alone('TYPE [5] "{PASSWORD}"')  # no password field shown: nothing to keep it for


def test_an_action_that_changes_nothing_is_not_offered():
    chosen = Element("8", "select", options=("Fiction", "Poetry"), selected_option="Fiction", interactive=True)
    only = Element("9", "select", options=("Fiction",), selected_option="Fiction", interactive=True)
    filled = Element("5", "input", input_type="text", value="ana", editable=True, interactive=True)
    grammar = action_grammar([chosen, only, filled, FIELD, BUTTON], texts=["ana", "Poetry"])
    accepts = _matcher_for(grammar)
    assert accepts('SELECT [8] "Poetry"') and accepts('TYPE [7] "ana"') and accepts('TYPE [5] "Poetry"')
    for bad in ('SELECT [8] "Fiction"', 'SELECT [9] "Fiction"', 'TYPE [5] "ana"'):
        assert not accepts(bad), bad
    assert "start: click | type | select" in grammar
    nothing_new = action_grammar([only, filled, BUTTON], texts=["ana"])
    assert nothing_new.split("\n")[0] == "start: click"


def test_select_offers_only_the_options_the_task_names():
    author = Element("37", "select", options=("---------", "Ada Haddad", "Keiko Moreau"), interactive=True)
    genre = Element("39", "select", options=("Fiction", "Poetry"), interactive=True)
    grammar = action_grammar([author, genre, BUTTON], task="Add a book by Keiko Moreau, published in 2007.")
    accepts = _matcher_for(grammar)
    assert accepts('SELECT [37] "Keiko Moreau"') and not accepts('SELECT [37] "Ada Haddad"')
    assert accepts('SELECT [39] "Poetry"') and accepts('SELECT [39] "Fiction"')  # names none: any
    done = Element("37", "select", options=author.options, selected_option="Keiko Moreau", interactive=True)
    grammar = action_grammar([done, BUTTON], task="Add a book by Keiko Moreau.")
    assert grammar.split("\n")[0] == "start: click"  # the named option is chosen: nothing left to select


def test_a_number_field_takes_only_numbers():
    year = Element("47", "input", input_type="number", editable=True, interactive=True)
    title = Element("35", "input", input_type="text", editable=True, interactive=True)
    accepts = _matcher_for(action_grammar([year, title, BUTTON], texts=["The Burning Compass", "2007"]))
    assert accepts('TYPE [47] "2007"') and accepts('TYPE [35] "The Burning Compass"')
    assert not accepts('TYPE [47] "The Burning Compass"')


@pytest.mark.slow
def test_hot_sampling_with_every_verb_always_parses(default_model):
    """With every verb offered, hot samples still parse, name a shown element and copy
    STOP answers from the page's text."""
    rng = random.Random(1)
    verbs = set()
    for trial in range(40):
        candidates = _random_candidates(rng)
        texts = [e.text for e in candidates if e.text] + list(PAGE)
        listing = "\n".join(f"[{e.id}] {e.describe()}" for e in candidates)
        prompt = default_model.format_chat([{"role": "user", "content": f"Elements:\n{listing}\nNext action:"}])
        grammar = action_grammar(candidates, max_text_chars=20, verbs=ALL_VERBS, page_texts=texts)
        generation = default_model.generate(prompt, grammar, temperature=2.5, seed=trial, max_tokens=64)
        action = parse_action(generation.text, candidates)
        verbs.add(action.verb)
        if action.verb == "STOP" and action.argument is not None:  # a run of the text's words
            assert any(action.argument in " ".join(t.split()) for t in texts), action
        if action.verb == "PRESS":
            assert action.argument in KEYS
    assert len(verbs) >= 5, verbs
