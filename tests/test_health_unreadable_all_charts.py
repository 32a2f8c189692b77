"""Every chart of the Model health page drawn from the run's predictions covers the same turns as the intent
matrix: the turns the run's encoder cannot read (mostly [UNK]) were left out of the intent matrix and the
cell lists, but the sentiment matrix, the calibration chart and the entity F1 still counted them, so the
charts of one page disagreed about which turns they cover and the line "N turn(s) ... are hidden" was
false for them. Now they are left out of all of them, and the one checkbox counts them in all of them."""
from __future__ import annotations

import base64
import json
import math

import numpy as np

from app_testkit import texts
from store import annotations
import test_analysis_pages
from test_analysis_pages import page_as
from test_analyst_review_unreadable import x2_unreadable
from test_health_legibility import _cells

app_db = test_analysis_pages.app_db      # 20 labelled turns (all neutral), run-a predicts x2 and x7 wrong
HELD_OUT = [f"x{i}" for i in range(10)]   # x2 (unreadable) and x7 (readable) both held out
SPAN = {"start": 5, "end": 6, "label": "order_id"}     # the digit in "turn 7 <b>about</b> order 7"


def unreadable_x2_with_wrong_sentiment_and_entity(db) -> None:
    """run-a held out x0..x9; it cannot read x2, predicts it negative (labelled neutral) and finds an
    order_id in it nobody labelled; x7 (readable) has one order_id, labelled and predicted alike."""
    x2_unreadable(db)
    annotations.adjudicate(db, annotation_id="adj-x7", turn_id="x7", project="default", reviewer="ana",
                           intents=["greeting"], sentiment="neutral", entities=[SPAN])

    def write(con):
        con.execute("UPDATE model_runs SET metrics = ? WHERE run_id = 'run-a'",
                    [json.dumps({"holdout": {"intent_accuracy": 0.8, "ids": HELD_OUT}})])
        con.execute("UPDATE predictions SET sentiment = 'negative', sentiment_probs = '{\"negative\": 0.9}' "
                    "WHERE run_id = 'run-a' AND turn_id = 'x2'")
        con.execute("UPDATE predictions SET entities = [?], entity_scores = [0.9] "
                    "WHERE run_id = 'run-a' AND turn_id IN ('x2', 'x7')", [SPAN])
    db.write(write)


def chart(at, title: str) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(s for s in specs if (s["layout"].get("title") or {}).get("text") == title)


def values(data) -> list:
    """A trace's array as a list: plotly serialises numpy arrays as typed arrays (dtype + base64 bytes)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def sentiment_cells(at) -> dict:
    return {cell: int(count) for cell, (count, _) in _cells(chart(at, "Sentiment confusion")).items()}


def calibration_counts(at) -> dict:
    """Per mean confidence of a bin (rounded): how many turns the reliability chart counts there."""
    model = next(t for t in chart(at, "Calibration (reliability diagram)")["data"] if t.get("name") == "model")
    return {round(x, 2): int(n) for x, n in zip(values(model["x"]), values(model["text"]))}


def entity_f1(at) -> dict:
    bars = chart(at, "Entity F1 per type")["data"][0]
    return {x: round(y, 3) for x, y in zip(values(bars["x"]), values(bars["y"])) if not math.isnan(y)}


def test_sentiment_calibration_and_entity_charts_leave_out_what_the_matrix_leaves_out(app_db):
    unreadable_x2_with_wrong_sentiment_and_entity(app_db)
    at = page_as("health", "ana")
    assert not at.exception, at.exception
    assert "1 turn(s) the encoder cannot read (mostly [UNK]) are hidden: left out of the intent matrix" in texts(at)
    assert {m.label: m.value for m in at.metric}["Turns compared"] == "9"
    assert sentiment_cells(at) == {("neutral", "neutral"): 9}
    assert calibration_counts(at) == {0.8: 8, 0.93: 1}
    assert entity_f1(at) == {"order_id": 1.0}

    at.checkbox(key="health_cell_unreadable").check().run()
    assert not at.exception, at.exception
    assert "are hidden" not in texts(at)
    assert {m.label: m.value for m in at.metric}["Turns compared"] == "10"
    assert sentiment_cells(at) == {("neutral", "neutral"): 9, ("neutral", "negative"): 1}
    assert calibration_counts(at) == {0.8: 8, 0.93: 2}
    assert entity_f1(at) == {"order_id": round(2 / 3, 3)}
