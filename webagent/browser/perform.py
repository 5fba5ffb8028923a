"""The Playwright call of each verb (webagent.actions.VERBS names them).

Each function takes the page, the element's locator (None for verbs without a
target) and the action, and returns None on success or a one-line reason it
failed; the checks that an action had its effect live here, next to the call.
Runs on the browser's owner thread.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

from webagent.browser.tabs import tabs_of

if TYPE_CHECKING:
    from webagent.actions import Action

_ARM_CLICK_PROBE = """el => {
  el.ownerDocument.defaultView.__webagentClicked = false;
  el.addEventListener('click', () => { el.ownerDocument.defaultView.__webagentClicked = true; },
                      {once: true, capture: true});
}"""
_READ_CLICK_PROBE = "el => el.ownerDocument.defaultView.__webagentClicked"

# The option whose text, cleaned the way snapshot.js cleans it, is the argument.
_FIND_OPTION = """(el, [label, maxText]) => {
  const clean = (s) => (s || "").replace(/\\s+/g, " ").trim().slice(0, maxText);
  return Array.from(el.options || []).findIndex((o) => clean(o.textContent) === label);
}"""
_SELECTED_OPTION = (
    "el => el.selectedIndex < 0 ? null : el.options[el.selectedIndex].textContent.replace(/\\s+/g, ' ').trim()"
)
_READ_FIELD = "el => el.isContentEditable ? el.textContent : el.value"

# Input types that take typed characters; the others (date, color, ...) are only filled.
_KEYED_INPUT_TYPES = {"", "text", "search", "email", "url", "tel", "password", "number"}
_MAX_OPTION_TEXT = 200  # snapshot.js's maxText, which clips option labels


def _ready(locator, timeout_ms: int, *, editable: bool = False):
    """The element's handle, or a reason it cannot be acted on now. Hidden and
    disabled elements fail at once rather than after Playwright's wait."""
    try:
        handle = locator.element_handle(timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - not attached within the timeout
        return None, "the element is no longer on the page"
    if not handle.is_visible():
        return None, "the element is not visible"
    if not handle.is_enabled():
        return None, "the element is disabled"
    if editable and not handle.is_editable():  # raises for elements that are never editable
        return None, "the element is read-only"
    return handle, None


# The first point of a grid over the element's box r (centre first) where the element
# itself, or something inside it, is the topmost thing: [fx, fy], fractions of the box.
_FIRST_VISIBLE_POINT = """function firstVisiblePoint(el, r) {
  const doc = el.getRootNode().elementFromPoint ? el.getRootNode() : el.ownerDocument;
  const fractions = [0.5, 0.25, 0.75, 0.1, 0.9];
  for (const fy of fractions) for (const fx of fractions) {
    const top = doc.elementFromPoint(r.left + r.width * fx, r.top + r.height * fy);
    if (top && (top === el || el.contains(top))) return [fx, fy];
  }
  return null;
}"""

# That point in element coordinates, for Playwright's locator click.
_VISIBLE_POINT = f"""el => {{
  {_FIRST_VISIBLE_POINT}
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {{x: 0, y: 0, centre: true}};  // let Playwright judge it
  const point = firstVisiblePoint(el, r);
  return point && {{x: r.width * point[0], y: r.height * point[1], centre: point[0] === 0.5 && point[1] === 0.5}};
}}"""

# The element of the main document with webagent id `id`, as `el`; returned early from
# the function it opens: {absent} when it is not there (it may be in an iframe or a shadow
# root: the locator path finds those), else an error when it is hidden or disabled (as
# Playwright defines them, with the messages _ready gives).
_MAIN_ELEMENT = """const el = document.querySelector('[data-webagent-id="' + CSS.escape(id) + '"]');
  if (!el) return {absent: true};
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") {
    return {error: "the element is not visible"};
  }
  if (el.disabled || el.matches(":disabled") || el.getAttribute("aria-disabled") === "true") {
    return {error: "the element is disabled"};
  }"""


# The whole of a click's preparation in one call, for an element of the main document:
# found, visible and enabled (as Playwright defines them), scrolled into view, still
# for an animation frame (Playwright waits for two: this one is cut short when the
# box moved), the click probe armed, and the point to click (as _VISIBLE_POINT).
# Locator calls cost a round trip each, and the first on a page injects Playwright's
# helper script: on MiniWoB++ this path made a click three times faster.
_PREPARE_CLICK = f"""async (id) => {{
  {_MAIN_ELEMENT}
  {_FIRST_VISIBLE_POINT}
  // Chromium's own, as Playwright's scroll: through nested scrolling boxes, and only when needed.
  if (el.scrollIntoViewIfNeeded) el.scrollIntoViewIfNeeded(true); else el.scrollIntoView({{block: "center"}});
  let r = el.getBoundingClientRect();
  for (let frames = 0; frames < 10; frames++) {{
    await new Promise((done) => {{ requestAnimationFrame(() => done()); setTimeout(done, 50); }});
    const now = el.getBoundingClientRect();
    if (["left", "top", "width", "height"].every((k) => now[k] === r[k])) break;
    r = now;
  }}
  window.__webagentClicked = window.__webagentOpened = false;
  el.addEventListener("click", () => {{ window.__webagentClicked = true; }}, {{once: true, capture: true}});
  if (!window.__webagentOpen) {{  // a handler that opens a tab: the click then waits for it
    const open = window.__webagentOpen = window.open;
    window.open = function (...args) {{ window.__webagentOpened = true; return open.apply(this, args); }};
  }}
  const link = el.closest("a[target], area[target]"), form = el.form || el.closest("form");
  const target = ((link && link.target) || (form && form.target) || "").toLowerCase();
  const newTab = target !== "" && !["_self", "_parent", "_top"].includes(target);
  const point = firstVisiblePoint(el, r);
  if (!point) return {{error: "the element is covered by other elements"}};
  return {{x: r.left + r.width * point[0], y: r.top + r.height * point[1], newTab}};
}}"""


# After the pointer has arrived: hover styles may have changed the element (social-media's
# icons swap in an image on hover, and have no width until it loads: until then the pointer
# falls through, the hover ends, the icon is back, the hover starts again), so the press
# waits, a frame at a time (at most ten), until the element is where the pointer is *and*
# hovered, its hover styles applied; else the point is looked for again.
_UNDER_POINTER = f"""async ([id, x, y]) => {{
  {_FIRST_VISIBLE_POINT}
  const el = document.querySelector('[data-webagent-id="' + CSS.escape(id) + '"]');
  if (!el) return {{x, y}};  // gone with the hover: the click's probe says what became of it
  for (let frames = 0; frames < 10; frames++) {{
    const top = document.elementFromPoint(x, y);
    if (top && (top === el || el.contains(top)) && el.matches(":hover")) return {{x, y}};
    await new Promise((done) => {{ requestAnimationFrame(() => done()); setTimeout(done, 50); }});
  }}
  const r = el.getBoundingClientRect();
  const point = firstVisiblePoint(el, r);
  if (!point) return {{error: "the element is covered by other elements"}};
  return {{x: r.left + r.width * point[0], y: r.top + r.height * point[1]}};
}}"""


def click(page, locator, action: Action, timeout_ms: int) -> str | None:
    prepared = page.evaluate(_PREPARE_CLICK, action.element_id)
    if not prepared.get("absent"):  # in the main document: one call prepared it
        if "error" in prepared:
            return prepared["error"]
        tabs = tabs_of(page.context)
        open_tabs = len(tabs.pages) if tabs is not None else 0
        # The pointer arrives, then presses, as a person's does: a press sent with the
        # pointer's first move is hit-tested before the hover styles apply, and those may
        # move the element (social-media: every first click on an icon landed on the row behind).
        page.mouse.move(prepared["x"], prepared["y"])
        point = page.evaluate(_UNDER_POINTER, [action.element_id, prepared["x"], prepared["y"]])
        if "error" in point:
            return point["error"]
        page.mouse.click(point["x"], point["y"])
        try:
            delivered, opened = page.evaluate("() => [window.__webagentClicked, window.__webagentOpened]")
        except Exception:  # noqa: BLE001 - the page navigated away: the click landed
            return None
        if (prepared["newTab"] or opened) and tabs is not None and len(tabs.pages) == open_tabs:
            # The tab it opens arrives as an event: waited for, so the next step is taken on it.
            with contextlib.suppress(Exception):  # none came (a blocked popup): the page is observed as it is
                page.context.wait_for_event("page", timeout=timeout_ms)
        return None if delivered in (True, None) else "the click did not reach the element"
    return _click_in_frame(page, locator, timeout_ms)


def _click_in_frame(page, locator, timeout_ms: int) -> str | None:
    """A click through Playwright's locator: for elements inside iframes (or gone)."""
    handle, error = _ready(locator, timeout_ms)
    if error:
        return error
    handle.evaluate(_ARM_CLICK_PROBE)
    locator.scroll_into_view_if_needed(timeout=timeout_ms)
    point = handle.evaluate(_VISIBLE_POINT)
    if point is None:
        return "the element is covered by other elements"
    if point["centre"]:
        locator.click(timeout=timeout_ms)
    else:  # the centre is covered: click where the element can be seen, as a person would
        box = locator.bounding_box(timeout=timeout_ms)
        locator.page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    try:
        # Through the handle: an element the click removed still answers at once.
        delivered = handle.evaluate(_READ_CLICK_PROBE)
    except Exception:  # noqa: BLE001 - the page navigated away: the click landed
        return None
    return None if delivered in (True, None) else "the click did not reach the element"


# A text field of the main document made ready for typing in one call: found,
# visible, enabled and writable (the messages _ready gives), scrolled into view,
# focused and its content selected, so typed text replaces it as fill() does.
# "keyed": it takes typed characters; other inputs (date, color, ...) are filled.
_PREPARE_FIELD = f"""([id, keyedTypes]) => {{
  {_MAIN_ELEMENT}
  const tag = el.tagName;
  const type = tag === "INPUT" ? (el.getAttribute("type") || "").toLowerCase() : "";
  const field = tag === "TEXTAREA" || (tag === "INPUT" && keyedTypes.includes(type));
  if (!field && !el.isContentEditable) return {{keyed: false}};  // the locator's fill() judges it
  if (el.readOnly) return {{error: "the element is read-only"}};
  if (el.scrollIntoViewIfNeeded) el.scrollIntoViewIfNeeded(true);
  el.focus();
  if (field) el.select();
  else {{ const range = document.createRange(); range.selectNodeContents(el);
         const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range); }}
  return {{keyed: true, empty: (field ? el.value : el.textContent) === ""}};
}}"""
_READ_MAIN_FIELD = f"""(id) => {{
  const el = document.querySelector('[data-webagent-id="' + CSS.escape(id) + '"]');
  return el ? ({_READ_FIELD})(el) : null;
}}"""


def type_text(page, locator, action: Action, timeout_ms: int) -> str | None:
    text = action.argument or ""
    prepared = page.evaluate(_PREPARE_FIELD, [action.element_id, sorted(_KEYED_INPUT_TYPES)])
    if prepared.get("error"):
        return prepared["error"]
    if prepared.get("keyed"):  # focused, its content selected: typing replaces it
        if text:
            page.keyboard.insert_text(text[:-1])  # at once, as fill() does
            page.keyboard.type(text[-1])  # a real key press, for pages listening to keys (autocomplete)
        elif not prepared["empty"]:
            page.keyboard.press("Delete")
        return _typed(page.evaluate(_READ_MAIN_FIELD, action.element_id), text)
    return _type_by_locator(locator, text, timeout_ms)


def _typed(value: str | None, text: str) -> str | None:
    """None when the field holds `text`, else what it holds."""
    # A space typed at the end of a contenteditable arrives as a no-break space.
    if (value or "").replace("\u00a0", " ") == text:
        return None
    return f"the field holds {value!r}, not {text!r}"


_WRITTEN_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _date_value(text: str) -> str:
    """What a date field takes (ISO, 2017-10-20) for a date as people write it:
    10/20/2017, month first, unless the first number cannot be a month (20/10/2017).
    Anything else is given as it is, and the field says whether it took it."""
    written = _WRITTEN_DATE.fullmatch(text.strip())
    if written is None:
        return text
    first, second, year = int(written[1]), int(written[2]), written[3]
    month, day = (first, second) if first <= 12 else (second, first)
    return f"{year}-{month:02d}-{day:02d}"


def _type_by_locator(locator, text: str, timeout_ms: int) -> str | None:
    """Typing through Playwright's locator: fields inside iframes, and inputs that are only filled."""
    handle, error = _ready(locator, timeout_ms, editable=True)
    if error:
        return error
    keyed = handle.evaluate(
        "el => el.isContentEditable || el.tagName === 'TEXTAREA' ? '' : (el.getAttribute('type') || '').toLowerCase()"
    )
    if keyed == "date":
        text = _date_value(text)
    if keyed in _KEYED_INPUT_TYPES and text:
        # fill() sets the value at once; the last character is typed as a real key
        # press so that pages listening to key events (autocomplete) react.
        locator.fill(text[:-1], timeout=timeout_ms)
        locator.press_sequentially(text[-1], timeout=timeout_ms)
    else:
        locator.fill(text, timeout=timeout_ms)
    return _typed(handle.evaluate(_READ_FIELD), text)


def select(page, locator, action: Action, timeout_ms: int) -> str | None:
    handle, error = _ready(locator, timeout_ms)
    if error:
        return error
    label = action.argument or ""
    # By index: the option's label attribute, or whitespace in its text, would
    # make select_option(label=...) miss the option the observation showed.
    index = handle.evaluate(_FIND_OPTION, [label, _MAX_OPTION_TEXT])
    if index is None or index < 0:
        return f"the select has no option {label!r}"
    locator.select_option(index=index, timeout=timeout_ms)
    chosen = handle.evaluate(_SELECTED_OPTION)
    return None if chosen is not None and chosen[:_MAX_OPTION_TEXT] == label else f"selected {chosen!r}, not {label!r}"


def press(page, locator, action: Action, timeout_ms: int) -> str | None:
    """A key pressed on the element (focused first): Enter submits its form."""
    _, error = _ready(locator, timeout_ms)
    if error:
        return error
    locator.press(action.argument or "Enter", timeout=timeout_ms)
    return None


_SCROLL_Y = "() => [window.scrollY, document.scrollingElement ? document.scrollingElement.scrollHeight : 0]"


def scroll(page, locator, action: Action, timeout_ms: int) -> str | None:
    """The page scrolled by most of a screen; content loaded on scrolling then arrives."""
    before = page.evaluate(_SCROLL_Y)
    height = (page.viewport_size or {}).get("height", 600)
    page.mouse.wheel(0, (1 if action.argument == "down" else -1) * int(height * 0.8))
    page.wait_for_timeout(150)  # wheel scrolling is asynchronous
    after = page.evaluate(_SCROLL_Y)
    if after == before:
        return f"the page is already at its {'bottom' if action.argument == 'down' else 'top'}"
    return None


def back(page, locator, action: Action, timeout_ms: int) -> str | None:
    """The previous page of this tab's history; a tab with none that another page
    opened is closed, which returns to its opener (webagent.browser.tabs)."""
    url = page.url
    response = page.go_back(timeout=timeout_ms * 3, wait_until="load")
    if page.url == "about:blank" and url != "about:blank":  # before the start page: not a page of the task
        page.go_forward(timeout=timeout_ms * 3, wait_until="load")
        return "there is no page to go back to"
    if response is not None or page.url != url:
        return None
    if page.opener() is not None or len(page.context.pages) > 1:
        page.close()
        return None
    return "there is no page to go back to"


def stop(page, locator, action: Action, timeout_ms: int) -> str | None:
    """STOP touches nothing: the loop ends the episode."""
    return None
