"""The label form of one turn: its state in the session, the widgets generated from the schema.

A form is opened per turn shown and carries a client-minted ``form_id``: the submit (or skip) of that
form is stored under that id, so a double click, a rerun or a retried request stores it once. Widget
keys embed the form id, so each turn starts from fresh widgets and a stale click on an old form is
recognisable. Values live in ``st.session_state`` under those keys; the spans live in the span
selector, with the form holding the revision Python last set (see ``span_selector``).

Pre-filled intents are the model's guess, not the annotator's choice. The schema is multi-label, so a
choice used to add to them, and turns were stored with intents nobody chose ("book a one-way ticket"
kept a 51% hotel_reservation). The rule (``PREFILL_RULE``, also in the page's key legend): the first
explicit intent choice on a turn whose intents are still exactly the untouched pre-fill (a digit key,
or picking in the intent box after "/") replaces them, so the turn holds just that intent; later
choices add or toggle. Accepting the suggestion (A) keeps them, and choices after it add. Removing a
pre-filled chip with the mouse is a change too: later choices add. Every chosen intent is written out
in full under the box (``chosen_intents_html``), and the box wraps its chips (in a column it clipped
the third to "co…").
"""
from __future__ import annotations

import html
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from store.records import describe_overlaps, overlapping_spans
from workbench.components import intent_guard, shortcuts
from workbench.components import label_form_suggestion as suggestions
from workbench.components.label_form_suggestion import suggested_values, without_overlaps
from workbench.components.span_selector import spans_from_state

logger = logging.getLogger(__name__)

# What pre-fills from a suggestion, and its banner, live in ``label_form_suggestion``; the page and
# the tests reach them through this module as before that split.
SUGGESTED_INTENT_MIN_PROB = suggestions.SUGGESTED_INTENT_MIN_PROB
ADDITIONAL_INTENT_MIN_PROB = suggestions.ADDITIONAL_INTENT_MIN_PROB
SUGGESTED_SPAN_MIN_SCORE = suggestions.SUGGESTED_SPAN_MIN_SCORE
suggested_intents = suggestions.suggested_intents
suggested_spans = suggestions.suggested_spans
percent = suggestions.percent
suggestion_html = suggestions.suggestion_html

# A corrected response says the response did not fit: writing one sets the fit (see ``on_correction``).
CORRECTED_BUT_ALIGNED = ("A corrected response means the response did not fit, but the fit is 'aligned': "
                         "press M (misaligned), or clear the corrected response.")
FIT_FROM_CORRECTION = "Response fit set to misaligned: a corrected response means the response did not fit."
# The choices Python changes on a key press live on the form, not in widget state: a rerun that
# interrupts the one that changed them would otherwise carry the browser's stale widget value back
# and undo the key press (Streamlit coalesces reruns). Each programmatic change gets fresh widget
# keys seeded from the form; a widget reports back only through ``sync_choice``, which ignores
# widgets of an older revision. All three move together: re-keying only the changed one let a rerun
# interrupted by the next key carry a stale intent box back (tests/browser: keys 3 then Q lost the 3).
# So "/" right after a choice key would focus a box about to be replaced: the span selector holds
# the keys until that rerun has drawn the new box (see ``applied_seq`` in ``span_selector``).
VERSIONED_WIDGETS = ("intents", "sentiment", "aligned")
PREFILL_RULE = ("Pre-filled intents: your first intent choice (digit, or / then Enter) replaces them; "
                "A keeps them; later choices add.")


