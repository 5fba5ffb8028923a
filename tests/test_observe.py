"""Observation of real pages in a real Chromium: fixture pages under tests/fixtures/."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from bs4 import BeautifulSoup

from webagent.browser.observation import Element, Observation, cleaned_html
from webagent.browser.observe import observe
from webagent.errors import BrowserError


def load(browser, fixture_server, name: str, **kwargs) -> Observation:
    browser.goto(f"{fixture_server}/{name}")
    return browser.call(observe, **kwargs)


def by_dom_id(obs: Observation, dom_id: str) -> Element:
    """The element whose HTML id attribute is dom_id."""
    found = [el for el in obs.elements if dict(el.attributes).get("id") == dom_id]
    assert len(found) == 1, f"{len(found)} elements with id={dom_id!r} in {[el.describe() for el in obs.elements]}"
    return found[0]


def has_box(el: Element) -> bool:
    return el.box[2] > 0 and el.box[3] > 0


# -- fields of each kind of element ------------------------------------------------


def test_page_url_and_title(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    assert obs.url == f"{fixture_server}/controls.html"
    assert obs.title == "Controls"
    assert obs.last_error is None
    assert obs.screenshot is None


def test_buttons_and_links(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    go = by_dom_id(obs, "go")
    assert (go.tag, go.text, go.input_type) == ("button", "Go", "")
    assert go.interactive and go.visible and go.enabled and not go.editable
    assert has_box(go)
    link = by_dom_id(obs, "more")
    assert (link.tag, link.text) == ("a", "Show more")
    assert dict(link.attributes)["href"] == "#"
    div = by_dom_id(obs, "jsdiv")
    assert (div.tag, div.text) == ("div", "Press the div")
    assert div.visible and has_box(div)


def test_explicit_role_and_aria_labelledby(browser, fixture_server):
    toggle = by_dom_id(load(browser, fixture_server, "controls.html"), "toggle")
    assert toggle.role == "switch"
    assert toggle.label == "Dark mode"
    assert toggle.text == "Toggle"
    assert toggle.checked is False
    assert toggle.interactive


def test_text_fields(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    first = by_dom_id(obs, "first")
    assert (first.tag, first.input_type, first.label, first.value) == ("input", "text", "First name", "Ada")
    assert first.editable and first.enabled and has_box(first)
    assert by_dom_id(obs, "city").label == "City of birth"
    email = by_dom_id(obs, "email")
    assert (email.input_type, email.placeholder, email.value) == ("email", "you@example.com", "")
    notes = by_dom_id(obs, "notes")
    assert (notes.tag, notes.label, notes.value, notes.text) == ("textarea", "Notes", "", "")
    assert notes.editable
    editor = by_dom_id(obs, "editor")
    assert (editor.tag, editor.label, editor.value) == ("div", "Editor", "Draft text")
    assert editor.editable and editor.interactive
    secret = by_dom_id(obs, "secret")
    assert (secret.input_type, secret.label) == ("password", "Password")
    assert secret.editable


def test_a_label_holding_only_an_icon_names_its_field_by_the_icon_alt(browser, fixture_server):
    obs = load(browser, fixture_server, "icon_label.html")
    assert by_dom_id(obs, "searchbar").label == "Search"  # Django admin's search box
    assert by_dom_id(obs, "plain").label == "Title"


def test_checkboxes(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    agree, news = by_dom_id(obs, "agree"), by_dom_id(obs, "news")
    assert (agree.input_type, agree.checked, agree.label) == ("checkbox", True, "I agree")
    assert (news.checked, news.label) == (False, "Newsletter")
    assert not agree.editable
    # Each checkbox sits inside its <label>, which is recorded for its text.
    label = obs.element(agree.parent_id)
    assert (label.tag, label.text) == ("label", "I agree")


def test_select(browser, fixture_server):
    color = by_dom_id(load(browser, fixture_server, "controls.html"), "color")
    assert color.tag == "select" and color.is_select
    assert color.options == ("Red", "Green", '"Quoted" and spaced', "Blue")
    assert color.selected_option == "Green"
    assert color.value == "Green"
    assert color.label == "Colour"
    assert color.text == ""  # not every option run together
    assert "options=Red|Green" in color.describe()


def test_hidden_and_disabled(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    assert by_dom_id(obs, "gone").visible is False
    assert by_dom_id(obs, "invisible").visible is False
    for dom_id in ("off", "off-input", "fs-off"):
        el = by_dom_id(obs, dom_id)
        assert el.enabled is False, dom_id
        assert el.visible is True, dom_id
        assert "disabled" in el.describe()
    actionable = {el.id for el in obs.actionable}
    for dom_id in ("gone", "invisible", "off", "off-input", "fs-off"):
        assert by_dom_id(obs, dom_id).id not in actionable
    assert by_dom_id(obs, "go").id in actionable


def test_every_visible_element_has_a_box(browser, fixture_server):
    for page in ("controls.html", "frames.html", "shadow.html", "form.html"):
        obs = load(browser, fixture_server, page)
        assert obs.elements
        for el in obs.elements:
            if el.visible and el.tag != "option":
                assert has_box(el), f"{page}: {el.describe()} has box {el.box}"


def test_context_is_the_nearest_heading_before(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    assert by_dom_id(obs, "go").context == "Buttons and links"
    assert by_dom_id(obs, "first").context == "Text fields"
    assert by_dom_id(obs, "color").context == "Choices"
    # A legend labels its own fieldset, and only that.
    assert by_dom_id(obs, "fs-off").context == "Locked"
    assert by_dom_id(obs, "plain").context == "Hidden and disabled"
    headings = [el for el in obs.elements if el.tag in ("h1", "h2")]
    assert all(h.context == h.text for h in headings)


def test_plain_text_is_recorded(browser, fixture_server):
    plain = by_dom_id(load(browser, fixture_server, "controls.html"), "plain")
    assert (plain.tag, plain.text, plain.interactive) == ("p", "Just some text to read.", False)


# -- iframes and shadow roots -----------------------------------------------------


def test_iframe_elements(browser, fixture_server):
    obs = load(browser, fixture_server, "frames.html")
    frame = by_dom_id(obs, "inner")
    assert frame.tag == "iframe" and frame.frame == ()
    button, field = by_dom_id(obs, "inner-button"), by_dom_id(obs, "inner-input")
    for el in (button, field, by_dom_id(obs, "inner-status")):
        assert el.frame == (frame.id,)
        assert el.parent_id == frame.id
    assert button.text == "Inner button" and button.interactive
    assert field.placeholder == "Inner field" and field.editable
    assert by_dom_id(obs, "inner-hidden").visible is False
    # Boxes are in page coordinates: past the frame's 5px border and the inner
    # body's default 8px margin.
    fx, fy, fw, fh = frame.box
    bx, by, bw, bh = button.box
    assert bx == pytest.approx(fx + 5 + 8)
    assert by == pytest.approx(fy + 5 + 8)
    assert bx + bw <= fx + fw and by + bh <= fy + fh
    assert by_dom_id(obs, "outer-status").frame == ()


def test_shadow_root_elements(browser, fixture_server):
    obs = load(browser, fixture_server, "shadow.html")
    button = by_dom_id(obs, "shadow-button")
    field = by_dom_id(obs, "shadow-input")
    assert (button.tag, button.text, button.visible) == ("button", "Shadow button", True)
    assert (field.tag, field.placeholder, field.editable) == ("input", "Shadow field", True)
    assert by_dom_id(obs, "shadow-status").text == "Shadow idle"
    assert by_dom_id(obs, "light").text == "Light text"
    assert button.frame == ()


# -- ids ---------------------------------------------------------------------------


def test_ids_are_unique_and_stable_across_snapshots(browser, fixture_server):
    first = load(browser, fixture_server, "controls.html")
    second = browser.call(observe)
    ids = [el.id for el in first.elements]
    assert len(ids) == len(set(ids))
    assert ids == [el.id for el in second.elements]
    assert [el.describe() for el in first.elements] == [el.describe() for el in second.elements]


def test_new_elements_get_new_ids(browser, fixture_server):
    before = load(browser, fixture_server, "dynamic.html")
    items_before = [el for el in before.elements if el.tag == "li"]
    assert [el.text for el in items_before] == ["Item 1", "Item 2"]
    browser.call(lambda page: page.click("#add"))
    after = browser.call(observe)
    old = {el.id: el for el in before.elements}
    for el in after.elements:
        if el.id in old:
            assert el.describe() == old[el.id].describe()
    added = [el for el in after.elements if el.id not in old]
    assert [el.text for el in added] == ["Item 3"]


def test_cloned_element_gets_its_own_id(browser, fixture_server):
    before = load(browser, fixture_server, "dynamic.html")
    original = next(el for el in before.elements if el.text == "Item 1")
    # cloneNode copies the data-webagent-id attribute along with the rest.
    browser.call(lambda page: page.click("#copy"))
    after = browser.call(observe)
    ids = [el.id for el in after.elements]
    assert len(ids) == len(set(ids)), ids
    copies = [el for el in after.elements if el.text == "Item 1"]
    assert len(copies) == 2
    assert copies[0].id == original.id  # the original keeps its id
    assert copies[1].id != original.id


# -- cleaned HTML and screenshot ------------------------------------------------------


def test_cleaned_html_keeps_backend_node_ids(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html")
    soup = BeautifulSoup(obs.html, "html.parser")
    tagged = soup.find_all(attrs={"backend_node_id": True})
    assert sorted(t["backend_node_id"] for t in tagged) == sorted(el.id for el in obs.elements)
    for el in obs.elements:
        node = soup.find(attrs={"backend_node_id": el.id})
        assert node.name == el.tag
    go = soup.find(attrs={"backend_node_id": by_dom_id(obs, "go").id})
    assert go.get_text() == "Go" and go["id"] == "go"
    first = soup.find(attrs={"backend_node_id": by_dom_id(obs, "first").id})
    assert first["value"] == "Ada" and first["aria-label"] == "First name"
    gone = soup.find(attrs={"backend_node_id": by_dom_id(obs, "gone").id})
    assert gone["hidden"] == "true"
    color = soup.find(attrs={"backend_node_id": by_dom_id(obs, "color").id})
    assert [o.get_text() for o in color.find_all("option")] == list(by_dom_id(obs, "color").options)
    assert color.find("option", selected=True).get_text() == "Green"
    # A recorded child sits inside its recorded parent.
    agree = by_dom_id(obs, "agree")
    node = soup.find(attrs={"backend_node_id": agree.id})
    assert node.parent["backend_node_id"] == agree.parent_id


def test_cleaned_html_nests_iframe_content(browser, fixture_server):
    obs = load(browser, fixture_server, "frames.html")
    soup = BeautifulSoup(obs.html, "html.parser")
    frame = soup.find("iframe")
    assert frame["backend_node_id"] == by_dom_id(obs, "inner").id
    inner = frame.find(attrs={"backend_node_id": by_dom_id(obs, "inner-button").id})
    assert inner is not None and inner.name == "button"


def _soup_html(elements) -> str:
    """The cleaned HTML as it was built before, through a BeautifulSoup tree: the reference
    the one-pass writer must reproduce character for character."""
    from webagent.browser.observation import SALIENT_ATTRIBUTES, _clip

    soup = BeautifulSoup("", "html.parser")
    root = soup.new_tag("html")
    soup.append(root)
    nodes = {}
    for el in elements:
        attrs = {"backend_node_id": el.id}
        for name, value in el.attributes:
            if name in SALIENT_ATTRIBUTES and value:
                attrs[name] = value[:200]
        if el.label and el.label != el.text:
            attrs.setdefault("aria-label", el.label[:200])
        if el.value and el.tag in ("input", "textarea"):
            attrs["value"] = el.shown_value[:200]
        if not el.visible:
            attrs["hidden"] = "true"
        tag = soup.new_tag(el.tag, attrs=attrs)
        if el.tag == "select":
            for option in el.options:
                opt = soup.new_tag("option")
                opt.string = option
                if option == el.selected_option:
                    opt["selected"] = "true"
                tag.append(opt)
        elif el.text and el.tag not in ("input", "textarea"):
            tag.string = _clip(el.text, 200)
        nodes[el.id] = tag
        (nodes.get(el.parent_id) or root).append(tag)
    return str(soup)


@pytest.mark.parametrize("name", ["controls.html", "frames.html", "real.html", "landmarks.html", "shadow.html"])
def test_cleaned_html_is_what_a_soup_would_write(browser, fixture_server, name):
    obs = load(browser, fixture_server, name)
    assert obs.html == _soup_html(obs.elements)


def test_cleaned_html_escapes_and_quotes_as_a_soup_does():
    tricky = (
        Element("1", "div", text='a < b & "c" > d'),
        Element("2", "input", attributes=(("title", 'say "hi"'), ("name", 'it\'s "x"')), parent_id="1"),
        Element("3", "select", options=("A&B", "<C>"), selected_option="<C>", parent_id="9"),
        Element("4", "img", text="alt text", visible=False, parent_id="3"),
    )
    assert cleaned_html(tricky) == _soup_html(tricky)


def test_a_page_that_changed_json_is_still_read(browser, fixture_server):
    """Old Prototype.js adds Array.prototype.toJSON, which breaks JSON.stringify: the
    snapshot then comes back as an object, and reads the same."""
    plain = load(browser, fixture_server, "controls.html")
    browser.call(lambda page: page.evaluate("Array.prototype.toJSON = function () { return 'broken'; }"))
    patched = browser.call(observe)
    assert patched.elements == plain.elements and patched.html == plain.html


def test_an_unchanged_element_is_read_once_and_a_changed_one_again(browser, fixture_server):
    """Lines of the snapshot that did not change since the last look give the very same
    Element (read once); typing into a field gives that field a new one."""
    before = load(browser, fixture_server, "controls.html")
    field = next(el for el in before.elements if el.editable)
    browser.call(lambda page: page.fill(f"[data-webagent-id='{field.id}']", "changed"))
    after = browser.call(observe)
    changed = [el for el in after.elements if el.id == field.id]
    assert [el.value for el in changed] == ["changed"]
    kept = [el for el in after.elements if el.id != field.id and el in before.elements]
    assert kept and all(any(el is old for old in before.elements) for el in kept)


def test_only_changed_lines_cross_and_the_page_reads_the_same_as_read_whole(browser, fixture_server):
    """After the first look, lines the reader holds cross as "=id": what is read equals a
    snapshot sent whole, a reader holding an older snapshot gets every line, and a page
    that navigated sends every line."""
    from webagent.browser.observe import read_snapshot, snapshot_script

    load(browser, fixture_server, "controls.html")

    def whole(page):
        return read_snapshot(page.evaluate(snapshot_script(), {"maxText": 200}))

    def look(page, since):
        raw = page.evaluate(snapshot_script(), {"maxText": 200, "since": since})
        return raw, json.loads(raw.partition("\n")[0])

    def change(page):
        page.fill("input[type=text]", "changed")

    first, first_head = browser.call(lambda page: look(page, None))
    assert "since" not in first_head and not any(line.startswith("=") for line in first.split("\n")[1:])
    _, _, held = read_snapshot(first)
    browser.call(change)
    delta, head = browser.call(lambda page: look(page, first_head["token"]))
    body = delta.split("\n")[1:]
    assert head["since"] == first_head["token"]
    assert sum(not line.startswith("=") for line in body) == 1 and len(body) == len(held)
    fields, elements, _ = read_snapshot(delta, held)
    assert elements == browser.call(whole)[1] and any(el.value == "changed" for el in elements)
    # The page now holds another snapshot (the whole one just read): an old token gets every line.
    stale, stale_head = browser.call(lambda page: look(page, head["token"]))
    assert "since" not in stale_head and not any(line.startswith("=") for line in stale.split("\n")[1:])
    with pytest.raises(BrowserError, match="does not hold"):
        read_snapshot(delta, {})
    # observe() keeps its own: its second look is a delta, and reads what a whole snapshot reads.
    browser.call(observe)
    browser.call(lambda page: page.fill("input[type=text]", "again"))
    assert browser.call(observe).elements == browser.call(whole)[1]
    # A scroll moves every element and changes no record: only places cross, and boxes read right.
    browser.call(lambda page: page.evaluate("document.body.style.paddingBottom = '3000px'; window.scrollBy(0, 40)"))
    _, before_scroll = browser.call(lambda page: look(page, None))
    browser.call(lambda page: page.evaluate("window.scrollBy(0, 25)"))
    scrolled, _ = browser.call(lambda page: look(page, before_scroll["token"]))
    assert all(line.startswith("=") for line in scrolled.split("\n")[1:])
    assert browser.call(observe).elements == browser.call(whole)[1]
    reloaded = load(browser, fixture_server, "controls.html")
    assert reloaded.elements == browser.call(whole)[1]


def test_a_malformed_snapshot_line_is_a_clear_error():
    from webagent.browser.observe import read_snapshot
    from webagent.errors import BrowserError

    page = '{"url": "http://x/", "title": "t", "viewport": [800, 600]}'
    fields, elements, _ = read_snapshot(page + '\n{"id": 1, "tag": "a", "text": "ok"}\t1,2,30,4.5,below')
    assert fields["url"] == "http://x/" and [(el.id, el.text) for el in elements] == [("1", "ok")]
    assert elements[0].box == (1, 2, 30, 4.5) and elements[0].viewport == "below"
    assert read_snapshot(page)[1] == ()
    with pytest.raises(BrowserError, match="not JSON"):
        read_snapshot(page + '\n{"id": 1, "tag"\t1,2,3,4')
    with pytest.raises(BrowserError, match="malformed"):
        read_snapshot(page + '\n{"tag": "a"}\t1,2,3,4')
    with pytest.raises(BrowserError, match="no place"):
        read_snapshot(page + '\n{"id": 2, "tag": "a"}')
    with pytest.raises(BrowserError, match="bad place"):
        read_snapshot(page + '\n{"id": 2, "tag": "a"}\t1,x,3,4')


def test_a_moved_element_is_equal_to_one_built_in_place():
    el = Element("1", "a", text="t", box=(1.0, 2.0, 3.0, 4.0))
    moved = el.placed((1.0, 50.0, 3.0, 4.0), "below")
    assert moved == Element("1", "a", text="t", box=(1.0, 50.0, 3.0, 4.0), viewport="below")
    assert hash(moved) == hash(Element("1", "a", text="t", box=(1.0, 50.0, 3.0, 4.0), viewport="below"))
    assert el.box == (1.0, 2.0, 3.0, 4.0) and el.placed(el.box, "") is el


def test_screenshot_on_request_is_png(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html", screenshot=True)
    assert obs.screenshot is not None
    assert obs.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(obs.screenshot) > 1000


def test_last_error_is_carried(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html", last_error="CLICK [9] failed: nope")
    assert obs.last_error == "CLICK [9] failed: nope"


def test_root_limits_the_snapshot(browser, fixture_server):
    obs = load(browser, fixture_server, "controls.html", root="#fields")
    dom_ids = {dict(el.attributes).get("id") for el in obs.elements}
    assert "first" in dom_ids and "secret" in dom_ids
    assert "go" not in dom_ids and "color" not in dom_ids


# -- observing around navigation ------------------------------------------------------


def test_observe_right_after_navigation_commits(browser, fixture_server):
    load(browser, fixture_server, "nav.html")
    browser.call(lambda page: page.goto(f"{fixture_server}/nav_target.html", wait_until="commit"))
    obs = browser.call(observe)
    assert obs.url == f"{fixture_server}/nav_target.html"
    assert obs.title == "Target page"
    assert by_dom_id(obs, "arrived").text == "You are on the target page."


def test_observe_after_script_navigation(browser, fixture_server):
    load(browser, fixture_server, "nav.html")
    browser.call(lambda page: page.evaluate("location.href = 'nav_target.html?via=eval'"))
    browser.call(lambda page: page.wait_for_url("**/nav_target.html?via=eval"))
    obs = browser.call(observe)
    assert obs.title == "Target page"
    assert by_dom_id(obs, "back").tag == "a"


class _SlowPage(http.server.BaseHTTPRequestHandler):
    """A page whose second half arrives a second after its first."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>Slow</title><body><h1>Early part</h1>" + b" " * 4096)
        self.wfile.flush()
        time.sleep(1.0)
        self.wfile.write(b'<p id="late">Late part</p></body>')

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slow_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowPage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_observe_waits_for_a_page_still_arriving(browser, slow_server):
    browser.call(lambda page: page.goto(f"{slow_server}/slow", wait_until="commit"))
    obs = browser.call(observe)
    assert obs.title == "Slow"
    assert by_dom_id(obs, "late").text == "Late part"


