"""Misalignment explorer: how well responses fit their turns' intents -- the score distribution, the
worst-aligned responses (filter by intent, annotator, labelling date, model version), and a 2-D map
of the turns (PCA of embeddings; colour = intent, size = misalignment) where selected points are listed."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from store import analysis, annotations, evidence
from workbench.components import analysis as ui
from workbench.components import fixes


def filters(db, project: str) -> dict:
    options = analysis.filter_options(db, project)
    a, b, c = st.columns(3)
    intent = a.selectbox("Intent", [None, *options["intents"]], format_func=lambda v: "all" if v is None else v,
                         key="mis_intent")
    annotator = b.selectbox("Annotator", [None, *options["annotators"]], key="mis_annotator",
                            format_func=lambda v: "all" if v is None else v)
    dates = c.date_input("Labelled between", value=(), key="mis_dates")
    since, until = (dates[0], dates[1] + dt.timedelta(days=1)) if len(dates) == 2 else (None, None)
    return {"intent": intent, "annotator": annotator, "since": since, "until": until}


def turn_map(db, project: str, run_id: str) -> None:
    st.subheader("Map of the turns")
    points = evidence.embedding_map(db, project, run_id=run_id)
    if points is None:
        st.info("This run published no embeddings, so there is no map yet (it appears after the worker's next run).")
        return
    event = st.plotly_chart(ui.map_figure(points), on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key="mis_map", width="stretch")
    chosen = {p["customdata"][0] for p in event.selection.points if p.get("customdata")} if event else set()
    if chosen:
        st.text(f"{len(chosen)} selected turn(s)")
        st.dataframe(points[points["turn_id"].isin(chosen)][["turn_id", "text", "intent", "misalignment_prob"]],
                     hide_index=True, width="stretch")


JUDGED = {"aligned": True, "misaligned": False}


def suggested_fit(given: bool | None) -> bool | None:
    """A low alignment score suggests "misaligned" for a turn not judged or judged aligned; a turn already
    labelled misaligned has nothing to relabel (None), leaving confirm or send to review."""
    return None if given is False else False


# Decision-relevant columns first: at 1440 px a table led by text and response pushed the score, the fit
# label and the intent off-screen to the right.
# "corrected" (a narrow check column) follows the two text columns, whose widths keep it on screen.
WORST_COLUMNS = ["turn_id", "alignment_score", "fit_label", "intent", "text", "response", "corrected", "annotators"]
WORST_CONFIG = {
    "turn_id": st.column_config.TextColumn("turn_id", width="small"),
    "alignment_score": st.column_config.NumberColumn("alignment_score", format="%.3f", width="small"),
    "fit_label": st.column_config.TextColumn("fit_label", width="small"),
    "corrected": st.column_config.CheckboxColumn("corrected", width="small",
                                                 help="A corrected response is already stored for the turn"),
    "intent": st.column_config.TextColumn("intent", width="small"),
    "text": st.column_config.TextColumn("text", width="medium"),
    "response": st.column_config.TextColumn("response", width="medium"),
    "annotators": st.column_config.TextColumn("annotators", width="small"),
}


def score_line(row: dict) -> str:
    """The row's scores in words (numbers only; "-" when the run gave none)."""
    def number(value) -> str:
        return "-" if value is None or value != value else f"{float(value):.3f}"
    return (f"Misalignment probability: {number(row.get('misalignment_prob'))}   "
            f"Alignment score: {number(row.get('alignment_score'))} (1 = fits)   Response fit: {row['fit_label']}")


def show_detail(db, project: str, row: dict) -> dict:
    """Score, intents and conversation of the ticked turn; returns its current labels ({} if unlabelled)."""
    st.text(score_line(row))
    current = analysis.current_labels(db, project, [row["turn_id"]]).get(row["turn_id"]) or {}
    if current.get("intents"):
        st.text(f"Intent(s): {', '.join(current['intents'])}")
    else:
        st.text(f"Intent(s): not labelled (the model predicts {row.get('intent') or 'none'})")
    ui.show_context(db, row["turn_id"])
    ui.show_turn(row)
    return current


def store_correction(db, user, project: str, turn_id: str, key: str) -> None:
    """Misaligned + the corrected response as the analyst's adjudication (the DPO pair's chosen side);
    intents, spans and sentiment are stored as the turn has them now, read again on click. On a turn
    nobody has labelled it is a fit-only judgement (``store.effective``): the turn stays in the queue."""
    corrected = (st.session_state.get(key) or "").strip()
    current = analysis.current_labels(db, project, [turn_id]).get(turn_id) or {}
    if not corrected:
        ui.flash("error", f"{turn_id}: not stored: write the corrected response first.")
        return
    annotation_id = fixes.make_annotation_id(db, project, "misaligned-corrected", turn_id, corrected, user.username)
    annotations.adjudicate(db, annotation_id=annotation_id, turn_id=turn_id, project=project, reviewer=user.username,
                           intents=current.get("intents") or [], entities=current.get("entities") or [],
                           sentiment=current.get("sentiment"), aligned=False, corrected_response=corrected,
                           note="analyst: misaligned, corrected response")
    ui.flash("success", f"{turn_id}: stored as misaligned with your corrected response (the gold label; "
                        "its other labels are unchanged, earlier labels stay in the history).")


def correction_form(db, user, project: str, turn_id: str) -> None:
    """Mark the response misaligned and store a corrected one in place (no detour through the review queue)."""
    key = f"mis_corrected_{turn_id}"
    if key not in st.session_state:
        st.session_state[key] = (annotations.turn_state(db, turn_id) or {}).get("corrected_response") or ""
    with st.form("mis_correct_form", border=True):
        st.text_area("Corrected response (stored with 'misaligned' as the gold label)", key=key, height=90)
        st.form_submit_button("Store: misaligned + corrected response", type="primary",
                              on_click=store_correction, args=(db, user, project, turn_id, key))


def score_histogram(db, project: str, run_id: str, chosen: dict) -> bool:
    """The alignment-score histogram of the turns the filters keep (the same turns as the table below);
    False when the run scored no response at all (nothing else on the page then)."""
    hist = analysis.alignment_histogram(db, project, run_id=run_id, **chosen)
    filtered = any(value is not None for value in chosen.values())
    if hist.empty and not filtered:
        st.info("This run scored no responses (no turn has a response, or the run had no alignment model).")
        return False
    st.text(f"Alignment scores of {int(hist['count'].sum())} response(s)"
            + (" matching the filters above" if filtered else " (every scored response)"))
    if not hist.empty:
        st.plotly_chart(ui.bar_figure(hist, x="bin_start", y="count", title="Alignment scores (1 = fits)",
                                      y_range=(0, float(hist["count"].max()) * 1.05)), width="stretch")
    return True


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Misalignment explorer")
    ui.show_flash()
    run_id = ui.run_picker(db, project, key="mis_run")
    if run_id is None:
        return
    chosen = filters(db, project)
    if not score_histogram(db, project, run_id, chosen):
        return
    worst = analysis.worst_aligned(db, project, run_id=run_id, limit=100, **chosen)
    st.subheader("Worst-aligned responses")
    row = ui.pick_turn(worst, key="mis_worst", columns=WORST_COLUMNS, column_config=WORST_CONFIG)
    if row is not None:
        show_detail(db, project, row)
        correction_form(db, user, project, row["turn_id"])
        given = JUDGED.get(row["fit_label"])
        fixes.fix_buttons(db, user, project, turn_id=row["turn_id"], field="aligned", given=given,
                       suggested=suggested_fit(given), key="mis_fix")
        ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)
    turn_map(db, project, run_id)
