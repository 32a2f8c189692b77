"""An analyst's response-fit judgement on an unlabelled turn labels the fit, not the intent.

The Misalignment page's fit fix stores an adjudication with no intent, span or sentiment. It used to
count as labelling the turn (stats 216 -> 217), take the turn out of the annotators' queue for good,
and, being an adjudication, hide any intent an annotator gave the turn later behind its empty list.
"""
import json

import pytest

from store import annotations, importer, queue
from store.effective import effective_labels, label_counts


@pytest.fixture()
def pool(db, tmp_path):
    path = tmp_path / "t.jsonl"
    records = [{"id": "t1", "conversation_id": "c1", "text": "Hi there", "response": "I found three hotels"},
               {"id": "g1", "conversation_id": "c2", "text": "Where is my parcel", "response": "Goodbye",
                "intents": ["track_order"], "sentiment": "neutral"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    return db


def _judge_misfit(db, turn_id):
    annotations.adjudicate(db, annotation_id=f"fit-{turn_id}", turn_id=turn_id, project="default",
                           reviewer="ana", aligned=False)


def _effective(db, turn_id):
    rows = effective_labels(db, "default")
    return rows[rows["turn_id"] == turn_id].iloc[0]


def test_a_fit_only_judgement_leaves_the_turn_unlabelled_and_in_the_queue(pool):
    _judge_misfit(pool, "t1")
    assert label_counts(pool, "default")[0] == 1, "only the imported gold turn is labelled"
    assert queue.claim_next(pool, "default", "ann1")["turn_id"] == "t1"
    row = _effective(pool, "t1")
    assert list(row["intents"]) == [] and not row["aligned"]


def test_the_annotators_intent_shows_beside_the_analysts_fit(pool):
    _judge_misfit(pool, "t1")
    annotations.submit(pool, annotation_id="s1", turn_id="t1", project="default", annotator="ann1",
                       intents=["greeting"], sentiment="positive", aligned=True)
    row = _effective(pool, "t1")
    assert list(row["intents"]) == ["greeting"] and row["sentiment"] == "positive"
    assert not row["aligned"], "the analyst's adjudicated fit still decides the fit"
    assert label_counts(pool, "default") == (2, {"track_order": 1, "greeting": 1})


def test_imported_gold_keeps_its_intent_under_a_fit_judgement(pool):
    _judge_misfit(pool, "g1")
    row = _effective(pool, "g1")
    assert list(row["intents"]) == ["track_order"] and row["sentiment"] == "neutral" and not row["aligned"]


def _current(db, turn_id):
    from store.analysis import current_labels

    return current_labels(db, "default", [turn_id])[turn_id]


def test_the_analyst_views_read_a_fit_only_judgement_the_same_way(pool):
    """store.current (the analyst views' SQL) follows store.effective's rule."""
    _judge_misfit(pool, "t1")
    assert _current(pool, "t1")["intents"] == [] and _current(pool, "t1")["aligned"] is False
    annotations.submit(pool, annotation_id="s1", turn_id="t1", project="default", annotator="ann1",
                       intents=["greeting"], aligned=True)
    now = _current(pool, "t1")
    assert now["intents"] == ["greeting"] and now["aligned"] is False
    _judge_misfit(pool, "g1")
    assert _current(pool, "g1")["intents"] == ["track_order"] and _current(pool, "g1")["aligned"] is False


def test_a_fit_judgement_after_a_full_adjudication_keeps_the_adjudicated_intents(pool):
    annotations.submit(pool, annotation_id="s1", turn_id="t1", project="default", annotator="ann1", intents=["greeting"])
    annotations.adjudicate(pool, annotation_id="adj", turn_id="t1", project="default", reviewer="rev",
                           intents=["complaint"], aligned=True)
    _judge_misfit(pool, "t1")
    row = _effective(pool, "t1")
    assert list(row["intents"]) == ["complaint"] and not row["aligned"]
    assert _current(pool, "t1")["intents"] == ["complaint"] and _current(pool, "t1")["aligned"] is False