# -- what real pages need: roles, link targets, landmarks, the viewport ---------------


def test_implicit_roles_without_a_role_attribute(browser, fixture_server):
    obs = load(browser, fixture_server, "landmarks.html")
    roles = {
        "install": "link",
        "nohref": "",  # an <a> without href is no link
        "logo-img": "img",
        "spacer": "presentation",  # alt="" marks an image as decoration
        "title": "heading",
        "q": "searchbox",
        "city": "combobox",  # a text field with a list of suggestions
        "mail-field": "textbox",
        "comment": "textbox",
        "go": "button",
        "save": "button",
        "remember": "checkbox",
        "yes": "radio",
        "one": "combobox",
        "many": "listbox",
    }
    for dom_id, role in roles.items():
        el = by_dom_id(obs, dom_id)
        assert (el.role, el.explicit_role) == (role, False), dom_id
    custom = by_dom_id(obs, "custom")  # role="Button tab": the first role, as ARIA reads it
    assert (custom.role, custom.explicit_role) == ("button", True)
    toggle = by_dom_id(load(browser, fixture_server, "controls.html"), "toggle")
    assert (toggle.role, toggle.explicit_role) == ("switch", True)


def test_describe_names_only_explicit_roles(browser, fixture_server):
    """MiniWoB++ prompts and the ranker read describe(): implicit roles stay out of it."""
    obs = load(browser, fixture_server, "landmarks.html")
    assert by_dom_id(obs, "install").describe() == 'a text="Installation"'
    assert by_dom_id(obs, "custom").describe() == 'div role=button text="Custom"'


