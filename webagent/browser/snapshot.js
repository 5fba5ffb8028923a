// In-page snapshot: tags every interactive or text-bearing element with a stable
// id (data-webagent-id) and returns one record per element. It walks the whole
// page, including same-origin iframes and open shadow roots. Ids survive across
// snapshots because they live on the elements themselves.
(options) => {
  const ATTR = "data-webagent-id";
  const top = window;
  if (top.__webagentNextId === undefined) top.__webagentNextId = 1;
  const maxText = (options && options.maxText) || 200;
  const KEEP_ATTRS = ["id", "name", "type", "placeholder", "aria-label", "title", "alt", "href", "value", "role", "class"];
  const INTERACTIVE_TAGS = new Set(["a", "button", "input", "select", "textarea", "option", "summary"]);
  const INTERACTIVE_ROLES = new Set(["button", "link", "checkbox", "radio", "tab", "menuitem", "option",
    "switch", "combobox", "textbox", "treeitem", "slider", "spinbutton", "searchbox"]);
  const SKIP_TAGS = new Set(["script", "style", "noscript", "template", "head", "meta", "link", "br", "hr"]);

  const clean = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, maxText);

  function idOf(el) {
    let id = el.getAttribute(ATTR);
    if (!id) {
      id = String(top.__webagentNextId++);
      el.setAttribute(ATTR, id);
    }
    return id;
  }

  function ownText(el) {
    let t = "";
    for (const n of el.childNodes) if (n.nodeType === Node.TEXT_NODE) t += " " + n.textContent;
    return clean(t);
  }

  function labelOf(el, doc) {
    const aria = el.getAttribute("aria-label");
    if (aria) return clean(aria);
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const t = by.split(/\s+/).map((i) => doc.getElementById(i)).filter(Boolean).map((e) => e.textContent).join(" ");
      if (clean(t)) return clean(t);
    }
    if (el.labels && el.labels.length) return clean(Array.from(el.labels).map((l) => l.textContent).join(" "));
    const title = el.getAttribute("title") || el.getAttribute("alt");
    return clean(title || "");
  }

  function isInteractive(el, style) {
    const tag = el.tagName.toLowerCase();
    if (INTERACTIVE_TAGS.has(tag)) return true;
    const role = el.getAttribute("role");
    if (role && INTERACTIVE_ROLES.has(role)) return true;
    if (el.isContentEditable && el.getAttribute("contenteditable") !== null) return true;
    if (el.hasAttribute("onclick") || el.hasAttribute("tabindex") || typeof el.onclick === "function") return true;
    return style.cursor === "pointer" && !(el.parentElement && getComputedStyle(el.parentElement).cursor === "pointer");
  }

  function visibleOf(el, style, rect) {
    if (style.display === "none" || style.visibility === "hidden" || style.visibility === "collapse") return false;
    if (parseFloat(style.opacity) === 0) return false;
    if (el.tagName.toLowerCase() === "option") return true;
    return rect.width > 0 && rect.height > 0;
  }

  const records = [];
  // frame: ids of the iframes around this document; offset: their page position.
  function walk(node, parentId, interactiveAncestor, frame, offset, doc, context) {
    for (const child of node.children || []) {
      visit(child, parentId, interactiveAncestor, frame, offset, doc, context);
    }
  }

  function visit(el, parentId, interactiveAncestor, frame, offset, doc, context) {
    const tag = el.tagName.toLowerCase();
    if (SKIP_TAGS.has(tag) || el.getAttribute(ATTR + "-ignore") !== null) return;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const visible = visibleOf(el, style, rect);
    const interactive = isInteractive(el, style);
    const text = interactive ? clean(el.innerText || el.textContent) : ownText(el);
    const isHeading = /^h[1-6]$/.test(tag) || tag === "legend";
    let myId = parentId;
    let myContext = context;
    if (isHeading && text) myContext = text;
    const record = (interactive && !(tag === "option")) || (text && !interactiveAncestor) || tag === "iframe" || tag === "img";
    if (record) {
      myId = idOf(el);
      const r = {
        id: myId,
        tag,
        role: el.getAttribute("role") || "",
        text,
        label: labelOf(el, doc),
        placeholder: el.getAttribute("placeholder") || "",
        value: "",
        inputType: tag === "input" ? (el.getAttribute("type") || "text").toLowerCase() : "",
        checked: null,
        options: null,
        selectedOption: null,
        visible,
        enabled: !el.disabled && el.getAttribute("aria-disabled") !== "true",
        interactive,
        editable: false,
        box: [rect.x + offset[0], rect.y + offset[1], rect.width, rect.height],
        parent: parentId,
        context: clean(myContext),
        frame: frame.slice(),
        attributes: {},
      };
      for (const a of KEEP_ATTRS) {
        const v = el.getAttribute(a);
        if (v !== null && v !== "") r.attributes[a] = v.slice(0, 200);
      }
      if (tag === "input" || tag === "textarea") {
        const t = r.inputType;
        if (t === "checkbox" || t === "radio") r.checked = !!el.checked;
        else r.value = el.value || "";
        r.editable = tag === "textarea" || !["checkbox", "radio", "submit", "button", "reset", "image", "file", "range", "color", "hidden"].includes(t);
        if (r.editable && el.readOnly) r.editable = false;
      } else if (tag === "select") {
        r.options = Array.from(el.options).map((o) => clean(o.textContent));
        const sel = el.options[el.selectedIndex];
        r.selectedOption = sel ? clean(sel.textContent) : null;
        r.value = r.selectedOption || "";
      } else if (el.isContentEditable) {
        r.editable = true;
        r.value = clean(el.textContent);
      }
      if (!r.checked && el.getAttribute("aria-checked")) r.checked = el.getAttribute("aria-checked") === "true";
      records.push(r);
    }
    if (tag === "iframe") {
      let inner = null;
      try { inner = el.contentDocument; } catch (e) { inner = null; }
      if (inner && inner.body) {
        const fr = el.getBoundingClientRect();
        visit(inner.body, myId, false, frame.concat([myId]), [offset[0] + fr.x, offset[1] + fr.y], inner, myContext);
      }
      return;
    }
    if (tag === "select") return;
    if (el.shadowRoot) walk(el.shadowRoot, myId, interactiveAncestor || interactive, frame, offset, doc, myContext);
    walk(el, myId, interactiveAncestor || interactive, frame, offset, doc, myContext);
  }

  const root = (options && options.root && document.querySelector(options.root)) || document.body;
  visit(root, null, false, [], [0, 0], document, "");
  return { url: location.href, title: document.title, elements: records };
}
