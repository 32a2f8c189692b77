// Concord span selector: entity spans over one turn's text, chosen by mouse or keyboard.
//
// Offsets are Unicode code points (Python str indices), never UTF-16 units: text.js (concatenated
// before this file) splits the text into code points and grapheme clusters, and every index below
// counts code points. render.js draws the text one node per cluster, so the mouse can only land
// between whole characters. User text is only ever written with textContent, never innerHTML.
//
// Python passes `data` = {form_id, text, spans, spans_rev, entity_types, suggested_spans,
// sentiment_keys, alignment_keys, command_keys, focus_targets, pick_boxes, global_keys, applied_seq}
// (applied_seq: the last logged key Python has applied: a higher `seq` here means a rerun is pending).
// Python gets back two states: `spans` = {rev, spans:[{start,end,label}]} and `actions` = {log: [[seq, name, value]...]}.
// Keys are sent as an ordered log in *state*, not as triggers: Streamlit coalesces reruns that
// arrive while a script runs, and a newer trigger replaces an older one, so fast typing would drop
// keys. A log keeps every key and its order; Python applies the entries it has not seen yet.

const FORMS = new Map(); // form_id -> {spans, rev, caret, anchor}: survives re-invocations of a form
const LOG_KEEP = 64;
const DEFER_MAX_MS = 5000; // the longest a "/" waits for a pending rerun (a loaded server is slow) before focusing anyway
// Only the selector mounted last owns the keyboard: while Streamlit swaps turns the old one can
// linger for a moment, and keys must not go to a turn that is leaving the screen.
let activeInstance = null;
let keyOwner = null; // the Selector that is activeInstance: held keys are replayed through it
let instanceCount = 0;

function formState(cfg) {
  let st = FORMS.get(cfg.form_id);
  const rev = cfg.spans_rev || 0;
  if (!st || rev > st.rev) {
    st = { spans: (cfg.spans || []).map((s) => ({ start: s.start, end: s.end, label: s.label })),
      rev, caret: st ? st.caret : 0, anchor: null, log: st ? st.log : [], seq: st ? st.seq : 0,
      deferred: st ? st.deferred : null };
    FORMS.set(cfg.form_id, st);
  }
  if (FORMS.size > 50) FORMS.delete(FORMS.keys().next().value);
  return st;
}

function selection(st) {
  if (st.anchor === null || st.anchor === st.caret) return null;
  return [Math.min(st.anchor, st.caret), Math.max(st.anchor, st.caret)];
}

function covering(spans, i) {
  // Spans that cover code point i, innermost (shortest) first.
  return spans.filter((s) => s.start <= i && i < s.end).sort((a, b) => (a.end - a.start) - (b.end - b.start));
}

function isEditable(el) {
  if (!el) return false;
  const tag = el.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
}

function boundaryAt(event) {
  // The cluster boundary nearest the pointer: the left or right edge of the character under it.
  const target = event.target.closest ? event.target.closest("[data-i]") : null;
  if (!target) return null;
  const r = target.getBoundingClientRect();
  return Number(event.clientX > r.left + r.width / 2 ? target.dataset.end : target.dataset.i);
}

// One mounted selector: its form's state, its DOM, its listeners. Methods stay small on purpose.
class Selector {
  constructor(component) {
    const { data, parentElement, setStateValue } = component;
    this.cfg = data || {};
    this.model = new TextModel(this.cfg.text || "");
    this.chars = this.model.chars;
    this.st = formState(this.cfg);
    this.setStateValue = setStateValue;
    this.root = parentElement.querySelector(".cc-root");
    this.textBox = this.root.querySelector(".cc-text");
    this.palette = this.root.querySelector(".cc-palette");
    this.chips = this.root.querySelector(".cc-spans");
    this.root.dataset.formId = this.cfg.form_id || "";
    this.textBox.setAttribute("aria-label", "Turn text; arrows move the caret, shift+arrows select, digits assign an entity type");
    this.dragging = false;
    this.id = ++instanceCount;
  }

  // -- state out: spans as a state, keys as an ordered log (see the top of this file) -----------
  publish() {
    this.setStateValue("spans", { rev: this.st.rev, spans: this.st.spans.map((s) => ({ ...s })) });
  }

  act(name, value) {
    const st = this.st;
    st.log.push([++st.seq, name, value ?? null]);
    if (st.log.length > LOG_KEEP) st.log.splice(0, st.log.length - LOG_KEEP);
    this.setStateValue("actions", { log: st.log });
  }