def test_link_targets_are_paths(browser, fixture_server):
    obs = load(browser, fixture_server, "landmarks.html")
    assert by_dom_id(obs, "install").target == "/docs/install.html?lang=en"  # same site: path and query, no #
    assert by_dom_id(obs, "logo").target == "/index.html"
    assert by_dom_id(obs, "elsewhere").target == "example.org/other/page?x=1"  # another site: its host first
    assert by_dom_id(obs, "mail").target == "mailto:team@example.org"
    for dom_id in ("anchor", "script", "nohref"):  # nowhere to go
        assert by_dom_id(obs, dom_id).target == "", dom_id
    assert by_dom_id(obs, "save").target == ""


def test_a_link_showing_only_an_image_is_named_by_its_alt(browser, fixture_server):
    logo = by_dom_id(load(browser, fixture_server, "landmarks.html"), "logo")
    assert (logo.text, logo.label) == ("", "Project logo")


def test_landmarks_and_headings_as_context(browser, fixture_server):
    obs = load(browser, fixture_server, "landmarks.html")
    assert by_dom_id(obs, "logo").landmark == "header"
    assert by_dom_id(obs, "install").landmark == 'nav "Main menu"'
    assert by_dom_id(obs, "title").landmark == "main"
    q = by_dom_id(obs, "q")
    assert (q.landmark, q.context) == ('form "Search the docs"', "Getting started")
    assert by_dom_id(obs, "save").landmark == "form"  # an unnamed form still says where a field is
    topic = by_dom_id(obs, "topic")
    assert (topic.landmark, topic.context) == ('region "Topics"', "More topics")
    assert by_dom_id(obs, "aside-text").landmark == "aside"
    assert by_dom_id(obs, "foot").landmark == "footer"
    assert by_dom_id(load(browser, fixture_server, "controls.html"), "go").landmark == ""


