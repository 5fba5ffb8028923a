"""What the agent sees of a page: typed records built from the in-page snapshot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from webagent.errors import BrowserError

# Attributes worth keeping in the cleaned HTML (after Mind2Web's cleaning).
SALIENT_ATTRIBUTES = ("id", "name", "type", "placeholder", "aria-label", "title", "alt", "href", "value", "role")


@dataclass(frozen=True)
class Element:
    """One interactive or text-bearing element, addressed by a stable id."""

    id: str
    tag: str
    role: str = ""  # the ARIA role: the role attribute's, else the tag's implicit one (a[href] is a link)
    text: str = ""
    label: str = ""
    placeholder: str = ""
    value: str = ""
    input_type: str = ""
    checked: bool | None = None
    options: tuple[str, ...] = ()
    selected_option: str | None = None
    visible: bool = True
    enabled: bool = True
    interactive: bool = False
    editable: bool = False
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    parent_id: str | None = None
    context: str = ""  # the nearest heading (or legend) before the element
    frame: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    explicit_role: bool = True  # the role came from a role attribute (not implied by the tag)
    landmark: str = ""  # the nearest landmark around it: nav, main, form, aside, header, footer, ...; 'nav "Docs"'
    target: str = ""  # where a link goes: path and query on the page's own site, host first elsewhere
    viewport: str = ""  # "" inside the viewport (or not visible), else the side it is off: above, below, aside

    def placed(self, box: tuple[float, float, float, float], viewport: str) -> Element:
        """This element at another place on the screen (the page scrolled or reflowed).

        Copied rather than built: a frozen dataclass's __init__ sets its 25 fields one
        by one, and one scroll moves every element of a 5,000-element page."""
        if box == self.box and viewport == self.viewport:
            return self
        moved = object.__new__(Element)
        moved.__dict__.update(self.__dict__, box=box, viewport=viewport)
        return moved

    # Kept on the element once made (cached_property writes to __dict__, which a frozen
    # dataclass allows): neither depends on where the element is, so a copy moved by
    # placed() keeps them, and a page that barely changed between steps is not written
    # out again element by element.
    @cached_property
    def match_text(self) -> str:
        """What the element says about itself, for matching against a task (the ranker's
        BM25 and embeddings): its description, heading and naming attributes."""
        attrs = " ".join(v for k, v in self.attributes if k in ("id", "name", "title", "aria-label", "alt", "class"))
        return " ".join(filter(None, (self.describe(), self.context, attrs)))

    @cached_property
    def _html(self) -> tuple[str, str, bool]:
        """The element in cleaned_html: its start tag's inside, its own content, and whether
        it is a void tag (written <tag/> when nothing is inside it)."""
        attrs = {"backend_node_id": self.id}
        for name, value in self.attributes:
            if name in SALIENT_ATTRIBUTES and value:
                attrs[name] = value[:200]
        if self.label and self.label != self.text:
            attrs.setdefault("aria-label", self.label[:200])
        if self.value and self.tag in ("input", "textarea"):
            attrs["value"] = self.shown_value[:200]
        if not self.visible:
            attrs["hidden"] = "true"
        opening = self.tag + "".join(f" {k}={_quoted(v)}" for k, v in sorted(attrs.items()))  # as bs4 orders them
        body = ""
        if self.tag == "select":
            mark = {self.selected_option: ' selected="true"'}
            body = "".join(f"<option{mark.get(o, '')}>{_escape(o)}</option>" for o in self.options)
        elif self.text and self.tag not in ("input", "textarea"):
            body = _escape(_clip(self.text, 200))
        return opening, body, self.tag in _VOID_TAGS

    @property
    def in_viewport(self) -> bool:
        return self.visible and not self.viewport

    @property
    def shown_value(self) -> str:
        """The value as prompts and logs show it: a password is masked."""
        return "•" * 8 if self.input_type == "password" and self.value else self.value

    @property
    def is_select(self) -> bool:
        return self.tag == "select" and bool(self.options)

    def describe(self) -> str:
        """A one-line description, the way the ranker and the model read an element."""
        parts = [self.tag if not self.input_type else f"{self.tag} type={self.input_type}"]
        if self.role and self.explicit_role and self.role != self.tag:
            parts.append(f"role={self.role}")
        parts += self._says()
        return " ".join(parts)

    def _says(self) -> list[str]:
        """What the element says and holds: label, text, placeholder, value, state, options."""
        parts = []
        for name, text in (("label", self.label), ("text", self.text), ("placeholder", self.placeholder)):
            if text and (name == "text" or text != self.text):
                parts.append(f'{name}="{_clip(text, 80)}"')
        if self.value:
            parts.append(f'value="{_clip(self.shown_value, 40)}"')
        if self.checked is not None:
            parts.append("checked" if self.checked else "unchecked")
        if self.options:
            parts.append("options=" + "|".join(_clip(o, 30) for o in self.options[:12]))
        if not self.enabled:
            parts.append("disabled")
        return parts

    def line(self) -> str:
        """The line a real site's prompt shows: the role first (link, textbox,
        button, ...), what the element says, where a link goes, the landmark and
        heading it sits under, and which way it is off screen. MiniWoB++ prompts
        keep describe() (their numbers were measured with it)."""
        kind = self.role if self.role and self.role not in ("presentation", "none", "generic") else self.tag
        if kind == "heading" and self.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            kind = self.tag  # the level says more than "heading"
        parts = [kind]
        if self.input_type and self.input_type not in _TYPES_OF_ROLE.get(kind, ()):
            parts.append(f"type={self.input_type}")
        parts += self._says()
        if self.target:
            parts.append(f"href={_clip(self.target, 60)}")
        if self.landmark:
            parts.append(f"in {_clip(self.landmark, 40)}")
        if self.context and self.context != self.text:
            parts.append(f'under "{_clip(self.context, 40)}"')
        if self.visible and self.viewport:
            parts.append(f"({self.viewport})")
        return " ".join(parts)


# The input types a role already says (a checkbox input is a checkbox): not repeated.
_TYPES_OF_ROLE = {
    "textbox": ("text",),
    "searchbox": ("search",),
    "checkbox": ("checkbox",),
    "radio": ("radio",),
    "slider": ("range",),
    "spinbutton": ("number",),
    "button": ("button",),
}


@dataclass(frozen=True)
class Observation:
    """A page at one moment: its elements, cleaned HTML and, on request, a screenshot."""

    url: str
    title: str
    elements: tuple[Element, ...]
    html: str = ""
    screenshot: bytes | None = field(default=None, repr=False)
    last_error: str | None = None
    # The verbs the environment offers at this step (webagent.actions); MiniWoB++
    # keeps the basic three, real sites add PRESS, SCROLL, BACK and STOP.
    verbs: tuple[str, ...] = ("CLICK", "TYPE", "SELECT")
    viewport: tuple[float, float] = (0.0, 0.0)  # the window's width and height (CSS pixels)
    # What happened since the last look that the page does not show: a dialog
    # answered, a tab opened or closed (webagent.browser.tabs).
    events: tuple[str, ...] = ()

    def element(self, element_id: str) -> Element:
        for el in self.elements:
            if el.id == element_id:
                return el
        raise KeyError(element_id)

    def find(self, element_id: str) -> Element | None:
        return next((el for el in self.elements if el.id == element_id), None)

    @property
    def actionable(self) -> tuple[Element, ...]:
        """Elements an action can target: visible and enabled. Pages attach click
        handlers to plain elements too, so text-bearing ones count as well."""
        return tuple(el for el in self.elements if el.visible and el.enabled)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def element_from_snapshot(raw: dict) -> Element:
    """Build an Element from one record of snapshot.js, with a clear error on bad input."""
    try:
        return Element(
            id=str(raw["id"]),
            tag=raw["tag"],
            role=raw.get("role") or "",
            text=raw.get("text") or "",
            label=raw.get("label") or "",
            placeholder=raw.get("placeholder") or "",
            value=raw.get("value") or "",
            input_type=raw.get("inputType") or "",
            checked=raw.get("checked"),
            options=tuple(raw.get("options") or ()),
            selected_option=raw.get("selectedOption"),
            visible=bool(raw.get("visible", True)),  # flags at their usual value are left out (snapshot.js)
            enabled=bool(raw.get("enabled", True)),
            interactive=bool(raw.get("interactive")),
            editable=bool(raw.get("editable")),
            box=tuple(float(v) for v in raw.get("box") or (0, 0, 0, 0)),
            parent_id=str(raw["parent"]) if raw.get("parent") is not None else None,
            context=raw.get("context") or "",
            frame=tuple(str(f) for f in raw.get("frame") or ()),
            attributes=tuple((k, str(v)) for k, v in (raw.get("attributes") or {}).items()),
            explicit_role=bool(raw.get("explicitRole", False)),
            landmark=raw.get("landmark") or "",
            target=raw.get("target") or "",
            viewport=raw.get("viewport") or "",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BrowserError(f"snapshot record is malformed ({exc!r}): {raw!r:.200}") from exc


@lru_cache(maxsize=16_384)
def element_from_line(line: str) -> Element:
    """An Element from one line of snapshot.js's output: the element's JSON record, a
    tab, and its place ("x,y,width,height", then the side of the viewport it is off).

    Most of a page is the same from one step to the next, and building 5,000
    Elements afresh was a fifth of observing a big page: a line seen before gives the
    very Element built then, a record seen before at another place a copy moved there."""
    record, tab, place = line.partition("\t")
    if not tab:
        raise BrowserError(f"snapshot record has no place: {line!r:.200}")
    x, y, width, height, *off = place.split(",")
    try:
        box = (float(x), float(y), float(width), float(height))
    except ValueError as exc:
        raise BrowserError(f"snapshot record has a bad place {place!r}: {line!r:.200}") from exc
    return _element_from_record(record).placed(box, off[0] if off else "")


def json_object(text: str, what: str) -> dict:
    """`text` read as a JSON object; a BrowserError naming `what` where it is not one."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BrowserError(f"{what} is not JSON ({exc}): {text!r:.200}") from exc
    if not isinstance(value, dict):
        raise BrowserError(f"{what} is not an object: {text!r:.200}")
    return value