@dataclass
class LabelForm:
    """One open form; kept in session state between runs."""

    turn_id: str
    project: str
    form_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    flag_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    opened_at: float = field(default_factory=time.time)
    spans: list[dict] = field(default_factory=list)
    spans_rev: int = 0
    flagged: bool = False
    restored: bool = False        # opened from an earlier submit (after undo or a resumed lease)
    suggestion: dict | None = None
    turn: dict | None = None      # the turn as claimed (text, context, response), shown without re-reading
    lease_at: float = field(default_factory=time.time)   # when the lease was taken or last renewed
    intents: list[str] = field(default_factory=list)
    sentiment: str | None = None
    aligned: bool | None = None
    last_seq: int = 0             # the last key action applied from the span selector's log
    fit_from_correction: bool = False   # the fit was switched to misaligned by writing a correction
    widget_rev: int = 0           # bumped whenever Python (not the user) changes a choice widget
    prefilled_intents: list[str] = field(default_factory=list)   # the pre-fill, until intents change
    draft_restored: bool = False  # opened with the annotator's unsaved values from an earlier session
    # Keeps the values as a draft on every change (``keep_draft``); the page gives it (store.drafts).
    draft_saver: Callable[[dict], None] | None = field(default=None, repr=False, compare=False)

    def key(self, name: str) -> str:
        if name in VERSIONED_WIDGETS:
            return f"label-{name}-{self.form_id}-{self.widget_rev}"
        return f"label-{name}-{self.form_id}"


def initial_values(prior: dict | None, suggestion: dict | None, *, prefill: bool) -> tuple[dict, bool]:
    """The form's starting labels: the turn's earlier state, else the suggestion (if pre-filling)."""
    empty = {"intents": [], "entities": [], "sentiment": None, "aligned": None, "corrected_response": None}
    if prior:
        return {**empty, **prior}, True
    if prefill and suggestion:
        return {**empty, **suggested_values(suggestion)}, False
    return empty, False



def open_form(turn: dict, project: str, *, prior: dict | None, prefill: bool, draft: dict | None = None,
              save_draft: Callable[[dict], None] | None = None) -> LabelForm:
    """Create the form for ``turn`` and seed its widget state. ``draft``: this annotator's unsaved
    values for the turn (``store.drafts.load_draft``), shown over the rest; ``save_draft`` keeps the
    values as they change (see ``keep_draft``)."""
    values, restored = initial_values(prior, turn.get("suggestion"), prefill=prefill)
    form = LabelForm(turn_id=turn["turn_id"], project=project, spans=list(values["entities"]), restored=restored,
                     suggestion=turn.get("suggestion"), turn=turn, intents=list(values["intents"]),
                     sentiment=values["sentiment"], aligned=values["aligned"],
                     prefilled_intents=[] if restored else list(values["intents"]), draft_saver=save_draft)
    st.session_state[form.key("corrected")] = values["corrected_response"] or ""
    if draft:
        apply_draft(form, draft)
    return form


def draft_values(form: LabelForm) -> dict:
    """What the form shows now (intents, spans, sentiment, fit, corrected response), as a draft:
    ``store.drafts.save_draft`` takes it and ``apply_draft`` shows it again."""
    corrected = st.session_state.get(form.key("corrected")) or ""
    return {**choices(form), "entities": current_spans(form), "corrected_response": corrected if corrected.strip() else None}


def apply_draft(form: LabelForm, draft: dict) -> None:
    """Show ``draft`` on a freshly opened form (a reload is a new session: the old form is gone).
    Intents equal to the untouched pre-fill stay the pre-fill, so the first choice still replaces them."""
    intents = list(draft.get("intents") or [])
    still_prefill = bool(form.prefilled_intents) and intents == form.prefilled_intents
    change_choices(form, intents=intents, sentiment=draft.get("sentiment"), aligned=draft.get("aligned"))
    if still_prefill:
        form.prefilled_intents = list(intents)
    form.spans = [dict(s) for s in draft.get("entities") or []]
    form.spans_rev += 1                   # the selector takes these, not a browser state of an older revision
    st.session_state[form.key("corrected")] = draft.get("corrected_response") or ""
    form.draft_restored = True


def keep_draft(form: LabelForm) -> None:
    """Save what the form shows as its draft, if the page gave it a saver (every change by the
    annotator calls this). Best effort: a draft that fails to save is logged, never in the way of
    labelling; the submit is what stores the labels."""
    if form.draft_saver is None:
        return
    try:
        form.draft_saver(draft_values(form))
    except Exception:
        logger.exception("could not save the draft of turn %s", form.turn_id)


