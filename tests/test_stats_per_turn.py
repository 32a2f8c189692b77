"""``concord stats`` counts turns by their current label (the exports' rule), not annotations.

It used to add every imported gold label to every live annotation, so a turn two annotators labelled
and a reviewer adjudicated counted three times for its sentiment, spans and response fit, and the
totals (e.g. aligned + misaligned) exceeded the labelled turns and disagreed with the native export.
"""
import json

import pytest

from store import annotations, importer, labels
from store.export import export
from store.stats import project_stats

TURNS = [
    {"id": "t1", "conversation_id": "c1", "text": "where is order 12345", "response": "Goodbye",
     "intents": ["track_order"], "entities": [{"start": 15, "end": 20, "label": "order_id"}],
     "sentiment": "neutral", "aligned": True},
    {"id": "t2", "conversation_id": "c2", "text": "thanks a lot", "response": "You're welcome",
     "intents": ["thanks"], "sentiment": "positive", "aligned": True},
    {"id": "t3", "conversation_id": "c3", "text": "hi", "response": "Hello"},
]


@pytest.fixture()
def voted(db, tmp_path):
    """t1: imported gold, two annotators' votes and an adjudication; t2: gold only; t3: one annotator."""
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TURNS), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    labels.set_overlap(db, "default", 2)
    for name, sentiment, aligned in (("ann1", "negative", False), ("ann2", "neutral", True)):
        annotations.submit(db, annotation_id=f"s-{name}", turn_id="t1", project="default", annotator=name,
                           intents=["complaint"], sentiment=sentiment, aligned=aligned,
                           entities=[{"start": 15, "end": 20, "label": "order_id"}])
    annotations.adjudicate(db, annotation_id="adj", turn_id="t1", project="default", reviewer="rev",
                           intents=["track_order"], sentiment="negative", aligned=False,
                           entities=[{"start": 15, "end": 20, "label": "order_id"}])
    annotations.submit(db, annotation_id="s-t3", turn_id="t3", project="default", annotator="ann1",
                       intents=["greeting"], sentiment="positive", aligned=True)
    return db


def test_a_turn_with_votes_and_an_adjudication_counts_once(voted):
    stats = project_stats(voted)
    assert stats["labelled"] == 3 and stats["unlabelled"] == 0
    assert stats["intents"] == {"track_order": 1, "thanks": 1, "greeting": 1}
    assert stats["entities"] == {"order_id": 1}
    assert stats["sentiments"] == {"negative": 1, "positive": 2}
    assert stats["aligned"] == {"misaligned": 1, "aligned": 2}
    assert sum(stats["aligned"].values()) <= stats["labelled"]


def test_stats_agree_with_the_native_export(voted, tmp_path):
    export(voted, tmp_path / "out", fmt="native")
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    sentiments, aligned, entities = {}, {}, {}
    for row in rows:
        if row["sentiment"]:
            sentiments[row["sentiment"]] = sentiments.get(row["sentiment"], 0) + 1
        if row["aligned"] is not None:
            key = "aligned" if row["aligned"] else "misaligned"
            aligned[key] = aligned.get(key, 0) + 1
        for span in row["entities"]:
            entities[span["label"]] = entities.get(span["label"], 0) + 1
    stats = project_stats(voted)
    assert (stats["sentiments"], stats["aligned"], stats["entities"]) == (sentiments, aligned, entities)


def test_renamed_labels_count_under_their_new_name(voted):
    labels.rename_label(voted, "default", "sentiment", "negative", "unhappy")
    labels.rename_label(voted, "default", "entity", "order_id", "order_number")
    stats = project_stats(voted)
    assert stats["sentiments"] == {"unhappy": 1, "positive": 2} and stats["entities"] == {"order_number": 1}
