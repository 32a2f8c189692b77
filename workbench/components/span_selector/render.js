// Concord span selector, drawing: the turn's text (one node per grapheme cluster), the entity-type
// palette and the span chips. The text is built once per set of spans (renderText); caret and
// selection are only re-classed on the nodes that change (paintSelection), so keys and the mouse
// never rebuild it: a rebuild between the two clicks of a double-click would swallow the dblclick.
// User text is only ever written with textContent, never innerHTML.
//
// Python concatenates text.js, this file and selector.js into the component's one module.

const COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d",
  "#dc2626", "#4f46e5", "#0d9488"];

function colorOf(types, label) {
  const k = types.indexOf(label);
  return COLORS[(k < 0 ? types.length : k) % COLORS.length];
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function coveringRange(spans, a, b) {
  // Spans that overlap code points a..b (one cluster), innermost (shortest) first.
  return spans.filter((s) => s.start < b && a < s.end).sort((x, y) => (x.end - x.start) - (y.end - y.start));
}

function renderCluster(model, [a, b], st, cfg) {
  const types = cfg.entity_types || [];
  const ch = el("span", "cc-ch", model.chars.slice(a, b).join(""));
  ch.dataset.i = String(a);
  ch.dataset.end = String(b);
  const cover = coveringRange(st.spans, a, b);
  if (cover.length) {
    ch.classList.add("cc-in");
    ch.style.setProperty("--cc-bg", colorOf(types, cover[0].label) + "2e");
    const stack = cover.slice(1).map((s, k) => `0 ${2 * (k + 1) + 1}px 0 ${colorOf(types, s.label)}`);
    ch.style.setProperty("--cc-stack", stack.length ? stack.join(", ") : "none");
    if (cover.some((s) => a <= s.start && s.start < b)) ch.classList.add("cc-first");
    if (cover.some((s) => a < s.end && s.end <= b)) ch.classList.add("cc-last");
  }
  const tags = st.spans.filter((s) => a < s.end && s.end <= b).map((s) => s.label);
  if (tags.length) ch.dataset.tag = tags.join(" · ");
  if ((cfg.suggested_spans || []).some((s) => s.start < b && a < s.end)) ch.classList.add("cc-sug");
  return ch;
}

function renderText(box, model, st, cfg) {
  // Builds one node per grapheme cluster plus an end node; returns them, indexed by cluster. Caret
  // and selection are painted later by `paintSelection`, so they can change without a rebuild.
  const frag = document.createDocumentFragment();
  const nodes = model.clusters.map((cluster) => frag.appendChild(renderCluster(model, cluster, st, cfg)));
  const end = el("span", "cc-end");
  end.dataset.i = end.dataset.end = String(model.length);
  nodes.push(frag.appendChild(end));
  box.replaceChildren(frag);
  return nodes;
}

function paintSelection(nodes, before, after) {
  // Re-classes only the nodes whose selectedness changed between the ranges `before` and `after`
  // (node indices, end exclusive): moving the caret over a 6,000-character turn touches a node or two.
  const inAfter = (k) => after[0] <= k && k < after[1];
  const changed = [[Math.min(before[0], after[0]), Math.max(before[0], after[0])],
    [Math.min(before[1], after[1]), Math.max(before[1], after[1])]];
  for (const [a, b] of changed) {
    for (let k = a; k < b && k < nodes.length; k++) nodes[k].classList.toggle("cc-sel", inAfter(k));
  }
}

function keepInView(box, node) {
  // Scrolls the text box (only it, never the page) so the caret's line is visible: a long turn
  // scrolls inside its box (max-height in selector.css), and End must not leave the caret below it.
  if (box.scrollHeight <= box.clientHeight) return;
  const r = node.getBoundingClientRect();
  const top = box.getBoundingClientRect().top + box.clientTop;
  if (r.top < top) box.scrollTop -= top - r.top;
  else if (r.bottom > top + box.clientHeight) box.scrollTop += r.bottom - (top + box.clientHeight);
}

function renderPalette(box, cfg, assign) {
  const types = cfg.entity_types || [];
  box.replaceChildren(el("span", "cc-lead"));
  types.forEach((label, k) => {
    const b = el("button", "cc-type");
    b.type = "button";
    b.style.setProperty("--cc-color", colorOf(types, label));
    if (k < 9) b.appendChild(el("kbd", "", String(k + 1)));
    b.appendChild(document.createTextNode(label));
    b.addEventListener("mousedown", (e) => e.preventDefault());
    b.addEventListener("click", () => assign(k));
    box.appendChild(b);
  });
}

function paintPalette(box, active) {
  box.classList.toggle("cc-active", active);
  box.querySelector(".cc-lead").textContent = active ? "Entity type for the selection:" : "Entity types (select text first):";
  for (const b of box.querySelectorAll(".cc-type")) b.disabled = !active;
}

function renderChips(box, chars, st, cfg, remove) {
  const types = cfg.entity_types || [];
  box.replaceChildren();
  if (!st.spans.length) {
    box.appendChild(el("span", "cc-empty", "No entity spans."));
    return;
  }
  st.spans.forEach((s, k) => {
    const chip = el("span", "cc-chip");
    chip.dataset.start = String(s.start);
    chip.dataset.end = String(s.end);
    chip.dataset.label = s.label;
    chip.style.setProperty("--cc-color", colorOf(types, s.label));
    chip.appendChild(el("b", "cc-chip-label", s.label));
    chip.appendChild(el("span", "cc-chip-text", chars.slice(s.start, s.end).join("")));
    chip.appendChild(el("span", "cc-chip-pos", `${s.start}–${s.end}`));
    const x = el("button", "cc-chip-x", "×");
    x.type = "button";
    x.title = "Remove this span";
    x.setAttribute("aria-label", `Remove ${s.label} span ${s.start} to ${s.end}`);
    x.addEventListener("click", () => remove(k));
    chip.appendChild(x);
    box.appendChild(chip);
  });
}
