"""A flag taken back (an ``unflag`` row whose ``undoes`` names it) no longer sends the turn to review.

The label page lets an annotator take a mis-pressed F back, but the adjudication queue and the
annotator stats still counted every ``flag`` row, so the reviewer was asked to resolve a turn nobody
had flagged any more.
"""
import json

import pytest

from store import annotations, importer
from store.agreement import adjudication_queue
from store.stats import annotator_stats

TURNS = [{"id": "t1", "conversation_id": "c1", "text": "where is my order", "response": "It ships."},
         {"id": "t2", "conversation_id": "c2", "text": "hello", "response": "Hi"}]


@pytest.fixture()
def turns(db, tmp_path):
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TURNS), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    return db


def flag(db, annotation_id: str, turn_id: str) -> None:
    assert annotations.flag(db, annotation_id=annotation_id, turn_id=turn_id, project="default", annotator="ann")


def unflag(db, annotation_id: str, turn_id: str) -> None:
    assert annotations.unflag(db, annotation_id=annotation_id, turn_id=turn_id, project="default", annotator="ann")


def flags_of(db, annotator: str = "ann") -> int:
    return next(r["flags"] for r in annotator_stats(db, "default") if r["annotator"] == annotator)


def test_a_flag_taken_back_leaves_the_adjudication_queue(turns):
    flag(turns, "f1", "t1")
    flag(turns, "f2", "t2")
    assert sorted(adjudication_queue(turns, "default")["turn_id"]) == ["t1", "t2"]
    unflag(turns, "u1", "t1")
    assert adjudication_queue(turns, "default")["turn_id"].tolist() == ["t2"]
    assert flags_of(turns) == 1


def test_flagging_again_after_taking_it_back_queues_the_turn_again(turns):
    flag(turns, "f1", "t1")
    unflag(turns, "u1", "t1")
    flag(turns, "f1:2", "t1")
    queued = adjudication_queue(turns, "default")
    assert queued["turn_id"].tolist() == ["t1"] and queued["reason"].tolist() == ["flagged"]
    assert flags_of(turns) == 1
