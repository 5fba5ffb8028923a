"""Execute an Action on the tagged element and check that it had its effect.

Runs on the browser's owner thread. A failure comes back as a message (it becomes
part of the next observation); only a closed page raises.
"""

from __future__ import annotations

from webagent.actions import Action
from webagent.browser.observation import Element
from webagent.errors import BrowserError

_ARM_CLICK_PROBE = """el => {
  el.ownerDocument.defaultView.__webagentClicked = false;
  el.addEventListener('click', () => { el.ownerDocument.defaultView.__webagentClicked = true; },
                      {once: true, capture: true});
}"""
_READ_CLICK_PROBE = "el => el.ownerDocument.defaultView.__webagentClicked"


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
    try:
        error = _PERFORM[action.verb](locator, action, timeout_ms)
    except Exception as exc:  # noqa: BLE001 - playwright raises several kinds
        if page.is_closed():
            raise BrowserError("the page was closed during the action") from exc
        error = str(exc).splitlines()[0]
    _settle(page, settle_ms)
    return f"{action} failed: {error}" if error else None


def _click(locator, action: Action, timeout_ms: int) -> str | None:
    locator.evaluate(_ARM_CLICK_PROBE, timeout=timeout_ms)
    locator.click(timeout=timeout_ms)
    try:
        delivered = locator.evaluate(_READ_CLICK_PROBE, timeout=500)
    except Exception:  # noqa: BLE001 - the element went away or the page navigated: the click landed
        return None
    return None if delivered in (True, None) else "the click did not reach the element"


def _type(locator, action: Action, timeout_ms: int) -> str | None:
    text = action.argument or ""
    # fill() sets the value at once; the last character is typed as real key
    # presses so that pages listening to key events (autocomplete) react.
    locator.fill(text[:-1], timeout=timeout_ms)
    if text:
        locator.press_sequentially(text[-1], timeout=timeout_ms)
    value = locator.evaluate("el => el.isContentEditable ? el.textContent : el.value", timeout=timeout_ms)
    return None if value == text else f"the field holds {value!r}, not {text!r}"


def _select(locator, action: Action, timeout_ms: int) -> str | None:
    locator.select_option(label=action.argument, timeout=timeout_ms)
    chosen = locator.evaluate(
        "el => el.selectedIndex < 0 ? null : el.options[el.selectedIndex].textContent.replace(/\\s+/g, ' ').trim()",
        timeout=timeout_ms,
    )
    return None if chosen == action.argument else f"selected {chosen!r}, not {action.argument!r}"


_PERFORM = {"CLICK": _click, "TYPE": _type, "SELECT": _select}


def _settle(page, settle_ms: int) -> None:
    """Give the page a moment to react (animations, navigation)."""
    try:
        page.wait_for_load_state("load", timeout=5_000)
        page.wait_for_timeout(settle_ms)
    except Exception:  # noqa: BLE001, S110 - a page still loading is observed as it is
        pass
