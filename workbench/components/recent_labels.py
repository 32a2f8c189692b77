"""The annotator's recent labels on the label page: their last live submits, each with an Edit button.

Undo (U) reaches only the last submit, so a mistake noticed two turns later could not be fixed by
the annotator. As in Prodigy's history panel, this lists the last ``RECENT_LIMIT`` submits in the
project, newest first, and Edit reopens one in the form with what was submitted (the page's
``on_edit``). The list is read only while the expander is open: the page reruns on every key.
Turn text and intent names are data, so they are shown with st.text and the button label is fixed.

A turn a reviewer has adjudicated since is listed as "settled by a reviewer" with no Edit. Edit used to
reopen it with the annotator's old labels and no word about the review, and the submit was then refused
("from other annotators"): the work was thrown away with a wrong reason. The reviewer's label is the
turn's gold label and no annotator submit can replace it, so a careful tool does not offer an edit it
will refuse; opening the turn read-only would only add a click that ends in the same "no".
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import streamlit as st

from store.message_text import whole_characters
from store.queue import utcnow

RECENT_KEY = "label_recent_open"     # the expander's open state, kept from run to run
LIST_KEY = "label_recent_list"
OPEN_ROW_KEY = "label_recent_current"   # the row of the turn open in the form
OPEN_MARK = "▶ "
# Each entry in two lines that do not wrap (cut with "…" at the sidebar's edge) beside a small Edit;
# the row of the open turn is highlighted. Wrapped, an entry took three to five lines plus a button.
ROWS = ":is(.st-key-label_recent_current,[class*='st-key-label_recent_row_'])"
LIST_CSS = ("<style>.st-key-label_recent_list{gap:.3rem}"
            f".st-key-label_recent_list {ROWS}{{flex-wrap:nowrap}}"
            f".st-key-label_recent_list {ROWS}>[data-testid='stElementContainer']:first-child{{min-width:0;flex:1 1 0}}"
            ".st-key-label_recent_list [data-testid='stText'],.st-key-label_recent_list [data-testid='stText'] *"
            "{white-space:pre;overflow:hidden;text-overflow:ellipsis;font-size:.8rem;line-height:1.35}"
            ".st-key-label_recent_list button{min-height:0;padding:0 .25rem}"
            ".st-key-label_recent_current{background:rgba(28,131,225,.1);border-left:3px solid rgb(28,131,225);"
            "border-radius:.25rem;padding-left:.3rem}</style>")
RECENT_LIMIT = 10
SNIPPET_CHARS = 48
EMPTY_NOTE = "Your submits in this project will be listed here, newest first."
SETTLED_NOTE = "settled by a reviewer since: no longer editable"


def edit_button_key(annotation_id: str) -> str:
    """One key per listed submit. No "-" before the id: ``label_form.close_form`` forgets keys holding
    "-<form id>", and a submit's annotation id is the id of the form that stored it."""
    return f"label-recent-edit:{annotation_id}"


def age_text(created_at: datetime | None, now: datetime) -> str:
    """When a submit was stored, as the annotator scans for it: "just now", "12 min ago", "3 h ago",
    or the UTC date and time for older ones (the store keeps UTC)."""
    if created_at is None:
        return "?"
    seconds = (now - created_at).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return created_at.strftime("%Y-%m-%d %H:%M UTC")


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The start of the turn text on one line (newlines and runs of spaces folded), cut at ``limit`` at a
    whole character, as import messages cut (an emoji sequence is never split into a broken glyph)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else whole_characters(flat, limit - 1).rstrip() + "…"


def row_text(row: dict, now: datetime, *, is_open: bool = False) -> str:
    """Two lines: when and the intents (after a mark on the turn open in the form), then the start
    of the turn text; a third, ``SETTLED_NOTE``, on a turn a reviewer has settled (it has no Edit)."""
    intents = ", ".join(row.get("intents") or []) or "no intent"
    mark = OPEN_MARK if is_open else ""
    settled = f"\n{SETTLED_NOTE}" if row.get("settled") else ""
    return f"{mark}{age_text(row.get('created_at'), now)} · {intents}\n{snippet(row.get('text'))}{settled}"


def render_recent_labels(load_rows: Callable[[], list[dict]], *, open_turn_id: str | None,
                         on_edit: Callable, args: tuple) -> None:
    """The expander; ``load_rows`` runs only while it is open. Edit calls ``on_edit(*args, annotation_id)``;
    the row of the turn open in the form is marked and highlighted, and its button is disabled."""
    box = st.expander("My recent labels", key=RECENT_KEY, on_change="rerun")
    with box:
        if not box.open:
            return
        rows = load_rows()
        if not rows:
            st.text(EMPTY_NOTE)
            return
        now = utcnow()
        st.html(LIST_CSS)
        with st.container(key=LIST_KEY):
            for n, row in enumerate(rows):
                render_row(row, now, is_open=row["turn_id"] == open_turn_id, on_edit=on_edit, args=args, n=n)


def render_row(row: dict, now: datetime, *, is_open: bool, on_edit: Callable, args: tuple, n: int) -> None:
    """One entry: its lines and a small Edit button (disabled, reading "Editing", on the open turn;
    none on a turn a reviewer has settled)."""
    key = OPEN_ROW_KEY if is_open else f"label_recent_row_{n}"
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=key):
        st.text(row_text(row, now, is_open=is_open), width="stretch")
        if row.get("settled"):
            return
        st.button("Editing" if is_open else "Edit", key=edit_button_key(row["annotation_id"]), on_click=on_edit,
                  args=(*args, row["annotation_id"]), disabled=is_open, type="tertiary",
                  help="Reopen this turn with what you submitted; submitting again replaces it.")
