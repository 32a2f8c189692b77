"""The label page: one turn at a time from the annotator's leased queue, keyboard first.

This module draws the page; what its buttons and keys do (open a turn, submit, skip, flag, undo),
and the session keys they share, live in ``workbench.views.label_actions``. Every action is a button
callback, so it runs before the page is drawn and a double click or late keypress never acts on the
next turn (see there).
"""
from __future__ import annotations

import html
import time
import uuid

import streamlit as st

from store import annotations, labels, queue
from store import recent_labels as recent_labels_store
from workbench import auth, runtime
from workbench.components import label_form, progress, recent_labels, shortcuts, turn_view
from workbench.components.label_form import LabelForm
from workbench.components.notice import notice
from workbench.components.span_selector import span_selector
from workbench.views import label_actions
from workbench.views.label_actions import (
    FLASH_KEY, GUIDE_KEY, LEASE_TTL_S, PREFILL_KEY, SUBMIT_CLOCK_KEY, UNDO_KEY, claim_and_open, current_form,
    flag_button_key, flag_presses, on_accept, on_edit, on_flag, on_keys, on_revisit, on_skip, on_submit, on_undo,
    quick_intents_of, schema_of)

FORM_KEY = label_actions.FORM_KEY      # where the open form is kept; tests read it from the page

LABEL_ROLES = ("annotator", "analyst", "admin")
# Annotators cannot change the encoder: they are told only why nothing is pre-filled; the command is for admins.
UNREADABLE_NOTE = "The model cannot read this turn, so nothing is pre-filled."
UNREADABLE_ADMIN_NOTE = (UNREADABLE_NOTE + " Its encoder sees mostly [UNK] here; "
                         "concord serve --encoder multilingual reads it.")
LEASE_RENEW_EVERY_S = 60
PAGE_CSS = ("<style>[data-testid='stMainBlockContainer']{padding-top:4rem;padding-bottom:2rem}"
            # the guidelines' headings sized for the form's column (an h1 there took three lines)
            ".st-key-label_guide_open :is(h1,h2,h3){font-size:1.05rem;padding:.4rem 0 .2rem}</style>")


# -- reads ----------------------------------------------------------------------------------------
def guidelines_of(db, project: str) -> str:
    return runtime.cached(("project", db.path, project), 30.0,
                          lambda: (labels.get_project(db, project) or {}).get("guidelines") or "")


# -- the open form ------------------------------------------------------------------------------
def ensure_form(db, user: auth.User, project: str) -> LabelForm | None:
    return current_form(project) or claim_and_open(db, user, project)


# -- drawing ------------------------------------------------------------------------------------
def render_flash() -> None:
    """The outcome of the last action. Always one element, so the widgets below keep their place
    in the page tree between runs (a shifted widget is remounted and loses keyboard focus)."""
    slot = st.empty()
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if message:
        notice(kind, message, where=slot)       # messages may quote turn ids: escaped, never Markdown


def render_sidebar(db, user: auth.User, project: str, schema: dict) -> None:
    with st.sidebar:
        st.toggle("Pre-fill from model suggestions", key=PREFILL_KEY, value=True,
                  help="Applies from the next turn on.")
        with st.expander("Progress", expanded=True):
            progress.render_progress(progress.project_progress(db, project, user.username))
        form = current_form(project)
        recent_labels.render_recent_labels(
            lambda: recent_labels_store.recent_submits(db, project, user.username, limit=recent_labels.RECENT_LIMIT),
            open_turn_id=form.turn_id if form else None, on_edit=on_edit, args=(db, user, project))
        with st.expander("Keyboard shortcuts", expanded=True):
            shortcuts.render_shortcuts_help(schema["sentiments"], quick_intents_of(db, project, schema))
            st.text(label_form.PREFILL_RULE)


