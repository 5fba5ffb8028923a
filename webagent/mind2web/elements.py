"""Elements from a step's cleaned HTML: one `Element` per node that carries a
backend_node_id, with that id as its id, so the ranker, the prompt and the
grammar see a replayed page the way they see a live one."""

from __future__ import annotations

import re

from webagent.browser.observation import Element

# As in the in-page snapshot (webagent/browser/snapshot.js).
INTERACTIVE_TAGS = frozenset({"a", "button", "input", "select", "textarea", "option", "summary"})
INTERACTIVE_ROLES = frozenset(
    {
        "button",
        "link",
        "checkbox",
        "radio",
        "tab",
        "menuitem",
        "option",
        "switch",
        "combobox",
        "textbox",
        "treeitem",
        "slider",
        "spinbutton",
        "searchbox",
    }
)
NOT_TEXT_INPUTS = frozenset(
    {"checkbox", "radio", "submit", "button", "reset", "image", "file", "range", "color", "hidden"}
)
TEXT_LIMIT = 200
_HEADING = re.compile(r"^(h[1-6]|legend)$")


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_html(html: str):
    """A BeautifulSoup tree; attributes stay plain strings (class is not split)."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser", multi_valued_attributes=None)


def _own_text(node) -> str:
    from bs4 import Comment, NavigableString

    return _clean(" ".join(s for s in node.children if isinstance(s, NavigableString) and not isinstance(s, Comment)))


def _text(node, tag: str) -> str:
    """A node's own text, else all the text inside it (a button's label sits in its spans)."""
    if tag in ("select", "textarea", "input"):
        return ""
    text = _own_text(node) or _clean(node.get_text(" "))
    return text[:TEXT_LIMIT]


def _parent_id(node) -> str | None:
    for parent in node.parents:
        if parent.attrs and parent.attrs.get("backend_node_id") is not None:
            return str(parent.attrs["backend_node_id"])
    return None


def element_from_node(node, context: str = "") -> Element:
    attrs = {k: v if isinstance(v, str) else " ".join(v) for k, v in node.attrs.items()}
    tag = node.name.lower()
    role = attrs.get("role", "")
    input_type = attrs.get("type", "text").lower() if tag == "input" else ""
    options: tuple[str, ...] = ()
    selected = None
    value = attrs.get("value", "") if tag in ("input", "textarea") else ""
    if tag == "select":
        opts = node.find_all("option")
        options = tuple(_clean(o.get_text(" ")) for o in opts)
        chosen = next((o for o in opts if o.has_attr("selected")), None)
        selected = _clean(chosen.get_text(" ")) if chosen is not None else None
        value = selected or ""
    if tag == "textarea" and not value:
        value = _clean(node.get_text(" "))
    editable = (
        tag == "textarea"
        or (tag == "input" and input_type not in NOT_TEXT_INPUTS)
        or attrs.get("contenteditable", "false") != "false"
        or role in ("textbox", "searchbox")
    )
    interactive = (
        tag in INTERACTIVE_TAGS
        or role in INTERACTIVE_ROLES
        or any(a in attrs for a in ("onclick", "tabindex", "contenteditable"))
    )
    checked = None
    if input_type in ("checkbox", "radio"):
        checked = "checked" in attrs
    elif attrs.get("aria-checked") in ("true", "false"):
        checked = attrs["aria-checked"] == "true"
    return Element(
        id=str(attrs["backend_node_id"]),
        tag=tag,
        role=role,
        text=_text(node, tag),
        label=_clean(attrs.get("aria-label") or attrs.get("title") or attrs.get("alt") or ""),
        placeholder=attrs.get("placeholder", ""),
        value=value,
        input_type=input_type,
        checked=checked,
        options=options,
        selected_option=selected,
        visible=attrs.get("hidden") is None,
        enabled="disabled" not in attrs and attrs.get("aria-disabled") != "true",
        interactive=interactive,
        editable=editable,
        parent_id=_parent_id(node),
        context=context,
        attributes=tuple((k, v) for k, v in attrs.items() if k != "backend_node_id"),
    )


def elements_from_html(html: str) -> tuple[Element, ...]:
    """Every node with a backend_node_id, in document order; `context` is the
    nearest heading before it, as the live snapshot gives."""
    from bs4 import Tag

    elements = []
    context = ""
    for node in parse_html(html).descendants:
        if not isinstance(node, Tag):
            continue
        if _HEADING.match(node.name or "") and _clean(node.get_text(" ")):
            context = _clean(node.get_text(" "))[:TEXT_LIMIT]
        if node.attrs.get("backend_node_id") is not None:
            elements.append(element_from_node(node, context))
    return tuple(elements)


def nodes_by_id(html: str) -> dict[str, object]:
    """backend_node_id -> bs4 node, to describe a candidate by its tag and attributes."""
    return {str(n.attrs["backend_node_id"]): n for n in parse_html(html).find_all(attrs={"backend_node_id": True})}