def test_whether_an_element_is_in_the_viewport(browser, fixture_server):
    obs = load(browser, fixture_server, "landmarks.html")
    assert obs.viewport[0] > 0 and obs.viewport[1] > 0
    title, far = by_dom_id(obs, "title"), by_dom_id(obs, "far")
    assert title.in_viewport and title.viewport == ""
    assert far.visible and not far.in_viewport and far.viewport == "below"
    browser.call(lambda page: page.evaluate("document.getElementById('far').scrollIntoView()"))
    obs = browser.call(observe)
    assert by_dom_id(obs, "far").in_viewport
    assert by_dom_id(obs, "title").viewport == "above"
    # Not shown at all is not "off screen".
    gone = by_dom_id(load(browser, fixture_server, "controls.html"), "gone")
    assert not gone.visible and not gone.in_viewport and gone.viewport == ""


def test_the_prompt_line_of_a_real_page(browser, fixture_server):
    obs = load(browser, fixture_server, "landmarks.html")
    line = {dom_id: by_dom_id(obs, dom_id).line() for dom_id in ("install", "q", "go", "title", "far", "remember")}
    assert line["install"] == 'link text="Installation" href=/docs/install.html?lang=en in nav "Main menu"'
    assert line["q"] == 'searchbox placeholder="Search" in form "Search the docs" under "Getting started"'
    assert line["go"] == 'button type=submit value="Go" in form "Search the docs" under "Getting started"'
    assert line["title"] == 'h1 text="Getting started" in main'  # a heading is not "under" itself
    assert line["far"] == 'link text="Far below" href=/nav_target.html in main under "More topics" (below)'
    assert line["remember"] == 'checkbox label="Remember me" unchecked in form under "Getting started"'


def test_real_site_prompts_show_the_page_and_the_lines_miniwob_keeps_describe(browser, fixture_server):
    from webagent.actions import ALL_VERBS
    from webagent.candidates import Candidate
    from webagent.policy import state_text

    obs = load(browser, fixture_server, "landmarks.html", verbs=ALL_VERBS)
    candidates = [Candidate(by_dom_id(obs, d), 1.0) for d in ("install", "q")]
    text = state_text("Open the installation page", obs, candidates, [])
    assert f"Page: Docs home ({fixture_server}/landmarks.html)" in text
    assert f"[{candidates[0].id}] {candidates[0].element.line()}" in text
    assert "in nav" in text and "href=/docs/install.html" in text
    basic = load(browser, fixture_server, "landmarks.html")  # MiniWoB++'s verbs: the prompt as measured
    candidates = [Candidate(by_dom_id(basic, d), 1.0) for d in ("install", "q")]
    text = state_text("Open the installation page", basic, candidates, [])
    assert "Page:" not in text and "in nav" not in text
    assert f"[{candidates[0].id}] {candidates[0].element.describe()}" in text
