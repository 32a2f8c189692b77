"""Browse: search and filter every turn of the project, read one in full, and fix its label in place.

Why: the analyst pages each show a model's view (confusions, likely errors, worst-aligned responses);
none let an analyst look up "the turns that mention a refund", "what bob labelled" or "the disputed
ones". The query (``store.browse.browse_turns``) filters and pages in DuckDB, 50 turns a page, so the
page stays fast at 100k turns. The fix is the one Label errors and Misalignment offer
(``components.fixes.fix_buttons``): an adjudication that becomes the turn's gold label. Ticking several
rows instead offers one action for all of them (``components.bulk_actions``), written the same way.

Dialog text and label names are user text: they reach the page only through st.dataframe, st.text,
select-box options and the escaped chat bubbles of ``components.turn_view``; widget labels are fixed.
"""
from __future__ import annotations

import hashlib
import math

import pandas as pd
import streamlit as st

from store import analysis, browse
from workbench.components import analysis as ui
from workbench.components import bulk_actions, fixes, turn_view
from workbench.components.recent_labels import snippet

TEXT_CHARS = 120        # the table's text column: the start of the turn, cut at a whole character
STATUS_WORDS = {"any": "any", "unlabelled": "unlabelled", "labelled": "labelled",
                "disputed": "disputed (annotators disagree, not adjudicated yet)"}
TABLE_COLUMNS = ["turn_id", "text", "intents", "sentiment", "annotators", "labelled_at"]
TABLE_CONFIG = {
    "turn_id": st.column_config.TextColumn("turn_id", width="small"),
    "text": st.column_config.TextColumn("text", width="large"),
    "intents": st.column_config.TextColumn("intents", width="medium"),
    "sentiment": st.column_config.TextColumn("sentiment", width="small"),
    "annotators": st.column_config.TextColumn("annotators", width="small"),
    "labelled_at": st.column_config.DatetimeColumn("labelled_at", format="YYYY-MM-DD HH:mm", width="small"),
}
FIX_FIELDS = ("intent", "sentiment")
SPAN_COLUMNS = ["label", "start", "end", "text"]
SPAN_CONFIG = {"label": st.column_config.TextColumn("label"), "start": st.column_config.NumberColumn("start"),
               "end": st.column_config.NumberColumn("end"), "text": st.column_config.TextColumn("text")}


def hashed_key(prefix: str, *parts) -> str:
    """A widget key naming user text (a filter choice, a turn id) by its hash: the text stays out of keys
    and CSS classes, and a new value is a new widget."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:16]
    return f"{prefix}_{digest}"


def filters(db, project: str) -> dict:
    """The search box and filters, as ``browse.browse_turns``'s keyword arguments."""
    options = analysis.filter_options(db, project)
    search = st.text_input("Search the turn text (case-insensitive)", key="browse_search")
    in_response = st.checkbox("Search the responses too", key="browse_in_response")
    a, b, c = st.columns(3)
    intents = a.multiselect("Intents (the current label has any of them)", options["intents"], key="browse_intents")
    status = b.selectbox("Status", browse.STATUSES, format_func=STATUS_WORDS.get, key="browse_status")
    annotator = c.selectbox("Annotator", [None, *options["annotators"]], key="browse_annotator",
                            format_func=lambda v: "all" if v is None else v)
    return {"search": (search or "").strip(), "in_response": in_response, "intents": list(intents),
            "status": status, "annotator": annotator}


def matching_page(db, project: str, chosen: dict) -> tuple[browse.BrowsePage, int, int]:
    """The page of matching turns the page number asks for, the number and the page count. New filters
    start again at page 1, and a number past the last page (fewer matches now) shows the last page."""
    signature = hashed_key("filters", *sorted(chosen.items()))
    if st.session_state.get("browse_filters") != signature:
        st.session_state["browse_filters"], st.session_state["browse_page"] = signature, 1

    def fetch(number: int) -> browse.BrowsePage:
        return browse.browse_turns(db, project, page=number, page_size=browse.PAGE_SIZE, **chosen)

    page = int(st.session_state.get("browse_page") or 1)
    result = fetch(page)
    pages = max(1, math.ceil(result.total / browse.PAGE_SIZE))
    if page > pages:
        page = pages
        result = fetch(page)
    st.session_state["browse_page"] = page
    return result, page, pages