def choices(form: LabelForm) -> dict:
    """The current intents / sentiment / alignment (the form's, which the widgets show)."""
    return {"intents": list(form.intents), "sentiment": form.sentiment, "aligned": form.aligned}


def holds_untouched_prefill(form: LabelForm) -> bool:
    """The intents are still exactly what the suggestion pre-filled: the next choice replaces them."""
    return bool(form.prefilled_intents) and form.intents == form.prefilled_intents


def change_choices(form: LabelForm, **changes) -> None:
    """Set choices from Python (a key press, accept-all): the widgets move to fresh keys. Any change
    of the intents ends the pre-fill's "first choice replaces" turn."""
    for name in VERSIONED_WIDGETS:
        st.session_state.pop(form.key(name), None)
    if "intents" in changes:
        form.prefilled_intents = []
    for name, value in changes.items():
        setattr(form, name, list(value) if name == "intents" else value)
    form.widget_rev += 1


def sync_choice(form: LabelForm, name: str, rev: int) -> None:
    """A choice widget changed in the browser (the user): copy it to the form if it is current. An
    intent picked in the box while it holds the untouched pre-fill replaces the pre-fill (the box is
    re-keyed to show that); a removal is taken as it is."""
    if rev != form.widget_rev:
        return
    take_widget_value(form, name)
    keep_draft(form)


def take_widget_value(form: LabelForm, name: str) -> None:
    """Copy the widget's value to the form (see ``sync_choice``)."""
    value = st.session_state.get(form.key(name))
    if name != "intents":
        setattr(form, name, value)
        return
    value = list(value or [])
    added = [i for i in value if i not in form.intents]
    if holds_untouched_prefill(form) and len(added) == 1 and all(i in value for i in form.intents):
        change_choices(form, intents=added)
        return
    form.intents, form.prefilled_intents = value, []


def seed_widget(form: LabelForm, name: str) -> dict:
    """Widget kwargs that show the form's value under the current key and report changes back."""
    key = form.key(name)
    if key not in st.session_state:
        st.session_state[key] = list(form.intents) if name == "intents" else getattr(form, name)
    return {"key": key, "on_change": sync_choice, "args": (form, name, form.widget_rev)}


def close_form(form: LabelForm) -> None:
    """Forget the widget state of a form that is done, so sessions do not grow with every turn. It
    keeps no more drafts: a late callback of the old form must not write one for a submitted turn."""
    form.draft_saver = None
    marker = f"-{form.form_id}"
    for key in [k for k in st.session_state.keys() if marker in str(k)]:
        del st.session_state[key]


def current_spans(form: LabelForm, snapshot: dict | None = None) -> list[dict]:
    """The spans shown in the browser: ``snapshot`` (sent with a submit key) or the component state."""
    state = st.session_state.get(form.key("span"))
    spans_state = state.get("spans") if isinstance(state, dict) else None
    fallback = spans_from_state(spans_state, rev=form.spans_rev, fallback=form.spans)
    return spans_from_state(snapshot, rev=form.spans_rev, fallback=fallback)


def collect(form: LabelForm, spans_snapshot: dict | None = None) -> dict:
    """The form's labels as ``annotations.submit`` takes them. A correction with no fit chosen means
    the response did not fit (see ``on_correction``). A turn without a response stores neither: the
    form hides them, but an earlier label or a draft could still carry a fit."""
    corrected = (st.session_state.get(form.key("corrected")) or "").strip() or None
    values = {**choices(form), "entities": current_spans(form, spans_snapshot), "corrected_response": corrected}
    if not judges_fit(form):
        return {**values, "aligned": None, "corrected_response": None}
    if corrected and values["aligned"] is None:
        values["aligned"] = False
    return values


