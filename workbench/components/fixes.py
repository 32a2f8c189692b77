"""One-click fixes on the analyst pages: relabel to the suggestion, relabel to any label the analyst picks,
confirm the given label, send to review.

A fix is an ``adjudicate`` annotation by the analyst: it becomes the turn's gold label and the earlier
labels stay in the history. Each button is drawn under a line saying exactly what it stores; values are
user text, so they go through ``st.text`` and button labels stay fixed strings. No button is primary:
the model's suggestion is often wrong (or "(none)"), so none of the choices is drawn as the expected one.
"""
from __future__ import annotations

import hashlib
import uuid

import pandas as pd
import streamlit as st

from store import analysis, annotations, fixed_rows, labels
from workbench.components.analysis import flash
from workbench.components.notice import notice

OUTSIDE = "O"     # the entity label of "no entity here" in label-error rows


def make_annotation_id(db, project: str, *parts) -> str:
    """Same click on unchanged data -> same id, so a double click or a rerun stores one annotation."""
    version = analysis.data_version(db, project)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(map(str, (*parts, version)))))


def _entities_with(entities: list[dict], given: dict, value: dict) -> list[dict]:
    """The turn's spans with the region ``[start, end)`` relabelled: spans of the ``given`` type that
    overlap it are dropped (none when given is "O", a missed entity), then ``value`` is added unless its
    label is "O" (the model sees no entity there). Spans of other types stay as they are."""
    start, end = int(value["start"]), int(value["end"])
    kept = [dict(s) for s in entities
            if not (s["label"] == given.get("label") != OUTSIDE and s["start"] < end and start < s["end"])]
    if value.get("label") != OUTSIDE:
        kept.append({"start": start, "end": end, "label": value["label"]})
    unique = {(int(s["start"]), int(s["end"]), s["label"]): s for s in kept}
    return [unique[k] for k in sorted(unique)]


def _labels_with(current: dict, field: str, given, value) -> dict:
    """The turn's labels after relabelling ``field`` from ``given`` to ``value``: for intents only ``given`` is
    replaced, so the other intents of a multi-label turn stay, and an intent is never listed twice
    (``relabel_refusal`` turns away the cases where that would drop a label)."""
    entities = list(current.get("entities") or [])
    if field == "entity":
        entities = _entities_with(entities, given, value)
    intents = list(current.get("intents") or [])
    if field == "intent" and isinstance(value, (list, tuple)):      # multi-label suggestion: the whole set
        intents = list(value)
    elif field == "intent":
        intents = [value if i == given else i for i in intents] if given in intents else [*intents, value]
        intents = list(dict.fromkeys(intents))
    return {"intents": intents, "entities": entities,
            "sentiment": value if field == "sentiment" else current.get("sentiment"),
            "aligned": value if field == "aligned" else current.get("aligned")}


def relabel_refusal(current: dict, field: str, given, value) -> str | None:
    """Why relabelling would be wrong here (None: it is fine). An intent suggestion the turn already has
    would merge two intents into one (dropping a correct label), and a given intent the turn no longer
    has means the row is stale (the label changed since the list was computed). An empty intent set is no
    suggestion either: an out-of-fold audit of a multi-label project suggests [] when no intent reaches
    0.5, and relabelling to it stored a turn with no intent at all as its gold label."""
    if value is None:
        return "there is no suggestion"
    if field == "intent" and isinstance(value, (list, tuple)) and not value:
        return "the model suggests no intent (choose a label below, or send the turn to review)"
    if field != "intent" or isinstance(value, (list, tuple)):
        return None
    intents = list(current.get("intents") or [])
    if value in intents:
        return f"the turn already has intent {value}"
    if intents and given not in intents:
        return f"the turn no longer has intent {given} (its label changed since this list was made)"
    return None


FIT_WORDS = {True: "aligned", False: "misaligned", None: "not judged"}


def _field_words(field: str) -> str:
    """A field as notes and messages name it: the fit field is "response fit:" (its values are words
    too), so a note never reads "aligned None -> False"."""
    return "response fit:" if field == "aligned" else field