  // draw() rebuilds the text (the spans changed); paint() only moves caret and selection. Mouse
  // and caret keys must paint, never draw: a rebuild under the mouse between the two clicks of a
  // double-click puts the second on a new node, and the browser then fires no dblclick.
  draw() {
    this.nodes = renderText(this.textBox, this.model, this.st, this.cfg);
    this.painted = { sel: [0, 0], caret: null };
    renderChips(this.chips, this.chars, this.st, this.cfg, (k) => this.remove(k));
    this.root.dataset.spans = JSON.stringify(this.st.spans);
    this.paint();
  }

  paint() {
    const { st, nodes, painted } = this;
    const sel = selection(st);
    const range = sel ? [this.nodeOf(sel[0]), this.nodeOf(sel[1])] : [0, 0];
    paintSelection(nodes, painted.sel, range);
    const caret = this.nodeOf(st.caret);
    if (painted.caret !== caret) {
      if (painted.caret !== null) nodes[painted.caret].classList.remove("cc-caret");
      nodes[caret].classList.add("cc-caret");
    }
    if (painted.caret !== caret) keepInView(this.textBox, nodes[caret]);
    this.painted = { sel: range, caret };
    paintPalette(this.palette, !!sel);
    this.root.dataset.caret = String(st.caret);
  }

  nodeOf(i) {
    return this.model.clusterAt[Math.max(0, Math.min(this.model.length, i))];
  }

  // -- spans --------------------------------------------------------------------------------------
  assign(k) {
    const st = this.st;
    const label = (this.cfg.entity_types || [])[k];
    if (!selection(st) || !label) return;
    const sel = this.model.trimmed(...selection(st));
    if (sel[0] >= sel[1]) return; // only whitespace: nothing to mark
    // NER mode (as Prodigy, doccano): a label over a selection replaces every span it overlaps,
    // so re-labelling a suggested span changes its label instead of stacking a second span on it.
    st.spans = st.spans.filter((s) => s.end <= sel[0] || s.start >= sel[1]);
    st.spans.push({ start: sel[0], end: sel[1], label });
    st.spans.sort((a, b) => a.start - b.start || a.end - b.end);
    st.anchor = null;
    st.caret = sel[1];
    this.draw();
    this.publish();
  }

  remove(k) {
    this.st.spans.splice(k, 1);
    this.draw();
    this.publish();
  }

  removeAt(i) {
    const st = this.st;
    const sel = selection(st);
    let k = sel ? st.spans.findIndex((s) => s.start === sel[0] && s.end === sel[1]) : -1;
    if (k < 0) {
      const cover = covering(st.spans, i);
      k = cover.length ? st.spans.lastIndexOf(cover[0]) : -1;
    }
    if (k >= 0) this.remove(k);
  }

  moveCaret(to, extend) {
    const st = this.st;
    if (extend && st.anchor === null) st.anchor = st.caret;
    if (!extend) st.anchor = null;
    st.caret = Math.max(0, Math.min(this.chars.length, to));
    this.paint();
  }

  // -- mouse: press, drag, release; half-character boundaries like a native text selection -------
  onDown(e) {
    const b = e.button === 0 ? boundaryAt(e) : null;
    if (b === null) return;
    e.preventDefault();
    this.dragging = true;
    if (!e.shiftKey) this.st.anchor = b;
    else if (this.st.anchor === null) this.st.anchor = this.st.caret;
    this.st.caret = b;
    this.paint();
  }

  onMove(e) {
    if (!this.dragging) return;
    const b = boundaryAt(e);
    if (b === null || b === this.st.caret) return;
    this.st.caret = b;
    this.paint();
  }

  onDouble(e) {
    const target = e.target.closest ? e.target.closest(".cc-ch") : null;
    if (!target) return;
    [this.st.anchor, this.st.caret] = this.model.wordAt(Number(target.dataset.i));
    this.paint();
  }

