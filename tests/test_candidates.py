"""The default ranker, with the real MiniLM embedder."""

from webagent.browser.observation import Element, Observation
from webagent.candidates import HybridRanker, RankerWeights, revealers, untyped_values


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


def test_negative_bm25_scores_count_as_no_evidence():
    from webagent.candidates import normalise_bm25

    assert normalise_bm25([-0.3, -0.1, -0.2]) == [0.0, 0.0, 0.0]  # was -0.3 / 1e-9 = -3e8
    assert normalise_bm25([2.0, -1.0, 1.0]) == [1.0, 0.0, 0.5]
    assert normalise_bm25([]) == []


def test_a_term_on_every_element_does_not_blow_up_the_scores(embedder):
    buttons = tuple(Element(str(i), "button", text=f"Save item {i}", interactive=True) for i in range(3))
    ranked = HybridRanker(embedder).rank("Save", Observation("http://x/", "t", buttons), [], k=3)
    assert all(-1.0 <= c.score <= 1.0 and c.lexical == 0.0 for c in ranked)


def test_a_big_page_embeds_only_the_best_lexical_elements(embedder):
    """6,000 elements: the named one still comes first, and only `semantic_limit` texts are embedded."""
    elements = tuple(Element(str(i), "a", text=f"row {i} details", interactive=True) for i in range(6000))
    target = Element("6000", "button", text="Export spreadsheet", interactive=True)
    observation = Observation("http://x/", "t", (*elements, target))
    seen: list[int] = []

    class Counting:
        def embed(self, texts):
            seen.append(len(texts))
            return embedder.embed(texts)

    ranked = HybridRanker(Counting(), semantic_limit=64).rank("Export the spreadsheet", observation, [], k=5)
    assert ranked[0].id == "6000" and seen == [65]  # the query and 64 elements


def test_untyped_values_are_the_quoted_strings_and_numbers_not_yet_typed():
    task = 'Add a book titled "The Burning Compass" by Keiko Moreau, published in 2007.'
    assert untyped_values(task, []) == ["The Burning Compass", "2007"]
    assert untyped_values(task, ['TYPE [35] "The Burning Compass"', "CLICK [4]"]) == ["2007"]
    assert untyped_values(task, ['TYPE [35] "The Burning Compass"', 'TYPE [47] "2007"']) == []
    assert untyped_values("Sort the books by title.", []) == []


def test_an_empty_field_moves_up_while_the_task_has_a_value_to_type(embedder):
    """Django's search box is labelled by an icon ("Search"); for "Search ... for X" the
    links and checkboxes holding X outrank it on words. The typing prior puts it ahead of
    the Search button, and once the value is typed it drops back."""
    page = _page(
        *(Element(str(i), "a", text=f"The {a} Mirror", interactive=True) for i, a in enumerate(("Broken", "Silent"))),
        *(
            Element(f"c{i}", "input", input_type="checkbox", label=f"Select - The {a} Mirror", interactive=True)
            for i, a in enumerate(("Broken", "Silent", "Frozen"))
        ),
        Element("s", "button", text="Search", interactive=True),
        Element("b", "a", text="Books", interactive=True),
        Element("f", "input", input_type="text", label="Search", editable=True, interactive=True),
    )
    task = 'Search the books for "Mirror".'

    def order(weights: RankerWeights, history=()) -> list[str]:
        return [c.id for c in HybridRanker(embedder, weights).rank(task, page, list(history), k=8)]

    plain, prior = order(RankerWeights(typing=0.0)), order(RankerWeights())
    assert plain.index("f") > plain.index("s") and prior.index("f") < prior.index("s")
    assert order(RankerWeights(), ['TYPE [f] "Mirror"']).index("f") > prior.index("f")


def test_a_closed_folder_holding_the_named_item_moves_up_until_the_item_shows(embedder):
    """navigate-tree's shape: the asked file is in the page's markup but hidden in a closed
    folder. Every folder row says "folder", as the task does, so words cannot tell which
    to open; the hidden item's nearest visible ancestor can. Once it shows, no prior."""

    def tree(open_: bool) -> Observation:
        folders = []
        for i, name in enumerate(("Cristin", "Tora", "Leonie")):
            folders += [
                Element(f"li{i}", "li", text=name, attributes=(("class", "expandable"),)),
                Element(f"hit{i}", "div", parent_id=f"li{i}", attributes=(("class", "hitarea"),)),
                Element(f"span{i}", "span", text=name, parent_id=f"li{i}", attributes=(("class", "folder"),)),
            ]
        inside = Element("emile", "li", text="Emile", parent_id="li1", visible=open_)
        return _page(*folders, inside)

    task = 'Navigate through the file tree. Find and click on the folder or file named "Emile".'
    ranked = HybridRanker(embedder).rank(task, tree(False), [], k=9)
    plain = HybridRanker(embedder, RankerWeights(reveal=0.0)).rank(task, tree(False), [], k=9)
    assert ranked[0].id == "span1" and plain[0].id != "span1"
    boosted = {c.id: c.score - p.score for c in ranked for p in plain if p.id == c.id}
    assert {i for i, up in boosted.items() if up > 0} == {"li1", "hit1", "span1"}
    assert HybridRanker(embedder).rank(task, tree(True), [], k=9)[0].id == "emile"


def test_a_tab_that_links_to_the_hidden_panel_holding_the_named_link_moves_up(embedder):
    """Tabs: the asked link is in a hidden panel; the tab whose href points at that panel
    (or anything inside it) is what reveals it, though it shares no word with the task."""
    tabs = [
        Element(f"t{i}", "a", text=f"Tab #{i}", interactive=True, attributes=(("href", f"#tabs-{i}"),))
        for i in (1, 2, 3)
    ]
    panels = [
        Element("p1", "div", attributes=(("id", "tabs-1"),)),
        Element("p2", "div", visible=False, attributes=(("id", "tabs-2"),)),
        Element("x", "span", text="velit", parent_id="p1", interactive=True),
        Element("y", "span", text="magna", parent_id="p2", visible=False, interactive=True),
    ]
    page = _page(*tabs, *panels)
    task = 'Switch between the tabs to find and click on the link "magna".'
    assert "t2" in revealers(task, page) and not {"t1", "t3"} & revealers(task, page)
    assert HybridRanker(embedder).rank(task, page, [], k=5)[0].id == "t2"
