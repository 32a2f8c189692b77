"""export hf/labelstudio -> import --format hf/labelstudio -> export keeps the reviewers' corrected responses.

Both exporters write the correction (HF: a ``corrected_response`` column; Label Studio: a TextArea result
on the response), but their readers dropped it, so the round trip lost every correction and a DPO or
chat export of the new database had fewer pairs. Turns come from sample_data (Chinese, emoji).
"""
import json

import pytest

from store import Store, annotations, importer
from store.export import export
from store.formats.common import ExportOptions
from store.formats.labelstudio import read_labelstudio
from test_import_edges_spans import sample_turns

CORRECTIONS = {   # turn id -> (aligned, corrected response, whether the reviewer also labelled the turn)
    "c001-0": (False, "退款¥1,280 已原路退回，请查收 🙂", True),
    "c003-0": (False, "👨‍👩‍👧 I found a flight to Dublin on Friday and a family room for three nights.", False),
    "c002-2": (False, "Sorry 😤 order #ORD-3614557 ships today; tracking follows by e-mail.", True),
}


@pytest.fixture()
def corrected(db, tmp_path):
    """Sample turns imported as gold; three corrected by a reviewer, one of them fit-only."""
    turns = sample_turns("c001-0", "c001-2", "c002-2", "c003-0")
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    by_id = {t["id"]: t for t in turns}
    for n, (turn_id, (aligned, text, labelled)) in enumerate(CORRECTIONS.items()):
        labels = {k: by_id[turn_id][k] for k in ("intents", "entities", "sentiment")} if labelled else {}
        annotations.adjudicate(db, annotation_id=f"a{n}", turn_id=turn_id, project="default", reviewer="rev",
                               aligned=aligned, corrected_response=text, **labels)
    return db


def _native(db, out) -> dict:
    export(db, out, fmt="native")
    return {r["id"]: r for r in map(json.loads, (out / "data.jsonl").read_text(encoding="utf-8").splitlines())}


def _files(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"}


@pytest.mark.parametrize("fmt, target", [("labelstudio", "data.json"), ("hf", "")])
def test_format_round_trip_keeps_corrected_responses(corrected, tmp_path, fmt, target):
    options = ExportOptions(hf_layout="parquet")
    export(corrected, tmp_path / "first", fmt=fmt, options=options)
    before = _native(corrected, tmp_path / "native_before")
    assert {i: r.get("corrected_response") for i, r in before.items() if r.get("corrected_response")} == \
        {i: text for i, (_, text, _) in CORRECTIONS.items()}
    with Store(tmp_path / "copy.duckdb") as copy:
        report = importer.import_files(copy, [tmp_path / "first" / target], fmt=fmt)
        assert report.ok, report.summary()
        export(copy, tmp_path / "second", fmt=fmt, options=options)
        after = _native(copy, tmp_path / "native_after")
    assert _files(tmp_path / "second") == _files(tmp_path / "first")
    for turn_id, record in before.items():
        assert after[turn_id].get("corrected_response") == record.get("corrected_response"), turn_id
        assert after[turn_id]["aligned"] == record["aligned"], turn_id


def test_labelstudio_two_rewrites_of_one_response_are_a_located_problem(tmp_path):
    task = {"data": {"text": "退款 🙂 订单ORD-4577512", "response": "好的"}, "annotations": [{"result": [
        {"from_name": "corrected_response", "to_name": "response", "type": "textarea",
         "value": {"text": ["退款已受理", "已退款"]}}]}]}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    result = read_labelstudio(path)
    assert [(p.line, p.field) for p in result.problems] == [(1, "tasks[0].annotations.result[0]")]
    assert "one corrected response" in result.problems[0].message and result.records == []


def test_labelstudio_textarea_on_the_response_under_another_name_is_the_correction(tmp_path):
    task = {"data": {"text": "hi 👋", "response": "Goodbye"}, "annotations": [{"result": [
        {"from_name": "rewrite", "to_name": "response", "type": "textarea", "value": {"text": ["Hello! 👋"]}}]}]}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(task, ensure_ascii=False), encoding="utf-8")
    result = read_labelstudio(path)
    assert result.problems == [] and result.records[0]["corrected_response"] == "Hello! 👋"
