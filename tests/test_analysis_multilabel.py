"""Multi-label turns on the analyst pages: intents compare as sets, so a turn whose top predicted intent is
one of its intents is no label error and a relabel replaces only the disputed intent; the fix buttons say
what they store; Model health states its scope, shows the run's held-out scores, and leaves undefined
scores empty instead of 0."""
from __future__ import annotations

import json
import math

import pytest

from app_testkit import seed, texts
from store import analysis, annotations, importer
from test_analysis_pages import page_as
from workbench import runtime

JACKET = "I want to return the kids' rain jacket; also, does the newer model come in black?"

# turn id -> (text, gold intents, predicted intents (most probable first), intent probabilities)
TURNS = {
    "m0": (JACKET, ["return_item", "product_question"], ["product_question"],
           {"product_question": 0.94, "return_item": 0.31}),
    "m1": ("Where is order 55, and is the kettle still sold?", ["track_order", "product_question"], ["cancel_order"],
           {"cancel_order": 0.9, "track_order": 0.2, "product_question": 0.45}),
    "m2": ("hello there", ["greeting"], ["track_order", "greeting"], {"track_order": 0.8, "greeting": 0.7}),
    "m3": ("hi again", ["greeting"], [], {"greeting": 0.3}),
    "m4": ("good morning", ["greeting"], ["greeting"], {"greeting": 0.95}),
    "m5": ("order 77 please", ["track_order"], ["track_order"], {"track_order": 0.9}),
}
HELDOUT = {"n": 6, "multi_label": True, "intent_accuracy": 0.5, "intent_macro_f1": 0.43211}


def add_multilabel_run(db) -> None:
    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES ('run-m', 'default', 'fast', 'done', 'v-m', 6, ?, '{}',"
                    " '2024-05-02 00:00:00', '2024-05-02 00:00:00')", [json.dumps({"holdout": HELDOUT})])
        for i, (tid, (_, _, predicted, probs)) in enumerate(TURNS.items()):
            con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                        " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty)"
                        " VALUES ('run-m', ?, ?, ?, [], [], 'neutral', '{\"neutral\": 0.8}', ?, ?, 0.2)",
                        [tid, predicted, json.dumps(probs), 0.1 * (i + 1), 1 - 0.1 * (i + 1)])
    db.write(write)


@pytest.fixture
def ml_db(tmp_path, monkeypatch):
    """Six multi-label-project turns labelled by one annotator (m5 with an order_id span) and a run."""
    path = tmp_path / "ml.duckdb"
    monkeypatch.setenv(runtime.ENV_DB, str(path))
    db = runtime.get_store(str(path))
    seed(db, tmp_path, users=("ann", "ana"))
    extra = tmp_path / "ml.jsonl"
    extra.write_text("".join(json.dumps({"id": tid, "text": text, "response": f"reply {tid}"}) + "\n"
                             for tid, (text, *_rest) in TURNS.items()), encoding="utf-8")
    assert importer.import_files(db, [extra], labels="ignore").ok
    for tid, (_, gold, _, _) in TURNS.items():
        spans = [{"start": 6, "end": 8, "label": "order_id"}] if tid == "m5" else []
        annotations.submit(db, annotation_id=f"a-{tid}", turn_id=tid, project="default", annotator="ann",
                           intents=gold, entities=spans, sentiment="neutral", duration_ms=3000)
    add_multilabel_run(db)
    yield db
    analysis.wait_for_prewarm()
    runtime.close_stores()


