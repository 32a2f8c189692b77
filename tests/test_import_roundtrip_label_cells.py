"""A malformed CSV cell or a broken label name is an error naming file, line and field, never a new label.

A CSV intents cell whose JSON list is not closed (and whose quote runs on) used to be taken as one bare
intent name, '["nonexist"' plus a newline, which then joined the schema, the label page and every export.
"""
import csv
import json

import pytest

from store import importer, labels


def _counts(db):
    return {t: db.query_one(f"SELECT count(*) FROM {t}")[0] for t in ("turns", "imported_labels", "label_schema")}


def _rejected(db, path, line, field, *words):
    before = _counts(db)
    report = importer.import_files(db, [path])
    assert not report.ok, "the import should have been refused"
    problem = report.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), line, field), str(problem)
    for word in words:
        assert word in problem.message, str(problem)
    assert _counts(db) == before, "nothing may be half-imported"
    return problem


def test_an_unclosed_json_list_in_a_csv_cell_is_an_error_not_an_intent(db, tmp_path):
    path = tmp_path / "turns.csv"
    path.write_text('id,text,intents\nc1,"csv turn one","[""greeting""]"\nc2,"csv turn two","[""nonexist""\n',
                    encoding="utf-8")
    _rejected(db, path, 3, "intents", "JSON")
    assert labels.get_schema(db, "default")["intents"] == []


@pytest.mark.parametrize("cell", ['{"a": 1', "[greeting]", "  [\"x\", "])
def test_any_cell_that_looks_like_json_but_does_not_parse_is_an_error(db, tmp_path, cell):
    path = tmp_path / "turns.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "intents"], ["hello", cell]])
    _rejected(db, path, 2, "intents", "JSON")


def test_a_bare_intent_name_in_a_csv_cell_still_imports(db, tmp_path):
    path = tmp_path / "turns.csv"
    path.write_text("text,intents\nhello there,greeting\n", encoding="utf-8")
    assert importer.import_files(db, [path]).ok
    assert labels.get_schema(db, "default")["intents"] == ["greeting"]


BAD_NAMES = {
    "newline": ({"intents": ["greet\ning"]}, "intents[0]", "control character"),
    "trailing_newline": ({"intents": ['["nonexist"\n']}, "intents[0]", "control character"),
    "leading_space": ({"intents": [" greeting"]}, "intents[0]", "whitespace"),
    "blank": ({"intents": ["   "]}, "intents[0]", "empty"),
    "too_long": ({"intents": ["x" * 300]}, "intents[0]", "long"),
    "bare_string": ({"intents": "greet\ting"}, "intents", "control character"),
    "entity_space": ({"entities": [{"start": 0, "end": 5, "label": "thing "}]}, "entities[0].label", "whitespace"),
    "entity_tab": ({"entities": [{"start": 0, "end": 5, "label": "th\ting"}]}, "entities[0].label", "control character"),
    "sentiment_space": ({"sentiment": "positive "}, "sentiment", "whitespace"),
    "sentiment_control": ({"sentiment": "pos\x1bitive"}, "sentiment", "control character"),
}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_label_names_are_validated_on_import(db, tmp_path, case):
    labels_given, field, word = BAD_NAMES[case]
    path = tmp_path / "turns.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": "hello there", **labels_given}) + "\n",
                    encoding="utf-8")
    _rejected(db, path, 2, field, word)


def test_label_names_from_other_tools_formats_are_validated_too(db, tmp_path):
    path = tmp_path / "doccano.jsonl"
    path.write_text(json.dumps({"text": "hello there", "label": [[0, 5, "thing\n"]], "cats": []}) + "\n",
                    encoding="utf-8")
    report = importer.import_files(db, [path], fmt="doccano")
    assert not report.ok and "control character" in report.problems[0].message, report.summary()
    assert _counts(db)["turns"] == 0
