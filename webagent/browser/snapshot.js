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
  const LANDMARK_TAGS = new Set(["main", "article", "section", "nav", "aside", "header", "footer", "body"]);
  const INTERACTIVE_ROLES = new Set(["button", "link", "checkbox", "radio", "tab", "menuitem", "option",
    "switch", "combobox", "textbox", "treeitem", "slider", "spinbutton", "searchbox"]);
  const SKIP_TAGS = new Set(["script", "style", "noscript", "template", "head", "meta", "link", "br", "hr"]);
  const viewW = top.innerWidth, viewH = top.innerHeight;
  const FLAG_DEFAULTS = { visible: true, enabled: true, explicitRole: false, interactive: false, editable: false };

  // The role an element has without a role attribute (after HTML-AAM, the cases a
  // page's controls and structure need).
  const INPUT_ROLES = { checkbox: "checkbox", radio: "radio", button: "button", submit: "button", reset: "button",
    image: "button", range: "slider", number: "spinbutton", search: "searchbox", email: "textbox", tel: "textbox",
    text: "textbox", url: "textbox", password: "textbox" };
  const TAG_ROLES = { button: "button", textarea: "textbox", option: "option", summary: "button", h1: "heading",
    h2: "heading", h3: "heading", h4: "heading", h5: "heading", h6: "heading", nav: "navigation", main: "main",
    aside: "complementary", header: "banner", footer: "contentinfo", form: "form", dialog: "dialog", ul: "list",
    ol: "list", li: "listitem", table: "table", tr: "row", td: "cell", th: "columnheader", fieldset: "group",
    details: "group", progress: "progressbar", article: "article", menu: "list" };
  function implicitRole(el, tag) {
    if (tag === "a" || tag === "area") return el.hasAttribute("href") ? "link" : "";
    if (tag === "input") {
      const t = (el.getAttribute("type") || "text").toLowerCase();
      const r = INPUT_ROLES[t] || "";
      return r === "textbox" || r === "searchbox" ? (el.hasAttribute("list") ? "combobox" : r) : r;
    }
    if (tag === "select") return el.multiple || el.size > 1 ? "listbox" : "combobox";
    if (tag === "img") return el.getAttribute("alt") === "" ? "presentation" : "img";
    if (tag === "section") return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ? "region" : "";
    return TAG_ROLES[tag] || "";
  }
  // Landmarks: what part of the page an element sits in, as a person names it.
  const LANDMARKS = { navigation: "nav", main: "main", form: "form", search: "search", complementary: "aside",
    banner: "header", contentinfo: "footer", region: "region", dialog: "dialog", alertdialog: "dialog" };

  // Where a link goes: its path and query on this site, host, path and query elsewhere.
  const HOST = location.host;
  function targetOf(el) {
    const href = el.getAttribute("href");
    if (href === null || href === "" || href[0] === "#") return "";
    // Parsed once: each URL getter of an <a> (protocol, host, ...) parses its href again.
    let u;
    try { u = new URL(href, el.ownerDocument.baseURI); } catch (e) { return ""; }
    const protocol = u.protocol;
    if (protocol === "mailto:" || protocol === "tel:") return href.slice(0, 120);
    if (protocol !== "http:" && protocol !== "https:" && protocol !== "file:") return "";  // javascript: and the like
    const here = protocol === "file:" || u.host === HOST;
    return ((here ? "" : u.host) + u.pathname + u.search).slice(0, 120);
  }

  const exclude = (options && options.exclude) || [];
  const excluded = (el) => exclude.some((sel) => el.matches(sel));
  const clean = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, maxText);

  // Ids handed out in this snapshot: an element copied with cloneNode() or
  // innerHTML carries its original's id along, and gets a fresh one of its own.
  const seen = new Set();
  function idOf(el) {
    let id = el.getAttribute(ATTR);
    if (!id || seen.has(id)) {
      id = String(top.__webagentNextId++);
      el.setAttribute(ATTR, id);
    }
    seen.add(id);
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
      // Ids resolve in the element's own tree: its shadow root, if it is in one.
      const scope = el.getRootNode && el.getRootNode().getElementById ? el.getRootNode() : doc;
      const t = by.split(/\s+/).map((i) => scope.getElementById(i)).filter(Boolean).map((e) => e.textContent).join(" ");
      if (clean(t)) return clean(t);
    }
    if (el.labels && el.labels.length) {
      // A label may hold only an icon (Django's search box: <label><img alt="Search"></label>):
      // the image's alt text names the field then, as in the accessible-name computation.
      const t = Array.from(el.labels).map((l) => l.textContent || "").join(" ");
      if (clean(t)) return clean(t);
      const alts = Array.from(el.labels).flatMap((l) => Array.from(l.querySelectorAll("img[alt]")).map((i) => i.getAttribute("alt")));
      if (clean(alts.join(" "))) return clean(alts.join(" "));
    }
    const title = el.getAttribute("title") || el.getAttribute("alt");
    return clean(title || "");
  }

  // Click handlers bound through jQuery or d3 leave no attribute behind; both
  // libraries keep them where a page script can look.
  const jQueries = new Map();  // document -> its jQuery (or null): looked up once per document, not per element
  function hasLibraryClickHandler(el) {
    const doc = el.ownerDocument;
    if (!jQueries.has(doc)) jQueries.set(doc, (doc.defaultView && doc.defaultView.jQuery) || null);
    const jq = jQueries.get(doc);
    const events = jq && jq._data ? jq._data(el, "events") : null;
    if (events && (events.click || events.mousedown || events.mouseup)) return true;
    if (typeof el.__onclick === "function") return true; // d3 v3
    return Array.isArray(el.__on) && el.__on.some((h) => h.type === "click"); // d3 v4+
  }

  // parentCursor: the parent's computed cursor, handed down by the walk (one
  // getComputedStyle per element, not two); undefined where the walk does not know it.
  function isInteractive(el, style, parentCursor) {
    const tag = el.tagName.toLowerCase();
    if (INTERACTIVE_TAGS.has(tag)) return true;
    const role = el.getAttribute("role");
    if (role && INTERACTIVE_ROLES.has(role)) return true;
    if (el.isContentEditable && el.getAttribute("contenteditable") !== null) return true;
    // A landmark with tabindex="-1" is only a skip link's focus target (Django admin's
    // <main>), not a control: its text stays the text of its own elements.
    const landmark = LANDMARK_TAGS.has(tag) && el.tabIndex < 0;
    const tabbable = el.hasAttribute("tabindex") && !landmark;
    if (el.hasAttribute("onclick") || tabbable || typeof el.onclick === "function") return true;
    if (hasLibraryClickHandler(el)) return true;
    if (style.cursor !== "pointer") return false;
    if (parentCursor === undefined) parentCursor = el.parentElement ? getComputedStyle(el.parentElement).cursor : "";
    return parentCursor !== "pointer";
  }

  function visibleOf(el, style, rect) {
    if (style.display === "none" || style.visibility === "hidden" || style.visibility === "collapse") return false;
    if (parseFloat(style.opacity) === 0) return false;
    if (el.tagName.toLowerCase() === "option") return true;
    return rect.width > 0 && rect.height > 0;
  }

  const records = [];
  // frame: ids of the iframes around this document; offset: their page position.
  // context: the nearest heading (or legend) before the element in document
  // order; visit() returns the context in force after the element, so that a
  // heading labels the siblings that follow it.
  // landmark: the nearest landmark around the element ("nav", 'form "Search"', ...).
  function walk(node, parentId, interactiveAncestor, frame, offset, doc, context, landmark, cursor) {
    let ctx = context;
    // Sibling pointers, not the live `children` collection: its iterator was a fifth of the walk.
    for (let child = node.firstElementChild; child; child = child.nextElementSibling) {
      ctx = visit(child, parentId, interactiveAncestor, frame, offset, doc, ctx, landmark, cursor);
    }
    return ctx;
  }

  function visit(el, parentId, interactiveAncestor, frame, offset, doc, context, landmark, parentCursor) {
    const tag = el.tagName.toLowerCase();
    if (SKIP_TAGS.has(tag) || el.getAttribute(ATTR + "-ignore") !== null || excluded(el)) return context;
    const style = getComputedStyle(el);
    const interactive = isInteractive(el, style, parentCursor);
    // A field's own content is its value (a textarea's text is only its default,
    // a select's is every option run together), not its text.
    const fieldTag = tag === "select" || tag === "textarea";
    const text = fieldTag ? "" : interactive ? clean(el.innerText || el.textContent) : ownText(el);
    const isHeading = /^h[1-6]$/.test(tag) || tag === "legend";
    let myId = parentId;
    let myContext = context;
    if (isHeading && clean(el.textContent)) myContext = clean(el.textContent);
    const explicitRole = (el.getAttribute("role") || "").trim().split(/\s+/)[0].toLowerCase();
    const role = explicitRole || implicitRole(el, tag);
    let myLandmark = landmark;
    const mark = LANDMARKS[role];
    if (mark) {
      // (A form is a landmark in ARIA only when named; unnamed, it still tells where a field is.)
      const name = el.getAttribute("aria-label") || el.getAttribute("title") || "";
      myLandmark = name ? `${mark} "${clean(name).slice(0, 40)}"` : mark;
    }
    const record = (interactive && !(tag === "option")) || (text && !interactiveAncestor) || tag === "iframe" || tag === "img";
    // The box only of what is recorded (and of frames): most of a big page's nodes are table cells and wrappers.
    const rect = record || tag === "iframe" ? el.getBoundingClientRect() : null;
    if (record) {
      const visible = visibleOf(el, style, rect);
      myId = idOf(el);
      const r = {
        id: myId,
        tag,
        role,
        explicitRole: explicitRole !== "",
        text,
        label: labelOf(el, doc),
        placeholder: el.getAttribute("placeholder") || "",
        value: "",
        inputType: tag === "input" ? (el.getAttribute("type") || "text").toLowerCase() : "",
        checked: null,
        options: null,
        selectedOption: null,
        visible,
        // :disabled also covers controls inside a disabled <fieldset> or <optgroup>.
        enabled: !el.disabled && !(el.matches && el.matches(":disabled")) && el.getAttribute("aria-disabled") !== "true",
        interactive,
        editable: false,
        box: [rect.x + offset[0], rect.y + offset[1], rect.width, rect.height],
        parent: parentId,
        context: clean(myContext),
        landmark: landmark,
        target: tag === "a" || tag === "area" ? targetOf(el) : "",
        // Where a visible element is against the viewport: "" inside it, else the side it is off.
        viewport: !visible || (rect.width === 0 && rect.height === 0) ? "" : rect.y + offset[1] >= viewH ? "below" : rect.y + offset[1] + rect.height <= 0 ? "above"
          : rect.x + offset[0] >= viewW || rect.x + offset[0] + rect.width <= 0 ? "aside" : "",
        frame: frame.slice(),
        attributes: {},
      };
      // A link or button that shows only an image is named by the image's alt text.
      if (interactive && !text && !r.label && el.firstElementChild) {
        const img = el.querySelector("img[alt]");
        if (img) r.label = clean(img.getAttribute("alt"));
      }
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
      // Empty fields and the usual flags are left out (the reader, element_from_snapshot,
      // has the same defaults), and boxes are rounded to 0.1 px: big pages cross to Python faster.
      // (Copied into a fresh object rather than deleted from this one: deleting turns an
      // object into a slow dictionary, and JSON.stringify walks 5,000 of them.)
      const kept = {};
      for (const k in r) {
        const v = r[k];
        if (!(v === "" || v === null || (Array.isArray(v) && v.length === 0) || FLAG_DEFAULTS[k] === v)) kept[k] = v;
      }
      if (kept.box) kept.box = kept.box.map((v) => Math.round(v * 10) / 10);
      records.push(kept);
    }
    if (tag === "iframe") {
      let inner = null;
      try { inner = el.contentDocument; } catch (e) { inner = null; }
      if (inner && inner.body) {
        // The frame's content starts inside its border and padding.
        const x = offset[0] + rect.x + el.clientLeft + (parseFloat(style.paddingLeft) || 0);
        const y = offset[1] + rect.y + el.clientTop + (parseFloat(style.paddingTop) || 0);
        visit(inner.body, myId, false, frame.concat([myId]), [x, y], inner, myContext, myLandmark);
      }
      return context; // headings inside a frame do not label what follows it
    }
    if (tag === "select") return myContext;
    let after = myContext;
    const inner = interactiveAncestor || interactive;
    // A shadow root's top children have no parentElement: no parent's cursor to compare.
    if (el.shadowRoot) after = walk(el.shadowRoot, myId, inner, frame, offset, doc, after, myLandmark, "");
    after = walk(el, myId, inner, frame, offset, doc, after, myLandmark, style.cursor);
    return tag === "fieldset" ? context : after; // a legend labels only its own fieldset
  }

  const root = (options && options.root && document.querySelector(options.root)) || document.body;
  visit(root, null, false, [], [0, 0], document, "", "");
  // One string, not an object: Playwright serialises a returned object value by value,
  // which on a 5,000-element page took ten times as long as the walk itself. The string
  // is lines: the page as JSON first, then one line per element, its record as JSON, a
  // tab, and where it is ("x,y,width,height" and the side of the viewport it is off, if
  // it is). The reader reuses what it built from a record it saw in an earlier snapshot
  // (most of a page does not change between steps; a scroll moves it, hence the split).
  // JSON never writes a raw newline or tab inside a value.
  // A page may have replaced JSON.stringify or added toJSON to Array (old Prototype.js
  // does): then the object goes back as it is, slowly but right.
  const page = { url: location.href, title: document.title, viewport: [viewW, viewH] };
  const stringify = JSON.stringify;
  const native = /\[native code\]/.test(Function.prototype.toString.call(stringify));
  if (!native || Array.prototype.toJSON || Object.prototype.toJSON || String.prototype.toJSON) {
    page.elements = records;
    return page;
  }
  // A record the reader already holds crosses as "=" and the element's id, before its
  // place: the reader passes the token of the last snapshot it read of this page
  // (options.since), and when the page still keeps that snapshot's records, only the
  // records that changed are sent in full (on a big page, most of the 1 MB string
  // otherwise; a scroll moves every element but changes no record). A page that
  // navigated keeps nothing, and a reader that holds nothing gets every record.
  const held = top.__webagentRecords;
  const reuse = !!(options && options.since) && !!held && held.token === options.since;
  const token = Date.now().toString(36) + Math.random().toString(36).slice(2);
  page.token = token;
  if (reuse) page.since = options.since;
  const byId = new Map();
  const lines = [stringify(page)];
  for (const r of records) {
    const { box, viewport, ...rest } = r;
    const record = stringify(rest);
    byId.set(r.id, record);
    const place = box.join(",") + (viewport ? "," + viewport : "");
    lines.push((reuse && held.byId.get(r.id) === record ? "=" + r.id : record) + "\t" + place);
  }
  top.__webagentRecords = { token, byId };
  return lines.join("\n");
}
