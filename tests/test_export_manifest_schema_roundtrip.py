"""An export carries the project's label schema (``schema.yaml``, named in the manifest): re-importing a
native export used to infer the labels from the data, losing every description and the label order.
Now ``concord init --schema <export>/schema.yaml`` + ``concord import`` gives them back."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import yaml

from store import Store, annotations, importer, labels
from store.export import export, export_records
from store.records import write_jsonl
from test_formats_common import sample_records
from workbench.cli import main

# Not alphabetical, descriptions YAML has to quote, names YAML would read as other types, one label unused.
SCHEMA = {
    "intents": [
        {"name": "track_order", "description": "Asks where an order is: \"when\", 'where' # not a comment"},
        {"name": "yes", "description": "A bare yes.\nSecond line, with trailing spaces  "},
        {"name": "退款", "description": "要求退款 🙂"},
        {"name": "cancel_order", "description": ""},
        {"name": "never_used", "description": "Kept although no turn carries it."},
    ],
    "entities": [{"name": "order_id", "description": "e.g. ORD-1: the prefix too"}, "123", "city"],
    "sentiments": ["negative", "neutral", "positive", {"name": "mixed", "description": "both at once"}],
}
TURNS = [
    {"id": "t1", "conversation_id": "c1", "turn_index": 0, "text": "where is ORD-1 in Berlin", "response": "Shipped."},
    {"id": "t2", "conversation_id": "c1", "turn_index": 1, "text": "yes", "response": "Great."},
    {"id": "t3", "conversation_id": "c2", "turn_index": 0, "text": "退款 订单 ORD-2", "response": "好的"},
    {"id": "t4", "conversation_id": "c3", "turn_index": 0, "text": "cancel it, 123", "response": "Booked a table."},
]
LABELS = {
    "t1": dict(intents=["track_order"], entities=[{"start": 9, "end": 14, "label": "order_id"},
                                                  {"start": 18, "end": 24, "label": "city"}], sentiment="neutral"),
    "t2": dict(intents=["yes"], sentiment="mixed", aligned=True),
    "t3": dict(intents=["退款"], entities=[{"start": 6, "end": 11, "label": "order_id"}], sentiment="negative"),
    "t4": dict(intents=["cancel_order", "yes"], entities=[{"start": 11, "end": 14, "label": "123"}], aligned=False),
}


@pytest.fixture
def labelled(db, tmp_path):
    """A project whose schema came from YAML, with its turns labelled by an annotator."""
    (tmp_path / "schema-in.yaml").write_text(yaml.safe_dump(SCHEMA, allow_unicode=True), encoding="utf-8")
    labels.create_project(db, "default")
    labels.load_schema_yaml(db, "default", tmp_path / "schema-in.yaml")
    write_jsonl(tmp_path / "turns.jsonl", TURNS)
    assert importer.import_files(db, [tmp_path / "turns.jsonl"], labels="ignore").ok
    for n, (turn_id, given) in enumerate(LABELS.items()):
        annotations.submit(db, annotation_id=f"a{n}", turn_id=turn_id, project="default", annotator="ann", **given)
    return db


def label_rows(db) -> dict:
    """turn id -> (intents, spans, sentiment, aligned): the labels a re-import must give back."""
    frame = annotations.effective_labels(db, "default")
    missing = lambda value: value is None or bool(pd.isna(value))  # noqa: E731
    return {row.turn_id: (list(row.intents), sorted((s["start"], s["end"], s["label"]) for s in row.entities),
                          None if missing(row.sentiment) else row.sentiment,
                          None if missing(row.aligned) else bool(row.aligned))
            for row in frame.itertuples()}


def test_init_with_the_exported_schema_and_import_restore_labels_descriptions_and_order(labelled, tmp_path):
    result = export(labelled, tmp_path / "export", fmt="native")
    assert result.manifest["schema_file"] == "schema.yaml"
    schema_path = result.out / "schema.yaml"
    assert result.manifest["files"]["schema.yaml"] == hashlib.sha256(schema_path.read_bytes()).hexdigest()
    restored = tmp_path / "restored.duckdb"
    assert main(["init", "--db", str(restored), "--schema", str(schema_path)]) == 0
    assert main(["import", str(result.out / "data.jsonl"), "--db", str(restored), "--strict-schema"]) == 0
    with Store(restored) as db:
        assert labels.get_schema(db, "default") == labels.get_schema(labelled, "default")
        assert label_rows(db) == label_rows(labelled)
    schema = labels.get_schema(labelled, "default")
    assert schema["intents"] == ["track_order", "yes", "退款", "cancel_order", "never_used"]
    assert schema["descriptions"]["intent:yes"] == "A bare yes.\nSecond line, with trailing spaces  "


def test_every_format_carries_the_schema(labelled, tmp_path):
    for fmt in ("hf", "labelstudio", "intent-csv"):
        result = export(labelled, tmp_path / fmt, fmt=fmt, split=True)
        assert result.manifest["schema_file"] == "schema.yaml" and "schema.yaml" in result.manifest["files"]
        again = yaml.safe_load((result.out / "schema.yaml").read_text(encoding="utf-8"))
        assert again["intents"][1] == SCHEMA["intents"][1] and again["entities"][1] == "123"


def test_records_without_a_project_carry_the_labels_they_use(tmp_path):
    manifest = export_records(sample_records(), tmp_path / "x", fmt="native")
    document = yaml.safe_load((tmp_path / "x" / manifest["schema_file"]).read_text(encoding="utf-8"))
    used = sorted({i for r in sample_records() for i in r["intents"]})
    assert document["intents"] == used
    assert json.loads((tmp_path / "x" / "manifest.json").read_text(encoding="utf-8")) == manifest
