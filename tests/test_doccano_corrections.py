"""export doccano -> import --format doccano -> export doccano keeps corrected responses and fit-only turns.

The doccano exporter wrote ``response`` and ``aligned`` but no ``corrected_response``, and left out turns
judged only for their response fit, so the round trip lost the analysts' corrections and those judgements.
doccano keeps any extra key of a JSONL line as the example's metadata (and writes it back on export), so the
correction travels as a key of its own; a fit-only turn has ``cats`` and ``entities`` null (not labelled),
not empty lists ("no intent, no entity"). Turns come from sample_data (Chinese, emoji).
"""
import json

import pytest

from store import Store, annotations, importer
from store.export import export
from test_import_edges_spans import sample_turns

LABELLED = ("c001-0", "c001-2", "c002-2")
UNLABELLED = ("c002-0", "c003-0")    # imported with no labels; an analyst then judges only the response fit
JUDGEMENTS = {   # turn id -> (aligned, corrected response or None); labelled turns keep their intents and spans
    "c001-0": (False, "退款¥1,280 已原路退回，请查收 🙂"),
    "c002-2": (False, "Sorry 😤 order #ORD-3614557 ships today; tracking follows by e-mail."),
    "c003-0": (False, "👨‍👩‍👧 I found a flight to Dublin on Friday and a family room for three nights."),
    "c002-0": (True, None),
}
FIELDS = ("text", "cats", "entities", "response", "aligned", "corrected_response")


def _unlabelled(turn: dict) -> dict:
    return {**turn, "intents": [], "entities": [], "sentiment": None, "aligned": None}


@pytest.fixture()
def judged(db, tmp_path):
    turns = sample_turns(*LABELLED) + [_unlabelled(t) for t in sample_turns(*UNLABELLED)]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    for n, (turn_id, (aligned, text)) in enumerate(JUDGEMENTS.items()):
        annotations.adjudicate(db, annotation_id=f"a{n}", turn_id=turn_id, project="default", reviewer="ana",
                               aligned=aligned, corrected_response=text)
    return db


def _doccano(db, out) -> dict[str, dict]:
    export(db, out, fmt="doccano")
    lines = (out / "data.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["turn_id"]: row for row in map(json.loads, lines)}


def test_doccano_export_writes_corrections_and_fit_only_turns(judged, tmp_path):
    rows = _doccano(judged, tmp_path / "out")
    assert set(rows) == set(LABELLED) | set(UNLABELLED)
    assert {i: r["corrected_response"] for i, r in rows.items() if "corrected_response" in r} == \
        {i: text for i, (_, text) in JUDGEMENTS.items() if text}
    for turn_id in UNLABELLED:       # judged for fit only: not labelled, which is not "no intent, no entity"
        assert rows[turn_id]["cats"] is None and rows[turn_id]["entities"] is None, turn_id
        assert rows[turn_id]["aligned"] is JUDGEMENTS[turn_id][0], turn_id
    assert rows["c001-0"]["cats"] == ["return_item"] and rows["c001-0"]["entities"] == [[7, 18, "order_id"]]


def test_doccano_round_trip_is_identical(judged, tmp_path):
    before = _doccano(judged, tmp_path / "first")
    with Store(tmp_path / "copy.duckdb") as copy:
        report = importer.import_files(copy, [tmp_path / "first" / "data.jsonl"], fmt="doccano")
        assert report.ok, report.summary()
        after = _doccano(copy, tmp_path / "second")
    assert sorted(after) == sorted(before)
    for turn_id, row in before.items():
        assert {k: after[turn_id].get(k) for k in FIELDS} == {k: row.get(k) for k in FIELDS}, turn_id
    assert (tmp_path / "second" / "data.jsonl").read_bytes() == (tmp_path / "first" / "data.jsonl").read_bytes()