  // -- keyboard: one listener for the whole page (components v2 run in the app document) ----------
  // Untrusted keys are the ones typeInto replays into a box: they are for the box, not for us.
  onKey(e) {
    if (activeInstance !== this.id || e.defaultPrevented || e.isComposing || !e.isTrusted) return;
    if (this.st.deferred) { this.queueKey(e); return; }
    const target = e.composedPath ? e.composedPath()[0] : e.target;
    if (isEditable(target)) { this.boxKey(target, e.key); return; } // the browser types it
    if (this.pageKey(e)) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  pageKey(e) { return this.caretKey(e) || this.labelKey(e) || this.commandKey(e); }

  // A key in a text box: Escape leaves it; Enter in a pick box (the intent search) picks the
  // highlighted option (the box's own handler, after this capture listener) and leaves it too, so
  // the next W, G or Enter acts on the page instead of being typed into the search ("/" again for more).
  boxKey(input, key) {
    if (key === "Escape") input.blur();
    else if (key === "Enter" && this.isPickBox(input)) setTimeout(() => { if (document.activeElement === input) input.blur(); }, 0);
  }

  isPickBox(input) { return (this.cfg.pick_boxes || []).some((prefix) => !!input.closest(`[class*="${prefix}"]`)); }

  // A held key (see deferFocus), as if pressed now: into the focused box, else to the page.
  replayKey(key) {
    const active = document.activeElement;
    if (isEditable(active)) { if (key !== "Escape") typeInto(active, key); this.boxKey(active, key); return; }
    this.pageKey({ key, shiftKey: false, altKey: false, ctrlKey: false, metaKey: false });
  }

  caretKey(e) {
    const word = e.altKey || e.ctrlKey || e.metaKey;
    const { st, chars, model } = this;
    switch (e.key) {
      case "ArrowLeft": this.moveCaret(word ? model.prevWord(st.caret) : model.prevChar(st.caret), e.shiftKey); return true;
      case "ArrowRight": this.moveCaret(word ? model.nextWord(st.caret) : model.nextChar(st.caret), e.shiftKey); return true;
      case "Home": this.moveCaret(0, e.shiftKey); return true;
      case "End": this.moveCaret(chars.length, e.shiftKey); return true;
      case "Escape": if (st.anchor === null) return false; this.moveCaret(st.caret, false); return true;
      case "Backspace": this.removeAt(st.caret - 1); return true;
      case "Delete": this.removeAt(st.caret); return true;
      default: return false;
    }
  }

  labelKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    if (/^[0-9]$/.test(e.key)) {
      const k = e.key === "0" ? 9 : Number(e.key) - 1;
      if (selection(this.st)) this.assign(k); else this.act("intent", k);
      return true;
    }
    const key = e.key.toLowerCase();
    const sentiments = this.cfg.sentiment_keys || {};
    const alignments = this.cfg.alignment_keys || {};
    if (key in sentiments) { this.act("sentiment", sentiments[key]); return true; }
    if (key in alignments) { this.act("aligned", alignments[key]); return true; }
    return false;
  }

  commandKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    const command = (this.cfg.command_keys || {})[e.key === "Enter" ? "Enter" : e.key.toLowerCase()];
    if (command === "submit") {
      this.act("submit", { rev: this.st.rev, spans: this.st.spans.map((s) => ({ ...s })) });
      return true;
    }
    if (command) { this.act(command); return true; }
    const target = (this.cfg.focus_targets || {})[e.key];
    if (!target) return false;
    if (this.st.seq > (this.cfg.applied_seq ?? this.st.seq)) { this.deferFocus(e.key, target); return true; }
    if (!targetInput(target) && olderVersionShown(target)) {
      // Python has applied every key, but the rerun has drawn only this component so far: the
      // box it names (a new widget key) is not on the page yet, and the old one is about to go.
      this.deferFocus(e.key, target);
      waitAndFlush(this.st, Date.now());
      return true;
    }
    return !!focusTarget(target);
  }

  // -- a text box asked for while Python is still applying earlier keys ---------------------------
  // A key Python has not applied yet may re-key (replace) the box, e.g. a digit re-keys the intent
  // box: focusing the old one would lose what is typed next, and its Enter would reach the page as
  // a submit. So the keys are held until the rerun that applies them has drawn the new box (its
  // exact key comes in `focus_targets`), then typed into it in order.
  deferFocus(key, target) {
    const st = this.st;
    const deferred = { key, target, keys: [], form: this.cfg.form_id };
    st.deferred = deferred;
    setTimeout(() => { if (st.deferred === deferred) flushDeferred(st); }, DEFER_MAX_MS);
  }

  queueKey(e) {
    e.preventDefault();
    e.stopPropagation();
    this.st.deferred.keys.push(e.key);
  }

  mount() {
    const handlers = [
      [this.textBox, "pointerdown", (e) => this.onDown(e)],
      [this.textBox, "pointermove", (e) => this.onMove(e)],
      [this.textBox, "dblclick", (e) => this.onDouble(e)],
      [window, "pointerup", () => { this.dragging = false; }],
    ];
    if (this.cfg.global_keys !== false) handlers.push([window, "keydown", (e) => this.onKey(e), true]);
    for (const [node, type, fn, capture] of handlers) node.addEventListener(type, fn, !!capture);
    activeInstance = this.id;
    keyOwner = this;
    renderPalette(this.palette, this.cfg, (k) => this.assign(k));
    this.draw(); // no publish here: Python already knows these spans (they came in `data`)
    const deferred = this.st.deferred;
    if (deferred && (this.cfg.applied_seq ?? 0) >= this.st.seq) {
      deferred.target = (this.cfg.focus_targets || {})[deferred.key] || deferred.target;
      waitAndFlush(this.st, Date.now());
    }
    return () => {
      if (activeInstance === this.id) { activeInstance = null; keyOwner = null; }
      for (const [node, type, fn, capture] of handlers) node.removeEventListener(type, fn, !!capture);
    };
  }
}