def intent_descriptions_html(intents: list[str], descriptions: dict) -> str:
    """One line per intent, "name: description", escaped (names and descriptions are admin text)."""
    rows = "".join(f"<div><b>{html.escape(i)}</b>: {html.escape(descriptions.get(f'intent:{i}', '') or '')}</div>"
                   for i in intents)
    return f"<div style='font-size:.85rem;line-height:1.5'>{rows}</div>"


def render_guide(db, project: str, schema: dict) -> None:
    """The guidelines and what each intent means, next to the form and opened with ? (a collapsed
    sidebar section under a long key list was out of reach, and the intents' descriptions were shown
    on the admin's Schema page only). Keyed, so it stays open from turn to turn."""
    with st.expander(shortcuts.button_label("Guidelines and intent descriptions", shortcuts.GUIDELINES),  # md-safe: constants
                     key=GUIDE_KEY, on_change="rerun"):
        guidelines = guidelines_of(db, project)
        # Admin-written Markdown (trusted); dialog text never goes through st.markdown.
        st.markdown(guidelines or "_No guidelines yet: an admin can add them on the Schema page._")  # md-safe: admin-written guidelines
        descriptions = schema.get("descriptions") or {}
        if schema["intents"]:      # escaped html, so a long description wraps instead of being cut off
            st.html(intent_descriptions_html(schema["intents"], descriptions))


def render_turn(db, user: auth.User, project: str, form: LabelForm, turn: dict, schema: dict) -> None:
    where = f"Conversation {turn['conversation_id']}"
    if turn.get("turn_index") is not None:
        where += f" · turn {turn['turn_index']}"
    where += ("  ·  🚩 flagged" if form.flagged else "") + ("  ·  restored" if form.restored else "")
    where += ("  ·  draft restored" if form.draft_restored else "")
    st.html(f"<div style='font-size:.85rem;opacity:.7'>{html.escape(where)}</div>")   # ids come from data
    turn_view.render_context(turn.get("context") or [])
    suggestion = turn.get("suggestion") or {}
    fit = label_form.judges_fit(form)        # no response: G / M / C do nothing (see shortcuts.command_keys)
    focus_targets = {shortcuts.SEARCH_INTENTS_KEY: f"st-key-{form.key('intents')}"}
    if fit:
        focus_targets[shortcuts.CORRECT_RESPONSE_KEY] = f"st-key-{form.key('corrected')}"
    span_selector(
        turn["text"], form_id=form.form_id, spans=form.spans, spans_rev=form.spans_rev,
        entity_types=schema["entities"], suggested_spans=label_form.suggested_spans(suggestion),
        sentiment_keys=shortcuts.sentiment_keys(schema["sentiments"]),
        alignment_keys=shortcuts.alignment_keys() if fit else {}, command_keys=shortcuts.command_keys(judges_fit=fit),
        focus_targets=focus_targets, pick_boxes=[f"st-key-{form.key('intents').rsplit('-', 1)[0]}-"],
        applied_seq=form.last_seq,
        on_actions=lambda: on_keys(db, user, project, form.form_id),
        on_spans=lambda: label_form.keep_draft(form), key=form.key("span"),
    )
    turn_view.render_response(turn.get("response"))


def render_form(db, user: auth.User, project: str, form: LabelForm, turn: dict, schema: dict) -> None:
    suggestion = turn.get("suggestion")
    if suggestion:
        st.html(label_form.suggestion_html(suggestion, turn.get("text") or ""))
    elif turn.get("unread_suggestion"):
        st.text(UNREADABLE_ADMIN_NOTE if user.can("admin") else UNREADABLE_NOTE)
    label_form.render_intents(form, schema, quick_intents_of(db, project, schema))
    label_form.render_sentiment(form, schema)
    label_form.render_alignment(form)
    render_actions(db, user, project, form, suggestion)
    render_guide(db, project, schema)


