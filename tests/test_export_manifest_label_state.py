"""An export must be tied to the data state it came from (an analyst's review of the exports): the
manifest says when and by whom it was made and fingerprints the labels it holds, so once labelling goes
on one can still tell which labels an old export contained, and whether a new export holds the same."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import test_export
from store import annotations, labels
from store.export import ExportFilters, export, export_records
from store.export_manifest import label_fingerprint
from test_formats_common import sample_records

filled = test_export.filled      # gold imports, human labels (c2:0 by ann; c3:0 disputed), a model run


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fingerprint(db, out: Path, **kwargs) -> str:
    return export(db, out, fmt="native", **kwargs).manifest["label_state"]["fingerprint"]


def test_the_manifest_says_when_by_whom_and_which_labels(filled, tmp_path):
    before = datetime.now(timezone.utc)
    result = export(filled, tmp_path / "out", fmt="native", exported_by="ana")
    manifest = json.loads((result.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    stamp = datetime.fromisoformat(manifest["exported_at"])
    assert stamp.utcoffset() == timedelta(0) and before <= stamp <= datetime.now(timezone.utc)
    assert manifest["exported_by"] == "ana"
    state = manifest["label_state"]
    assert len(state["fingerprint"]) == 64 and state["turns"] == 5
    assert state["by_source"] == {"human": 1, "imported": 4}
    # c3:0 (a1, a2) is disputed and left out: the newest annotation the export includes is a3
    assert state["latest_annotation"]["annotation_id"] == "a3" and state["latest_annotation"]["action"] == "submit"
    assert datetime.fromisoformat(state["latest_annotation"]["created_at"]).utcoffset() == timedelta(0)
    gold_import = filled.query("SELECT import_id FROM imports")[0][0]
    assert state["latest_gold_import"]["import_id"] == gold_import
    recorded = filled.query("SELECT exported_at FROM exports")[0][0]
    assert recorded.replace(tzinfo=timezone.utc) == stamp      # the exports row and the manifest agree



def test_the_latest_annotation_and_import_are_those_the_export_includes(filled, tmp_path):
    annotations.submit(filled, annotation_id="a5", turn_id="c3:0", project="default", annotator="ann",
                       intents=["cancel_order"], aligned=False)      # c3:0 stays disputed: left out by default
    state = export(filled, tmp_path / "default", fmt="native").manifest["label_state"]
    assert state["latest_annotation"]["annotation_id"] == "a3"
    disputed = export(filled, tmp_path / "d", fmt="native", filters=ExportFilters(include_disputed=True))
    assert disputed.manifest["label_state"]["latest_annotation"]["annotation_id"] == "a5"
    gold_only = export(filled, tmp_path / "g", fmt="native", filters=ExportFilters(sources=("imported",)))
    assert gold_only.manifest["label_state"]["latest_annotation"] is None
    assert gold_only.manifest["label_state"]["latest_gold_import"] == state["latest_gold_import"]
    human_only = export(filled, tmp_path / "h", fmt="native", filters=ExportFilters(sources=("human",)))
    assert human_only.manifest["label_state"]["latest_gold_import"] is None


def test_anyone_can_recompute_the_fingerprint_from_a_native_export(filled, tmp_path):
    result = export(filled, tmp_path / "out", fmt="native", split=True)
    records = [json.loads(line) for name in ("train", "validation", "test")
               for line in (result.out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert label_fingerprint(records) == result.manifest["label_state"]["fingerprint"]


def test_an_unchanged_database_gives_the_same_fingerprint_and_data(filled, tmp_path):
    first = export(filled, tmp_path / "one", fmt="native", split=True)
    second = export(filled, tmp_path / "two", fmt="native", split=True)
    assert first.manifest["label_state"] == second.manifest["label_state"]
    one, two = files_of(first.out), files_of(second.out)
    assert one.pop("manifest.json") and two.pop("manifest.json") and one == two
    assert ({k: v for k, v in first.manifest.items() if k != "exported_at"}
            == {k: v for k, v in second.manifest.items() if k != "exported_at"})
    # the fingerprint is the labels', not the format's or the split's
    assert fingerprint(filled, tmp_path / "csv") == first.manifest["label_state"]["fingerprint"]


@pytest.mark.parametrize("change", [
    {"intents": ["refund"]},                                                        # another intent
    {"intents": ["cancel_order", "refund"], "sentiment": "negative"},               # a sentiment
    {"intents": ["cancel_order", "refund"], "entities": [{"start": 0, "end": 1, "label": "order_id"}]},
    {"intents": ["cancel_order", "refund"], "aligned": True},                      # the response fit
])
def test_any_label_change_changes_the_fingerprint(filled, tmp_path, change):
    before = fingerprint(filled, tmp_path / "before")
    kept = {"intents": ["cancel_order", "refund"], "aligned": False,
            "corrected_response": "Sure, order 42 is cancelled and refunded."}
    annotations.submit(filled, annotation_id="a4", turn_id="c2:0", project="default", annotator="ann",
                       **{**kept, **change})
    after = export(filled, tmp_path / "after", fmt="native")
    assert after.manifest["label_state"]["fingerprint"] != before
    assert after.manifest["label_state"]["latest_annotation"]["annotation_id"] == "a4"


def test_the_same_labels_again_give_the_same_fingerprint(filled, tmp_path):
    before = fingerprint(filled, tmp_path / "before")
    annotations.submit(filled, annotation_id="a4", turn_id="c2:0", project="default", annotator="ann",
                       intents=["refund"], aligned=False)
    assert fingerprint(filled, tmp_path / "changed") != before
    annotations.undo_last(filled, annotation_id="u4", project="default", annotator="ann")
    assert fingerprint(filled, tmp_path / "undone") == before


def test_a_rename_changes_the_fingerprint(filled, tmp_path):
    before = fingerprint(filled, tmp_path / "before")
    labels.rename_label(filled, "default", "intent", "refund", "refund_request")
    assert fingerprint(filled, tmp_path / "after") != before


def test_records_exported_without_a_store_carry_the_fingerprint_and_no_time(tmp_path):
    manifest = export_records(sample_records(), tmp_path / "x", fmt="native")
    assert manifest["exported_at"] is None and manifest["exported_by"] is None
    assert manifest["label_state"]["fingerprint"] == label_fingerprint(sample_records())
    assert manifest["label_state"]["turns"] == len(sample_records())