def test_a_turn_whose_top_intent_is_one_of_its_intents_is_no_error(ml_db):
    rows = analysis.label_error_candidates(ml_db, "default")
    assert rows["turn_id"].tolist() == ["m1"]          # not m0 (top intent is gold), m2 (model predicts greeting too), m3
    m1 = rows.iloc[0]
    assert (m1["given"], m1["suggested"]) == ("track_order", "cancel_order")   # the gold intent the model doubts most
    assert m1["score"] == pytest.approx(0.8)
    data = analysis.confusion(ml_db, "default")
    cell = {(g, q): data["matrix"][i][j] for i, g in enumerate(data["labels"]) for j, q in enumerate(data["labels"])
            if data["matrix"][i][j]}
    assert cell[("product_question", "product_question")] == 1      # the jacket turn counts as correct
    assert ("return_item", "product_question") not in cell
    assert cell[("greeting", analysis.NO_INTENT)] == 1 and cell[("greeting", "track_order")] == 1
    assert data["n"] == 6                                            # a turn with no predicted intent still counts


def test_a_relabel_on_a_two_intent_turn_keeps_the_other_intent(ml_db):
    at = page_as("label_errors", "ana")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Showing the first row (nothing is ticked): tick a row in the table to select another." in shown
    assert "Relabel to the suggestion: intents [track_order, product_question] -> [cancel_order, product_question]" \
        in shown
    at.button(key="errors_fix_relabel").click().run()
    assert not at.exception
    now = analysis.current_labels(ml_db, "default", ["m1"])["m1"]
    assert now["intents"] == ["cancel_order", "product_question"] and now["source"] == "adjudicated"


def test_relabelling_to_an_intent_the_turn_already_has_is_refused(ml_db):
    from workbench.components.fixes import _labels_with, relabel_refusal

    both = {"intents": ["return_item", "product_question"]}
    assert "already has intent product_question" in relabel_refusal(both, "intent", "return_item", "product_question")
    assert _labels_with(both, "intent", "return_item", "track_order")["intents"] == ["track_order", "product_question"]
    at = page_as("health", "ana")
    at.selectbox(key="health_cm_given").set_value("greeting")
    at.selectbox(key="health_cm_pred").set_value("track_order").run()   # m2: the model predicts greeting too
    assert at.button(key="health_fix_relabel").disabled
    assert "Relabel to the suggestion: off: there is no suggestion" in texts(at)


def test_health_states_its_scope_and_shows_the_runs_held_out_scores(ml_db):
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Turns compared"] == "6" and metrics["Agreement with today's labels"] == "50.0%"   # m0, m4, m5 of 6
    assert metrics["Held-out intent accuracy"] == "50.0%" and metrics["Held-out intent macro-F1"] == "43.2%"
    assert metrics["Held-out turns (at training)"] == "6"
    assert any(c.value.startswith("Scope: every labelled turn") for c in at.caption)
    assert "exact-set accuracy" in texts(at)
    scores = next(d.value for d in at.dataframe if "f1" in d.value.columns).set_index("label")
    assert scores.loc["cancel_order", "precision"] == 0 and math.isnan(scores.loc["cancel_order", "recall"])
    assert math.isnan(scores.loc["cancel_order", "f1"])               # support 0: no recall, no F1 (not 0)
    assert analysis.NO_INTENT not in scores.index


def test_entity_types_without_data_are_named_and_have_no_score(ml_db):
    table = analysis.entity_scores(ml_db, "default").set_index("label")
    assert table.loc["order_id", "f1"] == 0 and table.loc["order_id", "n_pred"] == 0
    assert math.isnan(table.loc["date", "f1"]) and math.isnan(table.loc["product", "f1"])
    at = page_as("health", "ana")
    assert "No bar (no gold span of the type in scope): date, product" in texts(at)
    assert "F1 0 (the model predicted no span of the type): order_id" in texts(at)


def test_learning_curve_of_one_run_has_whole_label_ticks(ml_db):
    from workbench.components.analysis import learning_curve_figure

    axis = learning_curve_figure(analysis.runs(ml_db, "default")).layout.xaxis
    assert list(axis.tickvals) == [6] and list(axis.ticktext) == ["6"]


def test_misalignment_buttons_say_what_they_store(ml_db):
    at = page_as("misalignment", "ana")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Relabel to the suggestion: response fit: not judged -> misaligned" in shown
    assert "Send to review: flags the turn for the adjudication queue; labels unchanged" in shown
