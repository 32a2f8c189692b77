"""Model health: confusion matrix (click a cell to list and fix its turns), per-intent scores, entity and
sentiment quality, learning curve, calibration and the run history -- for one model version."""
from __future__ import annotations

import streamlit as st

from store import analysis
from workbench.components import analysis as ui


def render_cell(db, user, project: str, run_id: str, cell: tuple[str, str]) -> None:
    turns = analysis.confusion_cell_turns(db, project, gold=cell[0], predicted=cell[1], run_id=run_id)
    st.text(f"{len(turns)} turn(s) labelled {cell[0]!r}, predicted {cell[1]!r}")
    row = ui.pick_turn(turns, key="health_cell", columns=["turn_id", "text", "given", "predicted", "confidence"])
    if row is None:
        return
    ui.show_turn(row)
    ui.fix_buttons(db, user, project, turn_id=row["turn_id"], field="intent", given=row["given"],
                   suggested=row["predicted"] if row["predicted"] != row["given"] else None, key="health_fix")
    ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)


def render_quality(db, project: str, run_id: str, snapshot) -> None:
    left, right = st.columns(2)
    entities = analysis.entity_scores(db, project, run_id=run_id)
    if not entities.empty:
        left.plotly_chart(ui.bar_figure(entities, x="label", y="f1", title="Entity F1 per type"), width="stretch")
    sentiment = analysis.confusion_from(snapshot, "sentiment")
    if sentiment["labels"]:
        right.plotly_chart(ui.confusion_figure(sentiment, title="Sentiment confusion"), width="stretch")
    runs = analysis.runs(db, project)
    left.plotly_chart(ui.learning_curve_figure(runs), width="stretch")
    right.plotly_chart(ui.reliability_figure(analysis.calibration_from(snapshot)), width="stretch")
    st.subheader("Run history")
    st.dataframe(runs.sort_values("created_at", ascending=False) if not runs.empty else runs, hide_index=True,
                 width="stretch")


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Model health")
    ui.show_flash()
    run_id = ui.run_picker(db, project, key="health_run")
    if run_id is None:
        return
    snapshot = analysis.model_snapshot(db, project, run_id=run_id)
    data = analysis.confusion_from(snapshot, "intent")
    ui.scope_note(data["scope"])
    scores = analysis.per_class_scores(data)
    accuracy = sum(data["matrix"][i][i] for i in range(len(data["labels"]))) / data["n"] if data["n"] else None
    a, b, c = st.columns(3)
    a.metric("Turns compared", data["n"])
    b.metric("Intent accuracy", f"{accuracy:.3f}" if accuracy is not None else "-")
    c.metric("Intent macro-F1", f"{scores['f1'].mean():.3f}" if not scores.empty else "-")
    if data["labels"]:
        cell = ui.confusion_with_cell_picker(data, key="health_cm", title="Intent confusion (click a cell)")
        if cell is not None:
            render_cell(db, user, project, run_id, cell)
        st.subheader("Per-intent precision / recall / F1")
        st.dataframe(scores, hide_index=True, width="stretch")
    render_quality(db, project, run_id, snapshot)
