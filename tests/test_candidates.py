"""The default ranker, with the real MiniLM embedder."""

from webagent.browser.observation import Element, Observation
from webagent.candidates import HybridRanker


def _page(*elements: Element) -> Observation:
    return Observation(url="http://127.0.0.1/", title="t", elements=elements)


def test_ranker_puts_the_named_element_first(embedder):
    page = _page(
        Element("1", "button", text="Cancel", interactive=True),
        Element("2", "button", text="Submit", interactive=True),
        Element("3", "a", text="Privacy policy", interactive=True),
        Element("4", "input", label="Email address", editable=True, interactive=True),
        Element("5", "div", text="Welcome to the shop"),
    )
    ranker = HybridRanker(embedder)
    assert ranker.rank("Click the Submit button", page, [], k=5)[0].id == "2"
    assert ranker.rank("Type your e-mail", page, [], k=5)[0].id == "4"
    assert ranker.rank("open the privacy policy link", page, [], k=5)[0].id == "3"


def test_ranker_keeps_top_k_sorted_and_skips_hidden_and_disabled(embedder):
    page = _page(
        *(Element(str(i), "button", text=f"Button {i}", interactive=True) for i in range(20)),
        Element("h", "button", text="Submit", visible=False, interactive=True),
        Element("d", "button", text="Submit", enabled=False, interactive=True),
    )
    ranked = HybridRanker(embedder).rank("Submit", page, [], k=7)
    assert len(ranked) == 7
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    assert not {"h", "d"} & {c.id for c in ranked}


def test_semantic_similarity_helps_without_word_overlap(embedder):
    page = _page(
        Element("1", "button", text="Remove item", interactive=True),
        Element("2", "button", text="Add to basket", interactive=True),
    )
    ranked = HybridRanker(embedder).rank("put it in my shopping cart", page, [], k=2)
    assert ranked[0].id == "2"
    assert ranked[0].semantic > ranked[1].semantic
