"""Model health: confusion matrix (click a cell to list and fix its turns), per-intent scores, entity and
sentiment quality, learning curve, calibration and the run history -- for one model version.

Two intent scores can differ, so they have two names and the page says why next to them: "agreement with
today's labels" compares today's labels of the run's scope with its stored predictions (top intent counted
correct when it is one of the turn's intents; in-sample when the run recorded no held-out slice), while
"held-out intent accuracy" was measured when the run trained, on turns it did not train on (the Pipeline
page's number; exact-set accuracy for multi-label). Both pages print scores as percentages.

Turns the run's encoder could not read (mostly [UNK] to the packaged English MiniLM, e.g. Chinese) are left
out of every view drawn from the run's predictions -- the intent and sentiment matrices, the agreement
and per-intent scores, the entity F1, the calibration chart and the cell lists -- by default, with a line
saying how many, and one checkbox counts them everywhere on the page, so the charts never disagree about
which turns they cover (the snapshot is filtered once, ``ModelSnapshot.without``). Why out, not in: the
matrix is where the analyst looks for confusions to fix, and a blind encoder's predictions pile up in a
few off-diagonal cells that look like label confusions but say nothing about the labels; the cell lists
already hid them, so a cell counting 2 listed 1. The encoder's blind spot is its own finding: the
Pipeline page reports the unreadable share, and the run's held-out scores (shown beside, in the learning
curve and the run history: measured at training, stored in its metrics, not recomputable) count them."""
from __future__ import annotations

import streamlit as st

from store import analysis
from workbench.components import analysis as ui
from workbench.components import fixes


def cell_suggestion(row: dict):
    """The intent a relabel would write for a cell row, or None: not on the diagonal, not for a turn the
    model gave no intent, and not when the model also predicts the given intent (it suggests an extra one)."""
    predicted = row["predicted"]
    if predicted == row["given"] or predicted == analysis.NO_INTENT or row.get("model_has_given"):
        return None
    return predicted


SHOW_UNREADABLE_KEY = "health_cell_unreadable"     # the page's checkbox (it began as the cell list's)


def unreadable_left_out(db, run_id: str, snapshot) -> frozenset:
    """The turns every view of the run's predictions leaves out: those of the run's scope its encoder could
    not read, unless the checkbox counts them (drawn only when there are some). A line says how many."""
    unreadable = analysis.unreadable_turn_ids(db, run_id) & frozenset(snapshot.frame["turn_id"])
    if not unreadable:
        return frozenset()
    if st.checkbox("Show the turns the encoder cannot read", key=SHOW_UNREADABLE_KEY):
        st.text(f"Counting {len(unreadable)} turn(s) the encoder cannot read (mostly [UNK]) in the intent "
                "and sentiment matrices, the scores, the entity F1, the calibration chart and the cell lists.")
        return frozenset()
    st.text(f"{len(unreadable)} turn(s) the encoder cannot read (mostly [UNK]) are hidden: left out of the "
            "intent matrix, the agreement and per-intent scores, the cell lists, the sentiment matrix, the "
            "entity F1 and the calibration chart, as their predictions say nothing about the labels (the "
            "run's held-out scores, measured at training, count them). The multilingual encoder reads them; "
            "start the workbench with:")
    st.code("concord serve --encoder multilingual", language="bash")
    return unreadable


def render_cell(db, user, project: str, run_id: str, cell: tuple[str, str], *, show_unreadable: bool) -> None:
    """The cell's turns (those the run's encoder could not read left out as the matrix leaves them out:
    its prediction there is no reason to relabel), then the ticked turn with its fixes and evidence."""
    turns = analysis.confusion_cell_turns(db, project, gold=cell[0], predicted=cell[1], run_id=run_id)
    turns = ui.without_unreadable(turns, show=show_unreadable)[0]
    st.text(f"{len(turns)} turn(s) labelled {cell[0]!r}, predicted {cell[1]!r}")
    with_unreadable = bool((turns[ui.READS_COLUMN] == ui.READS_SHOWN[False]).any())
    key = "health_cell_all" if with_unreadable else "health_cell"     # a tick means a row of this table
    row = ui.pick_turn(turns, key=key, columns=["turn_id", "text", "given", "predicted", "confidence", "intents",
                                                ui.READS_COLUMN])
    if row is None:
        return
    ui.show_turn(row)
    if row["model_has_given"] and row["predicted"] != row["given"]:
        st.text(f"The model also predicts {row['given']}; it ranks {row['predicted']} first: an extra intent, "
                "not a wrong one, so there is nothing to replace.")
    fixes.fix_buttons(db, user, project, turn_id=row["turn_id"], field="intent", given=row["given"],
                   suggested=cell_suggestion(row), key="health_fix")
    ui.evidence_panel(db, project, row["turn_id"], run_id=run_id)


