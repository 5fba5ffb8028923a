"""Execute an Action on the tagged element and check that it had its effect.

Runs on the browser's owner thread. A failure comes back as a message (it becomes
part of the next observation); only a closed page raises.
"""

from __future__ import annotations

import re

from webagent.actions import Action
from webagent.browser.observation import Element
from webagent.errors import BrowserError

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


def locate(page, element: Element):
    """A Playwright locator for the element, through the iframes that hold it."""
    scope = page
    for frame_id in element.frame:
        scope = scope.frame_locator(f'[data-webagent-id="{frame_id}"]')
    return scope.locator(f'[data-webagent-id="{element.id}"]').first


def execute(page, action: Action, element: Element, *, timeout_ms: int = 3_000, settle_ms: int = 100) -> str | None:
    """Perform the action; return None on success or a one-line reason it failed."""
    if page.is_closed():
        raise BrowserError("the page was closed")
    locator = locate(page, element)
    navigation = _NavigationWatch(page)
    try:
        error = _PERFORM[action.verb](locator, action, timeout_ms)
    except Exception as exc:  # noqa: BLE001 - playwright raises several kinds
        if page.is_closed():
            raise BrowserError("the page was closed during the action") from exc
        error = _reason(exc)
    _settle(page, settle_ms)
    navigation.stop()
    error = error or navigation.failure
    return f"{action} failed: {error}" if error else None


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


# The first point of a grid over the element (centre first) where the element
# itself, or something inside it, is the topmost thing; in element coordinates.
_VISIBLE_POINT = """el => {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {x: 0, y: 0, centre: true};  // let Playwright judge it
  const doc = el.getRootNode();
  const fractions = [0.5, 0.25, 0.75, 0.1, 0.9];
  for (const fy of fractions) for (const fx of fractions) {
    const x = r.left + r.width * fx, y = r.top + r.height * fy;
    const top = (doc.elementFromPoint ? doc : el.ownerDocument).elementFromPoint(x, y);
    if (top && (top === el || el.contains(top))) {
      return {x: r.width * fx, y: r.height * fy, centre: fx === 0.5 && fy === 0.5};
    }
  }
  return null;
}"""


def _click(locator, action: Action, timeout_ms: int) -> str | None:
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


def _type(locator, action: Action, timeout_ms: int) -> str | None:
    handle, error = _ready(locator, timeout_ms, editable=True)
    if error:
        return error
    text = action.argument or ""
    keyed = handle.evaluate(
        "el => el.isContentEditable || el.tagName === 'TEXTAREA' ? '' : (el.getAttribute('type') || '').toLowerCase()"
    )
    if keyed in _KEYED_INPUT_TYPES and text:
        # fill() sets the value at once; the last character is typed as a real key
        # press so that pages listening to key events (autocomplete) react.
        locator.fill(text[:-1], timeout=timeout_ms)
        locator.press_sequentially(text[-1], timeout=timeout_ms)
    else:
        locator.fill(text, timeout=timeout_ms)
    value = handle.evaluate(_READ_FIELD)
    # A space typed at the end of a contenteditable arrives as a no-break space.
    if (value or "").replace("\u00a0", " ") == text:
        return None
    return f"the field holds {value!r}, not {text!r}"


def _select(locator, action: Action, timeout_ms: int) -> str | None:
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


_PERFORM = {"CLICK": _click, "TYPE": _type, "SELECT": _select}


class _NavigationWatch:
    """Notes a main-frame navigation that the action started and that failed:
    an unreachable address, or an HTTP error page."""

    def __init__(self, page) -> None:
        self.page = page
        self.failure: str | None = None
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _main_navigation(self, request) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.page.main_frame
        except Exception:  # noqa: BLE001 - a detached frame is not the main one
            return False

    def _failed(self, request) -> None:
        reason = request.failure or "the request failed"
        # ERR_ABORTED: superseded by another navigation, a download, or a 204.
        if "ERR_ABORTED" not in reason and self._main_navigation(request):
            self.failure = f"it led to {request.url}, which could not be loaded ({reason})"

    def _response(self, response) -> None:
        if response.status >= 400 and self._main_navigation(response.request):
            self.failure = f"it led to {response.url}, which answered HTTP {response.status}"

    def stop(self) -> None:
        self.page.remove_listener("requestfailed", self._failed)
        self.page.remove_listener("response", self._response)


def _reason(exc: Exception) -> str:
    """Playwright's first line, without the API name, and with the reason from its
    call log when it timed out."""
    lines = str(exc).splitlines() or [type(exc).__name__]
    first = re.sub(r"^[A-Za-z]+\.[A-Za-z_]+: (Error: )?", "", lines[0])
    if "Timeout" in first:
        causes = [ln.strip(" -") for ln in lines[1:] if "element is" in ln or "intercepts pointer events" in ln]
        if causes:
            first = f"{first} ({causes[-1]})"
    return first


def _settle(page, settle_ms: int) -> None:
    """Give the page a moment to react (animations, navigation)."""
    try:
        page.wait_for_load_state("load", timeout=5_000)
        page.wait_for_timeout(settle_ms)
    except Exception:  # noqa: BLE001, S110 - a page still loading is observed as it is
        pass
