"""Bulk actions on the Browse page: one action applied to every ticked turn of the page at once.

Why: relabelling forty "refund" turns one at a time is forty rounds of tick, choose, click; Argilla and
Label Studio let an analyst act on a selection. The actions are the single-row fix's, written the same
way: an ``adjudicate`` annotation by the analyst per turn (its gold label; earlier labels stay in the
history), all of them in one writer call (``store.annotations.adjudicate_many``), so a bulk action is
all-or-nothing. A preview line says what the button will do before anything is written, the outcome
comes back as a result line, and unlabelled turns are skipped and counted (there is no label to change).

Label names are user text: they are select-box options or go through ``st.text`` and escaped notices;
widget labels are fixed strings.
"""
from __future__ import annotations

import streamlit as st

from store import annotations, browse, labels
from workbench.components.analysis import flash
from workbench.components.fixes import make_annotation_id

ACTION_WORDS = {"set_intent": "Set intent to…", "confirm": "Confirm current labels"}
MODE_WORDS = {"replace": "replace all the turn's intents", "add": "add it to the turn's intents"}
SKIP_REASON = "not labelled yet: there is no label to change or confirm (label them on the Label page)"
KEY = "browse_bulk"


def is_multi_label(db, project: str) -> bool:
    """A project whose live labels carry several intents on a turn: there the set intent may join a turn's
    intents instead of replacing them (a single-intent project always replaces)."""
    return annotations.largest_intent_set(db, project) > 1


def chosen_action(db, project: str) -> tuple[str, str | None, str]:
    """The action, intent and mode the analyst picked (intent None until one is chosen)."""
    action = st.radio("Bulk action", browse.BULK_ACTIONS, format_func=ACTION_WORDS.get, key=f"{KEY}_action",
                      horizontal=True)
    if action != "set_intent":
        return action, None, "replace"
    intent = st.selectbox("Intent to set", labels.get_schema(db, project)["intents"], index=None,
                          key=f"{KEY}_intent", placeholder="Choose an intent")
    mode = "replace"
    if is_multi_label(db, project):
        mode = st.radio("The intent", browse.INTENT_MODES, format_func=MODE_WORDS.get, key=f"{KEY}_mode")
    return action, intent, mode


def skipped_words(plan: browse.BulkPlan) -> str:
    return f"; {len(plan.unlabelled)} skipped, {SKIP_REASON}" if plan.unlabelled else ""


def preview_line(plan: browse.BulkPlan, action: str, intent: str | None, mode: str) -> str:
    """What the apply button will store, before it is pressed (st.text: the intent is user text)."""
    if action == "confirm":
        return (f"Will confirm the current labels of {len(plan.changes)} turn(s) as the adjudicated gold label; "
                f"{len(plan.unchanged)} already are{skipped_words(plan)}")
    how = " (replacing their intents)" if mode == "replace" else " (added to their intents)"
    return (f"Will set intent {intent} on {len(plan.changes)} turn(s){how}; {len(plan.unchanged)} already have it"
            f"{skipped_words(plan)}")


def result_line(plan: browse.BulkPlan, action: str, intent: str | None) -> str:
    """What the apply stored, as the flash after the rerun (an escaped notice: the intent is user text)."""
    if action == "confirm":
        done, already = f"Confirmed the current labels of {len(plan.changes)} turn(s)", "already were gold"
    else:
        done, already = f"Set intent {intent} on {len(plan.changes)} turn(s)", "already had it"
    return (f"{done}; {len(plan.unchanged)} {already}, left as they are{skipped_words(plan)}. "
            "Stored as the adjudicated gold labels; earlier labels stay in the history.")


def apply_bulk(db, user, project: str, turn_ids: list[str]) -> None:
    """On click: plan again from the labels as they are now (they may have changed since the preview),
    then write every change in one transaction; a refusal leaves every turn as it was."""
    action = st.session_state.get(f"{KEY}_action")
    intent = st.session_state.get(f"{KEY}_intent") if action == "set_intent" else None
    multi = action == "set_intent" and is_multi_label(db, project)
    mode = (st.session_state.get(f"{KEY}_mode") or "replace") if multi else "replace"
    if action == "set_intent" and not intent:
        flash("error", "Nothing changed: choose an intent first.")
        return
    plan = browse.plan_bulk(db, project, turn_ids, action=action, intent=intent, mode=mode)
    note = f"analyst bulk {action}" + (f": intent {intent} ({mode})" if intent else "")
    resolutions = [dict(turn_id=turn_id, project=project, reviewer=user.username, note=note, **after,
                        annotation_id=make_annotation_id(db, project, "bulk", action, turn_id, intent, mode,
                                                         user.username))
                   for turn_id, after in plan.changes.items()]
    try:
        annotations.adjudicate_many(db, resolutions)
    except annotations.SubmitRefused as exc:
        flash("error", f"Nothing changed (no turn was written): {exc}")
        return
    flash("success", result_line(plan, action, intent))


def bulk_panel(db, user, project: str, turn_ids: list[str]) -> None:
    """The ticked turns, the action, its preview line and the apply button."""
    st.subheader("Bulk action")
    st.text(f"{len(turn_ids)} turns ticked: {', '.join(turn_ids)}")
    action, intent, mode = chosen_action(db, project)
    if action == "set_intent" and not intent:
        st.text("Choose an intent to see what the action will do.")
        st.button("Apply to the ticked turns", key=f"{KEY}_apply", disabled=True)
        return
    plan = browse.plan_bulk(db, project, turn_ids, action=action, intent=intent, mode=mode)
    st.text(preview_line(plan, action, intent, mode))
    st.button("Apply to the ticked turns", key=f"{KEY}_apply", disabled=not plan.changes,
              on_click=apply_bulk, args=(db, user, project, list(turn_ids)))
