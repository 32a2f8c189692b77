"""Model health's cell drill-down shows a missing confidence as an empty cell (it read "None", like a
label named None), and Likely label errors explains an empty list when the run's predictions cover only
its held-out turns (it said "0 candidate(s)... No turns here." beside 20 labels) and points to the
out-of-fold audit source."""
from __future__ import annotations

import json

import test_analysis_pages
from app_testkit import texts
from test_analysis_pages import INTENTS, page_as

app_db = test_analysis_pages.app_db     # the pages' seeded fixture, shared


def test_the_health_cell_table_shows_missing_values_empty(app_db):
    at = page_as("health", "ana")
    at.selectbox(key="health_cm_given").set_value("greeting")
    at.selectbox(key="health_cm_pred").set_value("cancel_order")
    at.run()
    cell = next(d for d in at.dataframe if "confidence" in d.value.columns)
    assert cell.proto.HasField("placeholder") and cell.proto.placeholder == ""


def add_heldout_run(db, turn_ids: list[str]) -> None:
    """A newer run holding out ``turn_ids`` and predicting each one's given intent (no disagreement)."""
    metrics = json.dumps({"holdout": {"intent_accuracy": 1.0, "n": len(turn_ids)}, "holdout_ids": turn_ids})

    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES ('run-h', 'default', 'fast', 'done', 'v-h', 20, ?, '{}',"
                    " '2024-06-01 00:00:00', '2024-06-01 00:00:00')", [metrics])
        for turn_id in turn_ids:
            intent = INTENTS[int(turn_id[1:]) % 5]
            con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                        " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty) VALUES"
                        " ('run-h', ?, ?, ?, [], [], 'neutral', '{\"neutral\": 0.9}', 0.9, 0.1, 0.1)",
                        [turn_id, [intent], json.dumps({intent: 0.9})])
    db.write(write)


def test_an_empty_run_list_says_it_covers_the_held_out_turns_and_points_to_the_audit(app_db):
    add_heldout_run(app_db, ["x0", "x2"])
    at = page_as("label_errors", "ana")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "0 candidate(s)" in shown
    assert ("This source only checks the run's 2 held-out turn(s) (of 20 labelled), the only ones it predicted "
            "out-of-sample. To check every labelled turn, choose the source 'Out-of-fold audit (cleanlab; trains "
            "k times)' above.") in shown


def test_a_list_with_candidates_has_no_such_note(app_db):
    at = page_as("label_errors", "ana")             # run-a: no held-out ids, x2 and x7 disagree
    assert len(at.dataframe[0].value) and "held-out turn(s) (of" not in texts(at)