def table_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The page for display: the text cut on one line, label lists as comma-separated words; the whole
    text and the response stay in the frame for the detail below."""
    return rows.assign(whole_text=rows["text"], text=rows["text"].map(lambda t: snippet(t, TEXT_CHARS)),
                       intents=rows["intents"].map(", ".join), annotators=rows["annotators"].map(", ".join))


def ticked_rows(frame: pd.DataFrame, *, key: str) -> pd.DataFrame:
    """The results table, several rows tickable, and the rows ticked (by turn id). A tick keeps meaning the
    turn ticked: Streamlit keeps row numbers when the table changes under them (a fix can take a turn out
    of a filter), so the ids read at the tick are kept until the tick changes, and a ticked turn that has
    left the table is dropped and said so, never replaced by the turn that moved into its row."""
    event = st.dataframe(frame[TABLE_COLUMNS], key=key, on_select="rerun", selection_mode="multi-row",
                         hide_index=True, width="stretch", height=min(400, 38 + 35 * len(frame)), placeholder="",
                         column_config=TABLE_CONFIG)
    rows = sorted(event.selection.rows) if event is not None else []
    remembered = st.session_state.get(f"{key}_ticked")
    if remembered is None or remembered[0] != rows:
        remembered = (rows, [frame.iloc[r]["turn_id"] for r in rows if r < len(frame)])
        st.session_state[f"{key}_ticked"] = remembered
    ticked = frame[frame["turn_id"].isin(remembered[1])]
    if len(ticked) < len(remembered[1]):
        st.text(f"{len(remembered[1]) - len(ticked)} ticked turn(s) have left the table (their labels no longer "
                "match the filters); untick and tick again to act on the rows shown there now.")
    return ticked


def picked_turn(frame: pd.DataFrame, ticked: pd.DataFrame) -> dict:
    """The one turn shown in full: the ticked one, or the first row when nothing is ticked."""
    if ticked.empty:
        st.text("Showing the first row (nothing is ticked): tick a row to read it, or several for a bulk action.")
        return frame.iloc[0].to_dict()
    st.text(f"Showing the ticked row: {ticked.iloc[0]['turn_id']}")
    return ticked.iloc[0].to_dict()


def label_words(value, missing: str) -> str:
    """A label field as a word: ``missing`` for an unset one (None and NaN alike)."""
    return value if isinstance(value, str) and value else missing


def span_rows(text: str, spans) -> pd.DataFrame:
    """The current label's spans, one row each: label, [start, end) in code points and the exact text they
    cover (``text[start:end]``: Python slices code points, as the offsets count them)."""
    rows = [{"label": s["label"], "start": int(s["start"]), "end": int(s["end"]),
             "text": text[int(s["start"]):int(s["end"])]} for s in spans]
    return pd.DataFrame(rows, columns=SPAN_COLUMNS)


def show_current_label(db, project: str, row: dict) -> None:
    """The turn's whole current label: intents, sentiment, response fit, the corrected response when one is
    stored, and the entity spans. Why: a fix keeps the fields it does not change, so the analyst must see
    them all before relabelling one (they were kept but invisible)."""
    st.text(f"Intent(s): {label_words(row['intents'], 'none')}   "
            f"Sentiment: {label_words(row.get('sentiment'), 'none')}   "
            f"Label source: {label_words(row.get('source'), 'not labelled')}")
    aligned = row.get("aligned")
    st.text(f"Response fit: {fixes.FIT_WORDS[None if aligned is None or pd.isna(aligned) else bool(aligned)]}")
    labelled = label_words(row.get("source"), "")
    correction = analysis.current_corrections(db, [row["turn_id"]]).get(row["turn_id"]) if labelled else None
    if correction:
        st.text("Corrected response:")
        st.text(correction)
    spans = row.get("entities")
    spans = list(spans) if isinstance(spans, list) else []
    st.text(f"Entity spans: {len(spans) or 'none'} (offsets are code points, end exclusive)")
    if spans:
        st.dataframe(span_rows(row["whole_text"] or "", spans), key=hashed_key("browse_spans", row["turn_id"]),
                     hide_index=True, width="stretch", column_config=SPAN_CONFIG)


def show_turn(db, project: str, row: dict) -> None:
    """The picked turn in full: the conversation before it, the turn, its response and its labels."""
    st.subheader("The turn in full")
    turn_view.render_context(analysis.turn_context(db, row["turn_id"]))
    st.text(f"Turn {row['turn_id']}")
    st.text(row["whole_text"] or "")
    turn_view.render_response(row.get("response"))
    show_current_label(db, project, row)


def replaced_intent(turn_id: str, intents: list[str]):
    """The intent a fix replaces: the turn's only one, the one picked on a multi-intent turn, or "" (none
    to replace: the chosen intent is added) on a labelled turn without one."""
    if len(intents) > 1:
        return st.selectbox("Intent to replace", intents, key=hashed_key("browse_replace", turn_id))
    return intents[0] if intents else ""


def fix_panel(db, user, project: str, turn_id: str) -> None:
    """Confirm, send to review or relabel the turn in place, as Label errors and Misalignment do; the
    turn's labels are read again here (a fix on the last rerun changed them)."""
    st.subheader("Fix the label")
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id)
    if not current:
        st.text("Not labelled yet: there is no label to fix (label it on the Label page).")
        return
    field = st.selectbox("Field to fix", FIX_FIELDS, key="browse_fix_field")
    given = replaced_intent(turn_id, list(current["intents"])) if field == "intent" else current.get("sentiment")
    fixes.fix_buttons(db, user, project, turn_id=turn_id, field=field, given=given, suggested=None,
                      key="browse_fix")


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Browse turns")
    ui.show_flash()
    chosen = filters(db, project)
    result, page, pages = matching_page(db, project, chosen)
    st.text(f"{result.total} turn(s) match")
    if result.total == 0:
        return
    st.number_input("Page", min_value=1, max_value=pages, step=1, key="browse_page")
    st.text(f"Page {page} of {pages} ({browse.PAGE_SIZE} turns a page, ordered by turn id)")
    frame = table_rows(result.rows)
    ticked = ticked_rows(frame, key=hashed_key("browse_rows", page, st.session_state["browse_filters"]))
    if len(ticked) > 1:
        bulk_actions.bulk_panel(db, user, project, ticked["turn_id"].tolist())
        return
    row = picked_turn(frame, ticked)
    show_turn(db, project, row)
    fix_panel(db, user, project, row["turn_id"])
