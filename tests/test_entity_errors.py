"""Entity label errors from a run's stored spans: the pure span comparison, the store query over the
held-out scope, and the label-error page relabelling one span in place."""
from __future__ import annotations

import json
import math

from store import analysis, annotations
from store.entity_errors import span_disagreements
from test_analysis_pages import app_db, page_as  # noqa: F401 (fixture)
from workbench.components.fixes import _entities_with

CITY, DATE = "city", "date"


def span(start, end, label):
    return {"start": start, "end": end, "label": label}


def test_exact_matches_agree_and_each_kind_of_disagreement_is_a_row():
    given = [span(0, 5, CITY), span(10, 14, DATE), span(20, 25, CITY)]
    predicted = [span(0, 5, CITY), span(10, 16, DATE), span(30, 33, CITY), span(20, 25, DATE)]
    rows = span_disagreements(given, predicted, [0.9, 0.8, 0.7, 0.6])
    found = {(r["start"], r["end"], r["given"], r["suggested"]): r["score"] for r in rows}
    assert found == {(10, 16, DATE, DATE): 0.8,       # other boundaries
                     (30, 33, "O", CITY): 0.7,        # an entity nobody labelled
                     (20, 25, CITY, DATE): 0.6}       # another type
    missing = span_disagreements([span(3, 6, DATE)], [], [])
    assert [(r["given"], r["suggested"]) for r in missing] == [(DATE, "O")] and math.isnan(missing[0]["score"])


def test_relabelling_a_region_replaces_the_given_type_only():
    spans = [span(0, 5, CITY), span(2, 4, DATE)]
    assert _entities_with(spans, span(0, 6, CITY), span(0, 6, CITY)) == [span(0, 6, CITY), span(2, 4, DATE)]
    assert _entities_with(spans, span(0, 5, CITY), span(0, 5, "O")) == [span(2, 4, DATE)]
    assert _entities_with(spans, span(8, 9, "O"), span(8, 9, DATE)) == [*spans, span(8, 9, DATE)]


def _entity_run(db, held_out: list[str]) -> None:
    """A newer run that finds 'order 12' as a city on x12 and types x10's labelled span as a date."""
    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES ('run-e', 'default', 'fast', 'done', 'v-e', 20, ?, '{}',"
                    " '2024-06-01', '2024-06-01')", [json.dumps({"holdout_ids": held_out})])
        for tid, spans, scores in (("x10", [span(21, 29, DATE)], [0.91]), ("x12", [span(21, 29, CITY)], [0.83]),
                                   ("x11", [], [])):
            con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores)"
                        " VALUES ('run-e', ?, ['greeting'], '{\"greeting\": 0.9}', ?, ?)", [tid, spans, scores])
    db.write(write)


def _label_spans(db, turn_id: str, spans: list[dict]) -> None:
    annotations.submit(db, annotation_id=f"e-{turn_id}", turn_id=turn_id, project="default", annotator="ann",
                       intents=["greeting"], entities=spans, duration_ms=2000)


def test_store_lists_span_disagreements_of_the_held_out_slice(app_db):  # noqa: F811
    _label_spans(app_db, "x10", [span(21, 29, CITY)])
    _label_spans(app_db, "x11", [span(0, 4, DATE)])
    _entity_run(app_db, held_out=["x10", "x11"])          # x12 trained on: not in scope
    frame = analysis.label_error_candidates(app_db, "default", field="entity")
    rows = {(r.turn_id, r.given, r.suggested) for r in frame.itertuples()}
    assert rows == {("x10", CITY, DATE), ("x11", DATE, "O")}
    assert frame["turn_id"].tolist() == ["x10", "x11"]    # scored first, the unscored miss last
    assert frame.loc[0, "span_text"] == "order 10"


def test_page_relabels_one_span_in_place(app_db):  # noqa: F811
    _label_spans(app_db, "x10", [span(21, 29, CITY), span(0, 4, DATE)])
    _entity_run(app_db, held_out=["x10", "x11", "x12"])
    at = page_as("label_errors", "ana")
    at.radio(key="errors_field").set_value("entity").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert frame[["turn_id", "given", "suggested"]].values.tolist()[:2] == [["x10", CITY, DATE], ["x12", "O", CITY]]
    at.button(key="errors_fix_relabel").click().run()
    assert not at.exception
    now = analysis.current_labels(app_db, "default", ["x10"])["x10"]
    assert now["source"] == "adjudicated"
    assert sorted((s["start"], s["end"], s["label"]) for s in now["entities"]) == [(0, 4, DATE), (21, 29, DATE)]