def render_actions(db, user, project: str, form: LabelForm, suggestion: dict | None) -> None:
    args = (db, user, project, form.form_id)
    label = shortcuts.button_label
    with st.container(horizontal=True):
        st.button(label("Submit & next", "Enter"), type="primary", key=form.key("submit"),  # md-safe: constants
                  on_click=on_submit, args=args)
        st.button(label("Skip", shortcuts.SKIP), key=form.key("skip"), on_click=on_skip, args=args)  # md-safe: constants
        st.button(label("Unflag" if form.flagged else "Flag", shortcuts.FLAG),  # md-safe: constants
                  key=flag_button_key(form), on_click=on_flag, args=(*args, flag_presses(form)))
        st.button(label("Accept suggestions", shortcuts.ACCEPT), key=form.key("accept"),  # md-safe: constants
                  on_click=on_accept, args=(project, form.form_id), disabled=not suggestion)
        render_undo_button(db, user, project)


def render_undo_button(db, user, project: str, *, with_shortcut: bool = False) -> None:
    """Undo: its key goes through the span selector's log, except when no turn (no selector) is shown;
    then the button carries the key itself and Streamlit prints it, so the label does not repeat it
    (it read "Undo last submit · U  U")."""
    undo_id = st.session_state.setdefault(UNDO_KEY, str(uuid.uuid4()))
    text = "Undo last submit" if with_shortcut else shortcuts.button_label("Undo last submit", shortcuts.UNDO)
    st.button(text, key=f"label-undo-{undo_id}", on_click=on_undo, args=(db, user, project, undo_id),  # md-safe: constants
              shortcut=shortcuts.UNDO if with_shortcut else None)


def render_revisit_button(db, user, project: str) -> None:
    """On the empty queue: skipped turns were gone for good; this brings them back to this annotator."""
    skipped = annotations.skipped_count(db, project, user.username)
    if skipped:
        st.text(f"You skipped {skipped} turn(s).")
        st.button("Revisit my skipped turns", key="label-revisit", on_click=on_revisit, args=(db, user, project))


@st.fragment(run_every=LEASE_RENEW_EVERY_S)
def keep_lease(db, user: auth.User, project: str, turn_id: str) -> None:
    """Renew the lease while this page is open; say so if it was lost (it expired and was taken)."""
    form = current_form(project)
    if form is None or form.turn_id != turn_id or time.time() - form.lease_at < LEASE_RENEW_EVERY_S * 0.9:
        return
    form.lease_at = time.time()
    if not queue.renew(db, turn_id, user.username, ttl_s=LEASE_TTL_S):
        st.warning("Your hold on this turn lapsed; it may have been given to someone else. "
                   "Submitting still works unless it was handed to another annotator.")


def choose_project(db, default: str) -> str:
    projects = runtime.cached(("projects", db.path), 30.0, lambda: labels.list_projects(db))
    if len(projects) > 1:
        index = projects.index(default) if default in projects else 0
        return st.sidebar.selectbox("Project", projects, index=index, key="label_project")
    return default


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    user = auth.require_role(db, LABEL_ROLES)
    project = choose_project(db, settings.project)
    schema = schema_of(db, project)
    st.html(PAGE_CSS)
    render_sidebar(db, user, project, schema)
    render_flash()
    form = ensure_form(db, user, project)
    if form is None:
        st.success("Your queue is empty: every turn available to you is labelled or skipped.")
        render_revisit_button(db, user, project)
        if annotations.has_submit_to_undo(db, project, user.username):
            render_undo_button(db, user, project, with_shortcut=True)
        render_guide(db, project, schema)
        return
    from store import turns

    turn = form.turn or turns.get_turn(db, form.turn_id)
    text_side, form_side = st.columns([3, 2], gap="large")
    with text_side:
        render_turn(db, user, project, form, turn, schema)
    with form_side:
        render_form(db, user, project, form, turn, schema)
    keep_lease(db, user, project, form.turn_id)
    started = st.session_state.pop(SUBMIT_CLOCK_KEY, None)
    if started is not None:
        runtime.record_timing("submit_to_next_turn_ms", (time.perf_counter() - started) * 1000)


if __name__ == "__main__":
    main()