def _describe(value, field: str = "") -> str:
    """A label for notes and messages; an entity row's span reads ``type [start-end]`` (code points; the
    tagger's "O" reads "no entity"), a response fit reads aligned / misaligned / not judged."""
    if field == "aligned":
        return FIT_WORDS[None if value is None or pd.isna(value) else bool(value)]    # NaN / NA: not judged
    if isinstance(value, dict):
        name = "no entity" if value.get("label") == OUTSIDE else value.get("label")
        return f"{name} [{value.get('start')}-{value.get('end')}]"
    return str(value)


def fix_note(action: str, field: str, given, value) -> str:
    """The adjudication's note, read by humans in the history views: ``analyst relabel: intent a -> b``. A
    confirm of an entity row ends with a marker of the span it confirmed (``store.fixed_rows``): it changes
    no span, and Label errors counts only that span row of the turn as fixed, not the turn's others."""
    kept = value if action == "relabel" else given
    note = f"analyst {action}: {_field_words(field)} {_describe(given, field)} -> {_describe(kept, field)}"
    if action == "confirm" and field == "entity":
        note += f" ({fixed_rows.confirmed_span_marker(given)})"
    return note


def apply_fix(db, user, project: str, *, turn_id: str, field: str, given, value, action: str) -> None:
    """``relabel`` (field -> value) or ``confirm`` (keep the labels) as the analyst's adjudication; ``review``
    flags the turn for the adjudication queue. Entity rows pass spans ``{start, end, label}``."""
    given_text, value_text, name = _describe(given, field), _describe(value, field), _field_words(field)
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id) or {}
    annotation_id = make_annotation_id(db, project, action, turn_id, field, given, value, user.username)
    if action == "review":
        annotations.flag(db, annotation_id=annotation_id, turn_id=turn_id, project=project, annotator=user.username,
                         note=f"analyst: check {name.rstrip(':')}: given {given_text}"
                              + (f", model suggests {value_text}" if value is not None else ""))
        flash("success", f"Sent {turn_id} to review (the adjudication queue on the Agreement page).")
        return
    refusal = relabel_refusal(current, field, given, value) if action == "relabel" else None
    if refusal:         # checked again on click: the labels may have changed since the buttons were drawn
        flash("error", f"{turn_id}: not relabelled: {refusal}.")
        return
    labels = _labels_with(current, field, given, value) if action == "relabel" else _labels_with(current, "", None, None)
    correction = analysis.current_corrections(db, [turn_id]).get(turn_id)     # the fix keeps it: it is no label
    annotations.adjudicate(db, annotation_id=annotation_id, turn_id=turn_id, project=project, reviewer=user.username,
                           note=fix_note(action, field, given, value), corrected_response=correction, **labels)
    what = f"{name} {given_text} -> {value_text}" if action == "relabel" else f"{name} {given_text} confirmed"
    flash("success", f"{turn_id}: {what}. Stored as the gold label; earlier labels stay in the history.")


FIELD_KEYS = {"intent": "intents", "entity": "entities", "sentiment": "sentiment", "aligned": "aligned"}
PREVIEW_NAMES = {**FIELD_KEYS, "aligned": "response fit:"}     # how the button lines name each field


def _stored_text(labels: dict, field: str) -> str:
    value = labels.get(FIELD_KEYS[field])
    if field == "intent":
        return "[" + ", ".join(map(str, value or [])) + "]"
    if field == "aligned":
        return _describe(value, field)
    return "(none)" if value is None else str(value)


def fix_preview(current: dict, field: str, given, suggested) -> list[str]:
    """One line per button saying exactly what it stores (shown with st.text: the values are user text)."""
    refusal = relabel_refusal(current, field, given, suggested)
    if refusal:
        relabel = f"off: {refusal}"
    elif field == "entity":
        relabel = f"entity span {_describe(given)} -> {_describe(suggested)}"
    else:
        after = _labels_with(current, field, given, suggested)
        relabel = (f"{PREVIEW_NAMES[field]} {_stored_text(current, field)} -> {_stored_text(after, field)}"
                   + kept_intents_note(current, field, given, suggested))
    kept = _describe(given) if field == "entity" else _stored_text(current, field)
    return [f"Relabel to the suggestion: {relabel}",
            f"Confirm the given label: {PREVIEW_NAMES[field]} {kept} kept, stored as the adjudicated gold label",
            "Send to review: flags the turn for the adjudication queue; labels unchanged"]


