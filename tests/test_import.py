"""Import: all or nothing, every problem located as file:line:field, duplicates reported not doubled."""
import json

import pytest

from store import importer
from store.effective import effective_labels

GOOD = {"id": "g1", "conversation_id": "c", "turn_index": 0, "text": "refund order 12345", "response": "Done.",
        "intents": ["refund"], "entities": [{"start": 13, "end": 18, "label": "order_id"}], "sentiment": "neutral"}


def jsonl(path, *records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def snapshot(db):
    tables = ("turns", "imported_labels", "label_schema", "imports", "projects")
    return {t: db.query_one(f"SELECT count(*) FROM {t}")[0] for t in tables}


# One file per class of bad input: (file name, bytes, expected line, expected field, words in the message)
BAD_INPUTS = {
    "bad_utf8": ("a.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', 2, "", "invalid UTF-8"),
    "utf16": ("a.jsonl", '{"text": "hi"}\n'.encode("utf-16"), 1, "", "UTF-16"),
    "empty": ("a.jsonl", b"", 0, "", "empty"),
    "blank_lines_only": ("a.jsonl", b"\n\n  \n", 0, "", "empty"),
    "not_json": ("a.jsonl", b'{"text": "ok"}\n{"text": \n', 2, "", "not valid JSON"),
    "truncated": ("a.jsonl", b'{"text": "ok"}\n{"text": "cut off', 2, "", "not valid JSON"),
    "missing_text": ("a.jsonl", b'{"id": "x"}\n', 1, "text", "required"),
    "text_wrong_type": ("a.jsonl", b'{"text": ["a"]}\n', 1, "text", "expected a string"),
    "empty_text": ("a.jsonl", b'{"text": "   "}\n', 1, "text", "empty"),
    "span_out_of_range": ("a.jsonl", json.dumps({"text": "abc", "entities": [{"start": 1, "end": 9, "label": "x"}]}).encode(),
                          1, "entities[0]", "not inside the text"),
    "span_negative": ("a.jsonl", json.dumps({"text": "abc", "entities": [{"start": -1, "end": 2, "label": "x"}]}).encode(),
                      1, "entities[0]", "not inside the text"),
    "span_not_on_text": ("a.jsonl", json.dumps({"text": "abc", "entities": [{"start": 0, "end": 2, "label": "x", "text": "bc"}]}).encode(),
                         1, "entities[0].text", "text[0:2]"),
    "span_float_offset": ("a.jsonl", json.dumps({"text": "abc", "entities": [{"start": 0.5, "end": 2, "label": "x"}]}).encode(),
                          1, "entities[0].start", "integer"),
    "intents_wrong_type": ("a.jsonl", b'{"text": "a", "intents": {"x": 1}}\n', 1, "intents", "list"),
    "bad_speaker": ("a.jsonl", b'{"text": "a", "context": [{"speaker": "bot", "text": "hi"}]}\n', 1, "context[0].speaker", "user"),
    "bad_aligned": ("a.jsonl", b'{"text": "a", "aligned": "maybe"}\n', 1, "aligned", "true, false"),
    "not_an_object": ("a.jsonl", b'["text"]\n', 1, "", "JSON object"),
    "huge_line": ("a.jsonl", b'{"text": "' + b"x" * (10 * 1024 * 1024) + b'"}\n', 1, "", "over the"),
    "same_id_other_content": ("a.jsonl", b'{"id": "1", "text": "a"}\n{"id": "1", "text": "b"}\n', 2, "id", "used again"),
    "conversation_bad_turn": ("a.jsonl", b'{"conversation_id": "c", "turns": [{"speaker": "user", "text": 3}]}\n', 1, "turns[0].text", "string"),
    "csv_no_text_column": ("a.csv", b"id,utterance\n1,hello\n", 1, "text", "no 'text' column"),
    "csv_bad_json_cell": ("a.csv", b'text,entities\nhello,"[{""start"": 0,"\n', 2, "entities", "JSON"),
    "csv_extra_cells": ("a.csv", b"text,sentiment\nhello,neutral,extra\n", 2, "", "cells"),
    "csv_bad_turn_index": ("a.csv", b"text,turn_index\nhello,two\n", 2, "turn_index", "integer"),
    "parquet_corrupt": ("a.parquet", b"PAR1 this is not parquet", 0, "", "Parquet"),
    "unknown_extension": ("a.xml", b"<x/>", 0, "", "extension"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_changes_nothing_and_names_file_line_field(db, tmp_path, case):
    jsonl(tmp_path / "good.jsonl", GOOD)
    assert importer.import_files(db, [tmp_path / "good.jsonl"]).ok
    before = snapshot(db)
    name, data, line, field, words = BAD_INPUTS[case]
    bad = tmp_path / name
    bad.write_bytes(data)
    other = jsonl(tmp_path / "other.jsonl", {"text": "a fine turn that must not sneak in"})
    report = importer.import_files(db, [other, bad])
    assert not report.ok
    assert snapshot(db) == before
    problem = report.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(bad), line, field), problem
    assert words in problem.message, problem.message
    assert str(bad) in report.summary() and "nothing was imported" in report.summary()


def test_strict_schema_rejects_unknown_labels(db, tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text("intents: [refund]\nentities: [order_id]\n")
    from store import labels

    labels.load_schema_yaml(db, "default", schema)
    path = jsonl(tmp_path / "x.jsonl", GOOD, {"text": "hello", "intents": ["greet"]})
    report = importer.import_files(db, [path], strict_schema=True)
    assert [(p.line, p.field) for p in report.problems] == [(2, "intents")]
    assert "greet" in report.problems[0].message
    assert db.query_one("SELECT count(*) FROM turns")[0] == 0


def test_many_errors_are_all_collected_and_the_summary_counts_the_rest(db, tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text("".join('{"id": %d}\n' % i for i in range(50)))
    report = importer.import_files(db, [path])
    assert len(report.problems) == 50
    summary = report.summary(max_problems=5)
    assert "... and 45 more problem(s)" in summary
    assert f"{path}:1: text: is required" in summary


def test_utf8_bom_is_accepted(db, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert importer.import_files(db, [path]).n_turns == 1


def test_reimport_is_idempotent_and_duplicates_are_reported(db, tmp_path):
    path = jsonl(tmp_path / "x.jsonl", GOOD, {"text": "hello"}, {"text": "hello"})
    first = importer.import_files(db, [path])
    assert (first.n_turns, first.n_duplicates) == (2, 1)
    again = importer.import_files(db, [path])
    assert again.ok and (again.n_turns, again.n_duplicates) == (0, 3)
    assert db.query_one("SELECT count(*) FROM turns")[0] == 2
    assert db.query_one("SELECT count(*) FROM imported_labels")[0] == 1


def test_id_reused_with_other_content_across_imports_is_an_error(db, tmp_path):
    assert importer.import_files(db, [jsonl(tmp_path / "a.jsonl", GOOD)]).ok
    changed = dict(GOOD, text="refund order 99999")
    report = importer.import_files(db, [jsonl(tmp_path / "b.jsonl", changed)])
    assert not report.ok and report.problems[0].field == "id"
    assert "already in the database" in report.problems[0].message


def test_code_point_offsets_survive_import_with_cjk_and_emoji(db, tmp_path):
    text = "退款 🙂 订单12345"
    spans = [{"start": 0, "end": 2, "label": "action"}, {"start": 5, "end": 7, "label": "thing"},
             {"start": 7, "end": 12, "label": "order_id"}]
    assert [text[s["start"]:s["end"]] for s in spans] == ["退款", "订单", "12345"]
    jsonl(tmp_path / "zh.jsonl", {"id": "z", "text": text, "intents": ["refund"], "entities": spans})
    assert importer.import_files(db, [tmp_path / "zh.jsonl"]).ok
    row = effective_labels(db).iloc[0]
    stored = sorted((s["start"], s["end"], s["label"]) for s in row["entities"])
    assert stored == sorted((s["start"], s["end"], s["label"]) for s in spans)
    assert [row["text"][s:e] for s, e, _ in stored] == ["退款", "订单", "12345"]


def test_conversation_level_jsonl_expands_to_user_turns_with_responses(db, tmp_path):
    conv = {"conversation_id": "c9", "turns": [
        {"speaker": "user", "text": "hi", "intents": ["greet"]},
        {"speaker": "assistant", "text": "hello!"},
        {"speaker": "user", "text": "track 42", "entities": [{"start": 6, "end": 8, "label": "order_id"}]},
        {"speaker": "assistant", "text": "it ships today"},
        {"speaker": "user", "text": "thanks"}]}
    assert importer.import_files(db, [jsonl(tmp_path / "conv.jsonl", conv)]).n_turns == 3
    rows = db.query_dicts("SELECT turn_id, turn_index, response, len(context) AS n FROM turns ORDER BY turn_index")
    assert [(r["turn_index"], r["response"], r["n"]) for r in rows] == [(0, "hello!", 0), (2, "it ships today", 2), (4, None, 4)]


def test_csv_and_parquet_carry_the_same_columns(db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = tmp_path / "t.csv"
    csv.write_text('id,text,intents,entities,sentiment\n'
                   'c1,"退款 🙂 订单12345","[""refund""]","[{""start"": 7, ""end"": 12, ""label"": ""order_id""}]",negative\n',
                   encoding="utf-8")
    pq.write_table(pa.table({"id": ["p1"], "text": ["where is 777"], "intents": [["track"]],
                             "entities": ['[{"start": 9, "end": 12, "label": "order_id"}]']}), tmp_path / "t.parquet")
    report = importer.import_files(db, [csv, tmp_path / "t.parquet"])
    assert report.ok, report.summary()
    labels = effective_labels(db).set_index("turn_id")
    assert labels.loc["c1", "entities"] == [{"start": 7, "end": 12, "label": "order_id"}]
    assert labels.loc["p1", "intents"] == ["track"]


def test_labels_as_suggestions_are_kept_apart_from_gold(db, tmp_path):
    from store import turns

    report = importer.import_files(db, [jsonl(tmp_path / "s.jsonl", GOOD)], labels="suggestions")
    assert report.ok
    assert effective_labels(db).empty
    assert turns.get_turn(db, "g1")["suggestion"]["intents"] == ["refund"]