@lru_cache(maxsize=16_384)
def _element_from_record(record: str) -> Element:
    element = element_from_snapshot(json_object(record, "snapshot record"))
    # Made here, once per record, so that every copy placed() makes carries them.
    element.match_text, element._html  # noqa: B018
    return element


def _escape(value: str) -> str:
    """Text as BeautifulSoup's minimal formatter writes it: &, < and > as entities."""
    if "&" in value or "<" in value or ">" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _quoted(value: str) -> str:
    """An attribute value quoted as BeautifulSoup quotes it: double quotes unless the value
    has some (then single ones, or &quot; where it has both kinds)."""
    value = _escape(value)
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', "&quot;") + '"'


# Elements HTML writes without an end tag (as BeautifulSoup's html.parser builder knows them).
_VOID_TAGS = frozenset(
    ("area", "base", "basefont", "bgsound", "br", "col", "command", "embed", "frame", "hr", "image", "img")
    + ("input", "isindex", "keygen", "link", "menuitem", "meta", "nextid", "param", "source", "spacer", "track", "wbr")
)


def cleaned_html(elements: tuple[Element, ...]) -> str:
    """A Mind2Web-style cleaned HTML: the element tree with ids kept as backend_node_id.

    Written as text in one pass (escaped and quoted as BeautifulSoup writes it,
    with its own functions) rather than built as a soup: a 5,000-element page took
    160 ms through bs4 and every step pays it. `tests/test_observe.py` checks the
    two give the same string."""
    # An element sits under its parent when the parent came before it (document order), else at the top.
    children: dict[str | None, list[Element]] = {}
    seen: set[str] = set()
    for el in elements:
        children.setdefault(el.parent_id if el.parent_id in seen else None, []).append(el)
        seen.add(el.id)
    out: list[str] = ["<html>"]
    stack: list[Element | str] = list(reversed(children.get(None, [])))  # elements to open, end tags to write
    while stack:
        el = stack.pop()
        if isinstance(el, str):
            out.append(el)
            continue
        opening, body, void = el._html
        inner = children.get(el.id, [])
        if not body and not inner and void:
            out.append(f"<{opening}/>")
            continue
        out.append(f"<{opening}>{body}")
        stack.append(f"</{el.tag}>")
        stack.extend(reversed(inner))
    out.append("</html>")
    return "".join(out)
