"""export native -> import into a new database -> export native gives back every field of every record.

Re-importing the native export used to drop the reviewers' corrected responses (the reader knew no
``corrected_response``), so the round trip lost them and a DPO export of the new database had fewer pairs.
"""
import json

import pytest

from store import Store, annotations, importer, labels
from store.export import export

TURNS = [
    {"id": "c1:0", "conversation_id": "c1", "turn_index": 0, "text": "where is order 12345", "response": "Goodbye",
     "intents": ["track_order"], "entities": [{"start": 15, "end": 20, "label": "order_id"}], "sentiment": "neutral"},
    {"id": "c1:2", "conversation_id": "c1", "turn_index": 2, "text": "that is not what I asked 😀",
     "context": [{"speaker": "user", "text": "where is order 12345"}, {"speaker": "assistant", "text": "Goodbye"}],
     "response": "Have a nice day", "meta": {"channel": "web", "nested": {"k": [1, 2]}}},
    {"id": "c2:0", "conversation_id": "c2", "turn_index": 0, "text": "退款订单", "response": "好的"},
    {"id": "c3:0", "conversation_id": "c3", "turn_index": 0, "text": "book a table for two", "response": "Booked",
     "intents": ["book_table"], "aligned": True},
    {"id": "c4:0", "conversation_id": "c4", "turn_index": 0, "text": "hi", "response": "Your refund is done"},
    {"id": "c5:0", "conversation_id": "c5", "turn_index": 0, "text": "cancel it", "response": "Sure",
     "intents": ["cancel"], "aligned": False},
]


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture()
def source(db, tmp_path):
    """Gold, an annotator's correction, a full and a fit-only adjudication with corrections, a renamed label."""
    assert importer.import_files(db, [_jsonl(tmp_path / "in.jsonl", TURNS)]).ok
    annotations.submit(db, annotation_id="s1", turn_id="c1:2", project="default", annotator="ann1",
                       intents=["complaint"], sentiment="negative", aligned=False,
                       corrected_response="Sorry: order 12345 ships tomorrow.")
    annotations.adjudicate(db, annotation_id="a1", turn_id="c1:0", project="default", reviewer="rev",
                           intents=["track_order"], sentiment="negative", aligned=False,
                           entities=[{"start": 15, "end": 20, "label": "order_id"}],
                           corrected_response="Order 12345 arrives on Monday.")
    annotations.adjudicate(db, annotation_id="a2", turn_id="c4:0", project="default", reviewer="rev",
                           aligned=False, corrected_response="Hello! How can I help?")
    annotations.submit(db, annotation_id="s2", turn_id="c2:0", project="default", annotator="ann1",
                       intents=["refund"], entities=[{"start": 0, "end": 2, "label": "action"}], aligned=True)
    labels.rename_label(db, "default", "intent", "cancel", "cancel_order")
    return db


def _native(db, out):
    export(db, out, fmt="native")
    return [json.loads(line) for line in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]


def _dpo_rows(db, out):
    export(db, out, fmt="dpo-trl")
    return sorted(p.read_text(encoding="utf-8") for p in out.glob("*.jsonl"))


def test_native_round_trip_keeps_every_field(source, tmp_path):
    before = _native(source, tmp_path / "before")
    assert sum(1 for r in before if r.get("corrected_response")) == 3, "the fixture exports three corrections"
    with Store(tmp_path / "copy.duckdb") as copy:
        report = importer.import_files(copy, [tmp_path / "before" / "data.jsonl"])
        assert report.ok, report.summary()
        after = _native(copy, tmp_path / "after")
        dpo_before = _dpo_rows(source, tmp_path / "dpo_before")
        assert sum(len(part.splitlines()) for part in dpo_before) >= 3, "a pair per corrected response"
        assert _dpo_rows(copy, tmp_path / "dpo_after") == dpo_before
    assert [r["id"] for r in after] == [r["id"] for r in before]
    for old, new in zip(before, after):
        assert new == old, old["id"]


def test_reimporting_the_export_is_idempotent_in_both_databases(source, tmp_path):
    before = _native(source, tmp_path / "before")
    exported = tmp_path / "before" / "data.jsonl"
    again = importer.import_files(source, [exported])
    assert again.ok and again.n_turns == 0 and again.n_relabelled == 0 and again.warnings == [], again.summary()
    with Store(tmp_path / "copy.duckdb") as copy:
        assert importer.import_files(copy, [exported]).ok
        twice = importer.import_files(copy, [exported])
        assert twice.ok and twice.n_turns == 0 and twice.n_relabelled == 0 and twice.warnings == []
        assert _native(copy, tmp_path / "after") == before


def test_a_changed_correction_of_an_existing_turn_is_reported_not_applied(source, tmp_path):
    rows = _native(source, tmp_path / "before")
    for row in rows:
        if row["id"] == "c1:0":
            row["corrected_response"] = "Something else entirely."
    report = importer.import_files(source, [_jsonl(tmp_path / "edited.jsonl", rows)])
    assert report.ok and any("corrected response" in w and "edited.jsonl:" in w for w in report.warnings), report.warnings
    assert _native(source, tmp_path / "after") == _native(source, tmp_path / "again")


def test_corrections_are_not_stored_with_labels_imported_as_suggestions(tmp_path):
    with Store(tmp_path / "s.duckdb") as db:
        path = _jsonl(tmp_path / "s.jsonl", [{"text": "hi", "response": "bye", "aligned": False,
                                              "corrected_response": "Hello!"}])
        report = importer.import_files(db, [path], labels="suggestions")
        assert report.ok and any("corrected response" in w for w in report.warnings)
        assert db.query_one("SELECT count(*) FROM annotations")[0] == 0
