"""Misalignment explorer: how well responses fit their turns' intents -- the score distribution, the
worst-aligned responses (filter by intent, annotator, labelling date, model version), and a 2-D map
of the turns (PCA of embeddings; colour = intent, size = misalignment) where selected points are listed."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from store import analysis, evidence
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


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Misalignment explorer")
    ui.show_flash()
    run_id = ui.run_picker(db, project, key="mis_run")
    if run_id is None:
        return
    chosen = filters(db, project)
    hist = analysis.alignment_histogram(db, project, run_id=run_id)
    if hist.empty:
        st.info("This run scored no responses (no turn has a response, or the run had no alignment model).")
        return
    st.plotly_chart(ui.bar_figure(hist, x="bin_start", y="count", title="Alignment scores (1 = fits)",
                                  y_range=(0, float(hist["count"].max()) * 1.05)), width="stretch")
    worst = analysis.worst_aligned(db, project, run_id=run_id, limit=100, **chosen)
    st.subheader("Worst-aligned responses")
    row = ui.pick_turn(worst, key="mis_worst", columns=["turn_id", "text", "response", "intent", "alignment_score",
                                                         "fit_label", "annotators"])
    if row is not None:
        ui.show_turn(row)
        given = JUDGED.get(row["fit_label"])
        fixes.fix_buttons(db, user, project, turn_id=row["turn_id"], field="aligned", given=given,
                       suggested=suggested_fit(given), key="mis_fix")
        ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)
    turn_map(db, project, run_id)