function targetInput(key) {
  // The box of exactly this widget key: a class token match, so "...-1" never finds "...-12".
  const box = `[class~="${key}"]`;
  const inputs = Array.from(document.querySelectorAll(`${box} input, ${box} textarea`));
  return inputs.find((i) => !i.closest("[data-retained='true']")) || null;
}

function olderVersionShown(key) {
  // A versioned widget key ends in "-<rev>"; another box of the same family on the page is an
  // older revision that a rerun is replacing (an unversioned key's family matches nothing else).
  const family = key.slice(0, key.lastIndexOf("-") + 1);
  return !!document.querySelector(`[class*="${family}"]`);
}

function focusTarget(prefix) {
  // Focus a Streamlit widget by its key (a prefix match: keys may carry a version suffix).
  if (!prefix) return null;
  const box = `[class*="${prefix}"]`;
  const input = targetInput(prefix) || document.querySelector(`${box} input, ${box} textarea`);
  if (!input) return null;
  input.focus();
  input.click();
  return input;
}

function waitAndFlush(st, since) {
  // The rerun draws the component before the form column: wait for the new box to exist.
  if (!st.deferred) return;
  if (targetInput(st.deferred.target) || Date.now() - since > DEFER_MAX_MS) { flushDeferred(st); return; }
  setTimeout(() => waitAndFlush(st, since), 30);
}

function typeInto(input, key) {
  // Replays a held key in a React-controlled box: the native setter, then the events React reads.
  if (key.length === 1 || key === "Backspace") {
    const proto = input.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    const value = key === "Backspace" ? input.value.slice(0, -1) : input.value + key;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(input, value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    return;
  }
  const codes = { Enter: 13, Escape: 27, ArrowDown: 40, ArrowUp: 38, Tab: 9 };
  const init = { key, code: key, bubbles: true, cancelable: true };
  const event = new KeyboardEvent("keydown", init);
  Object.defineProperty(event, "keyCode", { get: () => codes[key] || 0 });
  Object.defineProperty(event, "which", { get: () => codes[key] || 0 });
  input.dispatchEvent(event);
}

function flushDeferred(st) {
  // Replays the held keys one per tick (so React shows the filtered options before an Enter) into
  // the box, and after an Enter that picks (or an Escape) to the page, as if pressed now. Keys
  // pressed meanwhile join the queue, so nothing overtakes what was held; a held "/" that has to
  // wait again takes the rest of the queue with it.
  const deferred = st.deferred;
  if (!deferred || deferred.flushing) return;
  deferred.flushing = true;
  const done = () => { if (st.deferred === deferred) st.deferred = null; };
  if (!focusTarget(deferred.target)) { done(); return; }
  const next = () => {
    const owner = keyOwner && keyOwner.cfg.form_id === deferred.form ? keyOwner : null;
    const live = owner ? owner.st : st; // a rerun may have given the form a new state object
    if (!deferred.keys.length || !owner) { done(); if (live.deferred === deferred) live.deferred = null; return; }
    const key = deferred.keys.shift();
    live.deferred = null;
    owner.replayKey(key);
    if (live.deferred) { live.deferred.keys.unshift(...deferred.keys); return; }
    if (!deferred.keys.length) return;
    live.deferred = deferred;
    setTimeout(next, 20);
  };
  next();
}

export default function (component) {
  return new Selector(component).mount();
}
