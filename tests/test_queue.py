"""Leases, overlap, skip, undo and idempotent submits, against the real store."""
import json
import threading
import uuid
from datetime import timedelta

import pytest

from store import annotations, importer, labels, queue
from store.annotations import SubmitRefused
from store.effective import effective_labels


@pytest.fixture
def pool(db, tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": f"turn number {i}", "response": f"r{i}"}) + "\n"
                            for i in range(20)))
    assert importer.import_files(db, [path]).ok
    return db


def submit(db, turn_id, who, intents=("a",), annotation_id=None):
    return annotations.submit(db, annotation_id=annotation_id or uuid.uuid4().hex, turn_id=turn_id,
                              project="default", annotator=who, intents=list(intents))


def test_two_annotators_never_get_the_same_turn_without_overlap(pool):
    a, b = queue.claim_next(pool, "default", "ann"), queue.claim_next(pool, "default", "bob")
    assert a["turn_id"] != b["turn_id"]
    assert queue.claim_next(pool, "default", "ann")["turn_id"] == a["turn_id"], "a held lease is handed back"


def test_concurrent_claims_are_distinct(pool):
    got, lock = [], threading.Lock()

    def claim(who):
        turn = queue.claim_next(pool, "default", who)
        with lock:
            got.append(turn["turn_id"])
    threads = [threading.Thread(target=claim, args=(f"u{i}",)) for i in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(set(got)) == 10


def test_expired_lease_frees_the_turn_and_not_before(pool):
    now = queue.utcnow()
    held = queue.claim_next(pool, "default", "ann", ttl_s=60, now=now)["turn_id"]
    order = [queue.claim_next(pool, "default", f"x{i}", now=now + timedelta(seconds=30))["turn_id"] for i in range(19)]
    assert held not in order
    assert queue.claim_next(pool, "default", "late", now=now + timedelta(seconds=30)) is None
    assert queue.claim_next(pool, "default", "late", now=now + timedelta(seconds=61))["turn_id"] == held


def test_late_submit_on_a_reassigned_labelled_turn_is_refused_once(pool):
    now = queue.utcnow()
    turn = queue.claim_next(pool, "default", "ann", ttl_s=1, now=now - timedelta(seconds=10))["turn_id"]
    assert queue.claim_next(pool, "default", "bob")["turn_id"] == turn
    assert submit(pool, turn, "bob")
    with pytest.raises(SubmitRefused, match="reassigned"):
        submit(pool, turn, "ann")
    assert pool.query_one("SELECT count(*) FROM annotations WHERE turn_id = ? AND action='submit'", [turn])[0] == 1


def test_overlap_two_gives_each_turn_to_two_annotators(pool):
    labels.set_overlap(pool, "default", 2)
    seen = {}
    for who in ("ann", "bob", "cat"):
        while (turn := queue.claim_next(pool, "default", who)) is not None:
            submit(pool, turn["turn_id"], who)
            seen.setdefault(turn["turn_id"], []).append(who)
    assert len(seen) == 20 and all(len(v) == 2 for v in seen.values())


def test_submit_is_idempotent_by_client_id(pool):
    turn = queue.claim_next(pool, "default", "ann")["turn_id"]
    assert submit(pool, turn, "ann", annotation_id="same") is True
    assert submit(pool, turn, "ann", annotation_id="same") is False
    assert pool.query_one("SELECT count(*) FROM annotations")[0] == 1


def test_skip_moves_on_and_leaves_the_turn_to_others(pool):
    turn = queue.claim_next(pool, "default", "ann")["turn_id"]
    annotations.skip(pool, annotation_id="s1", turn_id=turn, project="default", annotator="ann")
    assert queue.claim_next(pool, "default", "ann")["turn_id"] != turn
    assert queue.claim_next(pool, "default", "bob")["turn_id"] == turn


def test_undo_restores_the_previous_state_and_gives_the_turn_back(pool):
    turn = queue.claim_next(pool, "default", "ann")["turn_id"]
    submit(pool, turn, "ann", intents=["first"])
    submit(pool, turn, "ann", intents=["second"])
    nxt = queue.claim_next(pool, "default", "ann")["turn_id"]
    assert nxt != turn
    assert annotations.undo_last(pool, annotation_id="u1", project="default", annotator="ann") == turn
    assert annotations.undo_last(pool, annotation_id="u1", project="default", annotator="ann") == turn, "idempotent"
    assert annotations.turn_state(pool, turn, annotator="ann")["intents"] == ["first"]
    assert queue.claim_next(pool, "default", "ann")["turn_id"] == turn


def test_effective_labels_vote_and_flag_disputes(pool):
    labels.set_overlap(pool, "default", 3)
    for who, intent in (("a", "x"), ("b", "x"), ("c", "y")):
        submit(pool, "t0", who, intents=[intent])
    row = effective_labels(pool).set_index("turn_id").loc["t0"]
    assert row["intents"] == ["x"] and row["disputed"] and abs(row["agreement"] - 2 / 3) < 1e-9
    annotations.adjudicate(pool, annotation_id="adj", turn_id="t0", project="default", reviewer="rev", intents=["y"])
    row = effective_labels(pool).set_index("turn_id").loc["t0"]
    assert (row["intents"], row["label_source"], row["disputed"]) == (["y"], "adjudicated", False)


def test_renames_and_merges_read_as_todays_names_without_rewriting_history(pool):
    labels.add_label(pool, "default", "intent", "refnd")
    labels.add_label(pool, "default", "intent", "money_back")
    submit(pool, "t1", "ann", intents=["refnd"])
    submit(pool, "t2", "ann", intents=["money_back"])
    labels.rename_label(pool, "default", "intent", "refnd", "refund_request", by="admin")
    labels.merge_labels(pool, "default", "intent", ["money_back"], "refund_request", by="admin")
    eff = effective_labels(pool).set_index("turn_id")
    assert eff.loc["t1", "intents"] == ["refund_request"] == eff.loc["t2", "intents"]
    assert "refnd" not in labels.get_schema(pool)["intents"]
    assert pool.query_one("SELECT intents FROM annotations WHERE turn_id = 't1'")[0] == ["refnd"]