def render_entity_scores(db, project: str, run_id: str, column, *, left_out: frozenset) -> None:
    """Entity F1 per type (less the ``left_out`` turns, as every chart of the page); types without an F1
    (no gold span in scope) draw no bar and are named, as are types at 0 because the model predicted none
    of their spans."""
    entities = analysis.entity_scores(db, project, run_id=run_id, leave_out=left_out)
    if entities.empty:
        return
    column.plotly_chart(ui.bar_figure(entities, x="label", y="f1", title="Entity F1 per type"), width="stretch")
    no_gold = entities[entities["support"] == 0]["label"].tolist()
    none_found = entities[(entities["support"] > 0) & (entities["n_pred"] == 0)]["label"].tolist()
    if no_gold:
        column.text(f"No bar (no gold span of the type in scope): {', '.join(no_gold)}")
    if none_found:
        column.text(f"F1 0 (the model predicted no span of the type): {', '.join(none_found)}")


def render_quality(db, project: str, run_id: str, snapshot, *, left_out: frozenset) -> None:
    """Entity and sentiment quality, calibration (``snapshot`` already less the ``left_out`` turns, the
    entity scores told them), then the learning curve and run history (the runs' own held-out scores)."""
    left, right = st.columns(2)
    render_entity_scores(db, project, run_id, left, left_out=left_out)
    sentiment = analysis.confusion_from(snapshot, "sentiment")
    if sentiment["labels"]:
        right.plotly_chart(ui.confusion_figure(sentiment, title="Sentiment confusion"), width="stretch")
    runs = analysis.runs(db, project)
    left.plotly_chart(ui.learning_curve_figure(runs), width="stretch")
    right.plotly_chart(ui.reliability_figure(analysis.calibration_from(snapshot)), width="stretch")
    st.subheader("Run history")
    history = runs.sort_values("created_at", ascending=False) if not runs.empty else runs
    history = history.rename(columns={**ui.HELD_OUT_NAMES, "alignment_roc_auc": "held-out alignment ROC AUC"})
    st.dataframe(ui.percent_table(history, list(ui.HELD_OUT_NAMES.values())), hide_index=True, width="stretch",
                 placeholder="")


def agreement_note(scope: str | None) -> str:
    """What the agreement tile counts, and why it is not the run's held-out accuracy."""
    turns = ("the run's held-out turns" if scope == "held-out"
             else "every labelled turn the run scored, including turns it trained on")
    return (f"Agreement with today's labels: {turns}, against today's labels (corrections since the run count); "
            "the top predicted intent counts as agreeing when it is one of the turn's intents; a turn with no "
            "predicted intent counts as a miss.")


def render_scores(data: dict, scores, run: dict) -> None:
    """This page's agreement with today's labels, then the run's own held-out scores (as on the Pipeline
    page): two definitions, so two names, never just "intent accuracy"; both printed as percentages."""
    ui.scope_note(data["scope"])
    matrix = data["matrix"]
    correct = sum(matrix[i][i] for i in range(len(data["labels"])))
    a, b, c = st.columns(3)
    a.metric("Turns compared", data["n"])
    b.metric("Agreement with today's labels", ui.percent(correct / data["n"]) if data["n"] else "-")
    c.metric("Macro-F1 against today's labels", ui.percent(scores["f1"].mean()) if not scores.empty else "-")
    st.text(agreement_note(data["scope"]))
    held = analysis.heldout_metrics(run)
    if held.get("intent_accuracy") is None and held.get("intent_macro_f1") is None:
        return
    a, b, c = st.columns(3)
    a.metric("Held-out turns (at training)", held.get("n") if held.get("n") is not None else "-")
    b.metric("Held-out intent accuracy", ui.percent(held.get("intent_accuracy")))
    c.metric("Held-out intent macro-F1", ui.percent(held.get("intent_macro_f1")))
    exact = " (exact-set accuracy: every intent of the turn right)" if held.get("multi_label") else ""
    st.text(f"Held-out intent accuracy: measured by the run when it trained, on turns it did not train on and "
            f"the labels of that time{exact}; the Pipeline page shows the same number.")


@ui.analyst_page
def render(db, user, project: str) -> None:
    """The page body; app.py checks the role (analyst/admin) on the server before calling it."""
    st.header("Model health")
    ui.show_flash()
    run_id = ui.run_picker(db, project, key="health_run")
    if run_id is None:
        return
    snapshot = analysis.model_snapshot(db, project, run_id=run_id)
    left_out = unreadable_left_out(db, run_id, snapshot)
    snapshot = snapshot.without(left_out)       # every view below counts the same turns
    data = analysis.confusion_from(snapshot, "intent")
    scores = analysis.per_class_scores(data)
    render_scores(data, scores, snapshot.run)
    if data["labels"]:
        cell = ui.confusion_with_cell_picker(data, key="health_cm", title="Intent confusion (click a cell)")
        if cell is not None:
            render_cell(db, user, project, run_id, cell, show_unreadable=not left_out)
        st.subheader("Per-intent precision / recall / F1")
        st.text("An empty cell is undefined: no precision for an intent never predicted, no recall or F1 "
                "for an intent no turn in scope has.")
        st.dataframe(ui.percent_table(scores, ["precision", "recall", "f1"]), hide_index=True, width="stretch",
                     placeholder="")
    render_quality(db, project, run_id, snapshot, left_out=left_out)