def choice_options(schema: dict, field: str) -> list:
    """What a free relabel of ``field`` can write: any of the schema's labels (an entity span can also be
    removed, "O"), a response fit aligned or misaligned."""
    if field == "aligned":
        return [True, False]
    if field == "entity":
        return [*schema["entities"], OUTSIDE]
    return list(schema["intents" if field == "intent" else "sentiments"])


def choice_text(field: str):
    """How the options read in the select box (option text, never a widget label)."""
    def text(option) -> str:
        if field == "entity" and option == OUTSIDE:
            return "no entity here (remove the span)"
        return _describe(option, field)
    return text


def chosen_value(field: str, given, choice):
    """The value a chosen label stands for: on an entity row, the row's span with the chosen type."""
    if choice is None or field != "entity":
        return choice
    return {"start": int(given["start"]), "end": int(given["end"]), "label": choice}


def replaced_intent(field: str, given, suggested):
    """What a chosen label replaces: the row's given value, except on an out-of-fold audit row of a
    multi-label project, whose given and suggested values are the turn's whole intent sets. There it is the
    one given intent the model does not suggest (or the only given intent), so the turn's other intents
    stay, as on a run's row; None when that is not one intent (the audit disputes several, or none)."""
    if field != "intent" or not isinstance(given, (list, tuple)):
        return given
    disputed = [g for g in given if g not in list(suggested or [])]
    if len(given) == 1:
        return given[0]
    return disputed[0] if len(disputed) == 1 else None


def kept_intents_note(current: dict, field: str, replaced, value) -> str:
    """On a turn with several intents: which one the relabel replaces and which stay, so the line under a
    button says the intents the turn has after the fix (a multi-label suggestion replaces the set)."""
    intents = list(current.get("intents") or [])
    if field != "intent" or len(intents) < 2 or replaced not in intents or isinstance(value, (list, tuple)):
        return ""
    return f" (replaces {replaced}; keeps {', '.join(i for i in intents if i != replaced)})"


def chosen_refusal(current: dict, field: str, given, value) -> str | None:
    """Why the chosen label cannot be written (None: it can): nothing chosen, no single intent to replace
    (``replaced_intent``), the given label itself (that is Confirm), or what ``relabel_refusal`` turns away."""
    if given is None and field == "intent":
        return "the row disputes several of the turn's intents; relabel to the suggestion or send to review"
    if value is None:
        return "choose a label first"
    same = value.get("label") == given.get("label") if field == "entity" else value == given
    if same:
        return "that is the given label (Confirm keeps it)"
    return relabel_refusal(current, field, given, value)


def apply_choice(db, user, project: str, *, turn_id: str, field: str, given, choice_key: str) -> None:
    """Relabel ``given`` (``replaced_intent``'s) to the label chosen in the select box, read on click
    (checked again: labels may have changed)."""
    value = chosen_value(field, given, st.session_state.get(choice_key))
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id) or {}
    refusal = chosen_refusal(current, field, given, value)
    if refusal:
        flash("error", f"{turn_id}: not relabelled: {refusal}.")
        return
    apply_fix(db, user, project, turn_id=turn_id, field=field, given=given, value=value, action="relabel")


def choice_widget_key(key: str, *, turn_id: str, field: str, given) -> str:
    """The select box's key, one per row (turn, field, given label or span). The browser keeps a widget's
    value for as long as its key stays the same and sends it back on every rerun, whatever the server
    deleted: with one key for all rows, a label chosen on one row came back live on the next. A new row
    is a new widget, empty. Hashed so turn ids and labels (user text) stay out of keys and CSS classes."""
    row = "\x1f".join((str(turn_id), field, _describe(given, field)))
    return f"{key}_choice_{hashlib.sha256(row.encode('utf-8')).hexdigest()[:16]}"