def on_correction(form: LabelForm) -> None:
    """Writing a corrected response says the response did not fit: the fit switches to misaligned
    (and the form says so), as a keyboard-first annotator expects after C, typing, Esc, Enter. Pressing
    G afterwards is refused at submit (``problems``) rather than silently dropping the correction."""
    if (st.session_state.get(form.key("corrected")) or "").strip() and form.aligned is not False:
        change_choices(form, aligned=False)
        form.fit_from_correction = True
    keep_draft(form)


def has_response(turn: dict | None) -> bool:
    """The turn shows an assistant response whose fit can be judged (not absent, not blank)."""
    return bool(((turn or {}).get("response") or "").strip())


def judges_fit(form: LabelForm) -> bool:
    """The form asks for the response fit (and a correction): its turn has a response, or is unknown."""
    return form.turn is None or has_response(form.turn)


def missing_choices(values: dict, schema: dict, turn: dict | None) -> list[str]:
    """The choices every submit must make and this one lacks, each as "what (which keys)": an intent
    (when the schema has any), one of the schema's sentiments (when it has sentiments) and, when
    ``turn`` shows a response, its fit. Turns with nothing pre-filled (a language the model cannot
    read) went out with sentiment and fit null when only an intent was asked for."""
    found = []
    if schema["intents"] and not values["intents"]:
        found.append("at least one intent (digits, or / to search)")
    sentiments = schema.get("sentiments") or []
    if sentiments and values.get("sentiment") not in sentiments:
        keys = "/".join(k.upper() for k in shortcuts.sentiment_keys(sentiments))
        found.append(f"a sentiment ({keys})")
    if has_response(turn) and values.get("aligned") is None:
        found.append(f"the response fit ({shortcuts.ALIGNED_KEY.upper()} aligned, "
                     f"{shortcuts.MISALIGNED_KEY.upper()} misaligned)")
    return found


def missing_message(missing: list[str]) -> str:
    """One sentence for every missing choice, with the way out once: a message per choice said
    "or skip the turn with S." three times when nothing was picked."""
    listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
    return f"Pick {listed}, or skip the turn with S."


def problems(values: dict, schema: dict, turn: dict | None = None,
             intent_limit: int = intent_guard.MAX_INTENTS_PER_TURN) -> list[str]:
    """Why this form cannot be submitted yet (empty when it can). ``turn`` is the turn as shown: its
    response makes the fit required (see ``missing_choices``). What is missing comes last, as one
    message, so the joined text ends with the skip hint once."""
    found = []
    unknown = [i for i in values["intents"] if i not in schema["intents"]]
    if unknown:
        found.append(f"Unknown intent(s) {unknown}: the schema changed; pick from the current list.")
    if values.get("corrected_response") and values.get("aligned") is True:
        found.append(CORRECTED_BUT_ALIGNED)
    found += [m for m in [intent_guard.too_many_intents(values["intents"], intent_limit)] if m]
    pairs = overlapping_spans(values.get("entities") or [])
    if pairs:
        found.append(f"Spans {describe_overlaps(pairs, limit=1)} overlap: "
                     "select the text and press the label you mean (it replaces the others), or remove one.")
    missing = missing_choices(values, schema, turn)
    return found + [missing_message(missing)] if missing else found


def accept_suggestions(form: LabelForm) -> None:
    """Add the suggested intents and spans, take the suggested sentiment and alignment."""
    if not form.suggestion:
        return
    wanted = suggested_values(form.suggestion)
    current = choices(form)
    change_choices(
        form, intents=list(dict.fromkeys([*current["intents"], *wanted["intents"]])),
        sentiment=current["sentiment"] if wanted["sentiment"] is None else wanted["sentiment"],
        aligned=current["aligned"] if wanted["aligned"] is None else wanted["aligned"])
    spans = current_spans(form)
    # The annotator's own spans win over suggested ones that overlap them (one label per character).
    form.spans = sorted(spans + without_overlaps(wanted["entities"], keep=spans), key=lambda s: (s["start"], s["end"]))
    form.spans_rev += 1
    keep_draft(form)


