"""Import: a field of the wrong type is a located problem, never a silently converted turn.

A JSONL line with ``"text": 12345`` used to import as the turn "12345" without a word; every typed
field is checked, with JSON's own types for JSONL and typed Parquet columns, and the string rules
of CSV cells (where "misaligned" or "1" is how a spreadsheet says a boolean).
"""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import importer

# (field value as a JSON fragment, the field the problem must name, words in its message)
WRONG_TYPES = {
    "text_number": ('{"text": 12345}', "text", "expected a string"),
    "response_number": ('{"text": "a", "response": 5}', "response", "expected a string"),
    "context_text_number": ('{"text": "a", "context": [{"speaker": "user", "text": 5}]}', "context[0].text", "string"),
    "conversation_id_float": ('{"text": "a", "conversation_id": 7.5}', "conversation_id", "string or an integer"),
    "id_list": ('{"text": "a", "id": [17]}', "id", "string or an integer"),
    "id_bool": ('{"text": "a", "id": true}', "id", "string or an integer"),
    "intent_item_number": ('{"text": "a", "intents": ["refund", 3]}', "intents[1]", "non-empty string"),
    "sentiment_number": ('{"text": "a", "sentiment": 2}', "sentiment", "expected a string"),
    "sentiment_list": ('{"text": "a", "sentiment": ["neutral"]}', "sentiment", "expected a string"),
    "aligned_yes": ('{"text": "a", "aligned": "yes"}', "aligned", "true, false"),
    "aligned_string_true": ('{"text": "a", "aligned": "true"}', "aligned", "true, false"),
    "aligned_number": ('{"text": "a", "aligned": 1}', "aligned", "true, false"),
    "meta_list": ('{"text": "a", "meta": []}', "meta", "expected an object"),
    "meta_string": ('{"text": "a", "meta": "x"}', "meta", "expected an object"),
    "meta_zero": ('{"text": "a", "meta": 0}', "meta", "expected an object"),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_jsonl_wrong_type_is_reported_as_file_line_field(db, tmp_path, case):
    line, field, words = WRONG_TYPES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a fine first turn"}\n' + line + "\n", encoding="utf-8")
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(2, field)], report.problems
    assert words in report.problems[0].message
    assert f"{path}:2: {field}: " in report.summary()
    assert db.query_one("SELECT count(*) FROM turns")[0] == 0


def test_a_file_of_only_a_number_text_imports_nothing(db, tmp_path):
    path = tmp_path / "only.jsonl"
    path.write_text('{"text": 12345}\n', encoding="utf-8")
    report = importer.import_files(db, [path])
    assert not report.ok and report.n_turns == 0
    assert "imported 1 turn" not in report.summary()
    assert f"{path}:1: text: expected a string, got int 12345" in report.summary()


def test_csv_cells_are_strings_so_digits_are_text_and_aligned_words_are_booleans(db, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("id,text,aligned\n17,12345,misaligned\n18,hello,TRUE\n19,bye,\n", encoding="utf-8")
    report = importer.import_files(db, [path])
    assert report.ok and report.n_turns == 3, report.problems
    assert "12345" in [row[0] for row in db.query("SELECT text FROM turns")]


def test_csv_aligned_yes_is_refused(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,aligned\nhello,yes\n", encoding="utf-8")
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(2, "aligned")]
    assert "'yes'" in report.problems[0].message


PARQUET_WRONG_TYPES = {
    "text_int_column": ({"text": pa.array([12345])}, "text"),
    "id_float_column": ({"text": pa.array(["a"]), "id": pa.array([17.5])}, "id"),
    "sentiment_int_column": ({"text": pa.array(["a"]), "sentiment": pa.array([2])}, "sentiment"),
    "aligned_yes_string_column": ({"text": pa.array(["a"]), "aligned": pa.array(["yes"])}, "aligned"),
}


@pytest.mark.parametrize("case", sorted(PARQUET_WRONG_TYPES))
def test_parquet_wrong_type_column_is_reported(db, tmp_path, case):
    columns, field = PARQUET_WRONG_TYPES[case]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(1, field)], report.problems


def test_parquet_string_aligned_column_reads_like_csv(db, tmp_path):
    path = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "aligned": ["aligned", "0", ""]}), path)
    report = importer.import_files(db, [path])
    assert report.ok and report.n_turns == 3, report.problems


def test_jsonl_booleans_still_import(db, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps({"text": "a", "aligned": False, "meta": {"k": 1}}) + "\n", encoding="utf-8")
    assert importer.import_files(db, [path]).ok


def test_integer_ids_import_as_their_decimal_text(db, tmp_path):
    """Other tools number their turns and conversations; 17 and "17" are the same id."""
    jsonl = tmp_path / "numbered.jsonl"
    jsonl.write_text('{"text": "a", "id": 17, "conversation_id": 3}\n{"text": "a", "id": "17", "conversation_id": "3"}\n', encoding="utf-8")
    parquet = tmp_path / "numbered.parquet"
    pq.write_table(pa.table({"text": ["c"], "id": pa.array([18], pa.int64()), "conversation_id": pa.array([3], pa.int32())}), parquet)
    report = importer.import_files(db, [jsonl, parquet])
    assert report.ok, report.problems
    rows = db.query("SELECT turn_id, conversation_id, text FROM turns ORDER BY turn_id")
    assert rows == [("17", "3", "a"), ("18", "3", "c")]
    assert report.n_duplicates == 1