def choice_row(db, user, project: str, current: dict, *, turn_id: str, field: str, given, suggested,
               key: str) -> None:
    """A select box of every label the field can take and a button writing the chosen one in place: the
    way to a label the model does not suggest (or when it suggests none), without a round through review.
    The box's key is the row's (``choice_widget_key``), so a choice never lands on a turn it was not made for.
    On a multi-intent turn the choice replaces one intent (``replaced_intent``) and the line says which."""
    choice_key = choice_widget_key(key, turn_id=turn_id, field=field, given=given)
    replaced = replaced_intent(field, given, suggested)
    options = choice_options(labels.get_schema(db, project), field)
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    choice = left.selectbox("Relabel to a label you choose", options, index=None, key=choice_key,
                            format_func=choice_text(field), placeholder="Choose a label")
    value = chosen_value(field, replaced, choice)
    refusal = chosen_refusal(current, field, replaced, value)
    note = kept_intents_note(current, field, replaced, value)
    if refusal:         # before a choice, the note says what a choice will replace
        st.text(f"Relabel to the chosen label: off: {refusal}{note if value is None else ''}")
    elif field == "entity":
        st.text(f"Relabel to the chosen label: entity span {_describe(given)} -> {_describe(value)}")
    else:
        after = _stored_text(_labels_with(current, field, replaced, value), field)
        st.text(f"Relabel to the chosen label: {PREVIEW_NAMES[field]} {_stored_text(current, field)} -> {after}{note}")
    right.button("Relabel to the chosen label", key=f"{key}_relabel_chosen", disabled=refusal is not None,
                 on_click=apply_choice, args=(db, user, project),
                 kwargs=dict(turn_id=turn_id, field=field, given=replaced, choice_key=choice_key))


def _overlapping(entities: list[dict], span: dict) -> list[str]:
    return sorted({s["label"] for s in entities if s["start"] < int(span["end"]) and int(span["start"]) < s["end"]})


def fix_done(current: dict, field: str, given) -> str:
    """What a fix since the list was made did to the row's label: "confirmed" when the turn still has the
    given label, else "relabelled to" what it has now (an entity row: the types over its span)."""
    if field == "entity":
        now = _overlapping(current.get("entities") or [], given)
        kept = now == [] if given.get("label") == OUTSIDE else given.get("label") in now
        return "confirmed" if kept else f"relabelled to {', '.join(now) or 'no entity'}"
    if field == "intent":
        intents = list(current.get("intents") or [])
        kept = sorted(given) == sorted(intents) if isinstance(given, (list, tuple)) else given in intents
        return "confirmed" if kept else f"relabelled to [{', '.join(intents)}]"
    value = current.get(FIELD_KEYS[field])
    return "confirmed" if value == given else f"relabelled to {_describe(value, field)}"


def fixed_note(db, project: str, *, turn_id: str, field: str, given, since: str) -> None:
    """On a row fixed since the list was made (shown by the 'fixed' checkbox): say so above the buttons, so
    the analyst does not take an already decided turn for an open one."""
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id) or {}
    notice("info", f"Already fixed ({fix_done(current, field, given)}) since {since}; the buttons below "
                   "would change the turn again.")


def fix_buttons(db, user, project: str, *, turn_id: str, field: str, given, suggested, key: str) -> None:
    """Relabel to the suggestion / confirm the given label / send to review: one click each, under a line
    per button saying what it will store (button labels stay fixed strings: values are user text); then
    relabel to any label of the schema (``choice_row``). All neutral buttons: see the module docstring."""
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id) or {}
    for line in fix_preview(current, field, given, suggested):
        st.text(line)
    common = dict(turn_id=turn_id, field=field, given=given, value=suggested)
    left, middle, right = st.columns(3)
    left.button("Relabel to the suggestion", key=f"{key}_relabel",
                disabled=relabel_refusal(current, field, given, suggested) is not None,
                on_click=apply_fix, args=(db, user, project), kwargs={**common, "action": "relabel"})
    middle.button("Confirm the given label", key=f"{key}_confirm",
                  on_click=apply_fix, args=(db, user, project), kwargs={**common, "action": "confirm"})
    right.button("Send to review", key=f"{key}_review",
                 on_click=apply_fix, args=(db, user, project), kwargs={**common, "action": "review"})
    choice_row(db, user, project, current, turn_id=turn_id, field=field, given=given, suggested=suggested, key=key)