def apply_key_action(form: LabelForm, name: str, value, schema: dict, quick: list[str]) -> None:
    """A key pressed in the page (from the span selector's log): toggle the intent on that digit
    (``quick``, see ``shortcuts.quick_intents``), or make it the only one while the intents are the
    untouched pre-fill (``PREFILL_RULE``); set sentiment/alignment."""
    if name == "intent" and isinstance(value, int) and 0 <= value < len(quick):
        chosen = choices(form)["intents"]
        intent = quick[value]
        if holds_untouched_prefill(form):
            change_choices(form, intents=[intent])
        else:
            change_choices(form, intents=[i for i in chosen if i != intent] if intent in chosen else [*chosen, intent])
    elif name == "sentiment" and value in schema["sentiments"]:
        change_choices(form, sentiment=value)
    elif name == "aligned" and isinstance(value, bool) and judges_fit(form):     # G / M
        change_choices(form, aligned=value)
    else:
        return
    keep_draft(form)


def intent_label(quick: list[str]):
    """Option labels with their quick key, e.g. ``1 · refund_request``."""
    positions = {name: i for i, name in enumerate(quick)}

    def label(name: str) -> str:
        key = shortcuts.quick_intent_key(positions.get(name, 99))
        return f"{key} · {name}" if key else name
    return label


def render_intents(form: LabelForm, schema: dict, quick: list[str]) -> None:
    """The intent box: the digit-keyed intents first (in key order), then the rest in schema order. No
    "Select all": it came first, so "/" then Enter took every match (see ``intent_guard``)."""
    n = len(schema["intents"])
    options = [*quick, *(i for i in schema["intents"] if i not in quick)]
    st.multiselect(
        "Intents", options, **seed_widget(form, "intents"), format_func=intent_label(quick), wrap=True,
        select_all=False,
        placeholder=f"Type to search {n} intents  ( / )",
        help="Digit keys toggle the schema's first ten intents, numbered in this list; / searches all. " + PREFILL_RULE,
    )
    st.html(chosen_intents_html(form))    # always one element, so the widgets below keep their place


def chosen_intents_html(form: LabelForm) -> str:
    """Every intent a submit would store, in full (escaped: names come from the schema), and whether
    they are the untouched pre-fill that the first choice replaces."""
    names = ", ".join(html.escape(i) for i in form.intents) or "none yet"
    note = (" <span style='opacity:.75'>(pre-filled from the suggestion: your first intent choice replaces "
            "them; A keeps them)</span>") if holds_untouched_prefill(form) else ""
    return ("<div data-testid='cc-chosen-intents' style='font-size:.8rem;margin-top:-.6rem;"
            f"overflow-wrap:anywhere'>Intents to store: <b>{names}</b>{note}</div>")


def render_sentiment(form: LabelForm, schema: dict) -> None:
    keys = {name: key for key, name in shortcuts.sentiment_keys(schema["sentiments"]).items()}
    st.segmented_control(
        "Sentiment", schema["sentiments"], **seed_widget(form, "sentiment"),
        format_func=lambda s: f"{s} ({keys[s].upper()})" if s in keys else s,
    )


def render_alignment(form: LabelForm) -> None:
    """The fit and the corrected response; nothing on a turn without a response (nothing to judge)."""
    if not judges_fit(form):
        return
    st.segmented_control(
        "Response fit", [True, False], **seed_widget(form, "aligned"),
        format_func=lambda v: f"aligned ({shortcuts.ALIGNED_KEY.upper()})" if v
        else f"misaligned ({shortcuts.MISALIGNED_KEY.upper()})",
    )
    st.text_area("Corrected response (optional)", key=form.key("corrected"), height=68,
                 placeholder="What the assistant should have said  ( C ): sets the fit to misaligned",
                 on_change=on_correction, args=(form,))
    note = st.empty()                     # always one element, so the buttons below keep their place
    if form.fit_from_correction and form.aligned is False:
        note.text(FIT_FROM_CORRECTION)
