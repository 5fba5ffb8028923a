"""The page text a question's answer is read from (webagent.passages)."""

from webagent.browser.observation import Element
from webagent.passages import is_question, passages


def _texts(*texts: str, hidden: tuple[str, ...] = ()) -> list[Element]:
    return [Element(str(i), "td", text=t, visible=t not in hidden) for i, t in enumerate(texts)]


def test_questions_are_told_from_orders():
    assert is_question('What is the ISBN of the book "The Hidden Meadow"?')
    assert is_question("which file has the newest version")
    assert is_question("Is it raining?")
    assert not is_question('Open the change page of the book "The Frozen Mirror".')
    assert not is_question("Whatever is on the page, click OK.")


def test_a_passage_is_the_best_matching_text_and_what_follows_it():
    """A list row: title, author, year, ISBN, genre; the answer follows what names the row."""
    page = _texts(
        "Title", "Author", "Year", "ISBN",
        "The Hidden Tower", "Ada Marlow", "1990", "9781111111111", "Fiction",
        "The Hidden Meadow", "Farid Pereira", "1977", "9786022345007", "History",
        "The Quiet River", "Hugo Sato", "2001", "9782222222222", "Poetry",
    )  # fmt: skip
    shown = passages('What is the ISBN of the book "The Hidden Meadow"?', page, hits=1)
    assert shown == ["The Hidden Meadow | Farid Pereira | 1977 | 9786022345007 | History"]
    several = passages('What is the ISBN of the book "The Hidden Meadow"?', page)
    assert several[0] == "ISBN | The Hidden Tower | Ada Marlow | 1990 | 9781111111111"  # page order
    assert "The Hidden Meadow | Farid Pereira | 1977 | 9786022345007 | History" in several


def test_passages_skip_hidden_text_stay_short_and_need_a_matching_word():
    page = _texts("timeout", "65 seconds", "port", "8080", hidden=("65 seconds",))
    assert passages('What is the timeout of the page "Glossary"?', page, hits=1, after=1) == ["timeout | port"]
    assert passages("What is it?", page) == []  # nothing but question words
    long = _texts("timeout " + "word " * 100, "65 seconds")
    assert passages("What is the timeout?", long) == []  # over the word budget
