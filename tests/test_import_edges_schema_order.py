"""``concord init --schema <export>/schema.yaml`` restores the project's sentiments exactly: their order,
only the listed ones, their descriptions.

``ensure_project`` gives a new project the default sentiments (negative, neutral, positive) and the
schema's were appended after them, so a project whose sentiments were renamed, merged or reordered
came back with the defaults first (and the renamed-away ones back), unlike its intents and entities,
which a schema gives a new project exactly.
"""
import json

import yaml

from store import Store, annotations, importer, labels
from store.export import export
from test_import_edges_spans import sample_turns
from workbench.cli import main


def _project_with_renamed_sentiments(db, tmp_path):
    """Sample turns (Chinese, emoji); the sentiments renamed to 积极/中性/消极 and put in another order."""
    path = tmp_path / "in.jsonl"
    turns = sample_turns("c001-0", "c001-2", "c002-2", "c003-0")
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    for old, new in (("positive", "积极"), ("neutral", "中性"), ("negative", "消极 😞")):
        labels.rename_label(db, "default", "sentiment", old, new)
    labels.add_label(db, "default", "sentiment", "中性", description="既不积极也不消极")
    annotations.submit(db, annotation_id="a1", turn_id="c003-0", project="default", annotator="ann",
                       intents=["book_flight"], sentiment="积极")
    return db


def test_init_with_the_exported_schema_restores_sentiments_exactly(db, tmp_path):
    source = _project_with_renamed_sentiments(db, tmp_path)
    expected = labels.get_schema(source, "default")
    assert expected["sentiments"] == ["消极 😞", "中性", "积极"]
    result = export(source, tmp_path / "export", fmt="native")
    assert yaml.safe_load((result.out / "schema.yaml").read_text(encoding="utf-8"))["sentiments"][0] == "消极 😞"
    restored = tmp_path / "restored.duckdb"
    assert main(["init", "--db", str(restored), "--schema", str(result.out / "schema.yaml")]) == 0
    assert main(["import", str(result.out / "data.jsonl"), "--db", str(restored), "--strict-schema"]) == 0
    with Store(restored) as copy:
        assert labels.get_schema(copy, "default") == expected


def test_a_schema_in_another_order_gives_that_order_and_its_descriptions(db, tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump({"intents": ["退款", "greeting"], "sentiments": [
        "positive", {"name": "neutral", "description": "no feeling shown 😐"}, "negative"]},
        allow_unicode=True), encoding="utf-8")
    schema = labels.load_schema_yaml(db, "p", path)
    assert schema["sentiments"] == ["positive", "neutral", "negative"] and schema["intents"] == ["退款", "greeting"]
    assert schema["descriptions"]["sentiment:neutral"] == "no feeling shown 😐"


def test_a_schema_without_sentiments_keeps_the_defaults(db, tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump({"intents": ["greeting"]}), encoding="utf-8")
    assert labels.load_schema_yaml(db, "p", path)["sentiments"] == ["negative", "neutral", "positive"]


def test_a_project_that_holds_turns_keeps_its_sentiments_and_gets_the_new_ones_appended(db, tmp_path):
    """As with intents and entities: a schema file adds labels to a project in use, it removes none."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(sample_turns("c001-0")[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump({"sentiments": ["mixed", "positive"]}), encoding="utf-8")
    schema = labels.load_schema_yaml(db, "default", tmp_path / "schema.yaml")
    assert schema["sentiments"] == ["negative", "neutral", "positive", "mixed"]


def test_a_second_schema_file_appends_to_the_first(db, tmp_path):
    for n, sentiments in enumerate((["good", "bad"], ["bad", "meh"])):
        (tmp_path / f"s{n}.yaml").write_text(yaml.safe_dump({"sentiments": sentiments}), encoding="utf-8")
        schema = labels.load_schema_yaml(db, "p", tmp_path / f"s{n}.yaml")
    assert schema["sentiments"] == ["good", "bad", "meh"]
