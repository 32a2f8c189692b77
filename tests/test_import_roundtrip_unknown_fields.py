"""A field the importer does not know is never ignored silently.

``{"text": ..., "intnets": [...], "sentimnet": ...}`` used to import as an unlabelled turn without a
word. A key that looks like a typo of a Concord field is an error naming file, line and field with
"did you mean ...?"; any other unknown key is kept under ``meta`` and the import warns about it.
"""
import json

import pytest

from store import importer


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path, *records):
    return _write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _turns(db):
    return db.query_one("SELECT count(*) FROM turns")[0]


def _meta(db, turn_id):
    return json.loads(db.query_one("SELECT meta FROM turns WHERE turn_id = ?", [turn_id])[0])


def test_misspelled_label_fields_are_errors_that_suggest_the_field(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", {"text": "fine"},
                  {"text": "typo field test", "intnets": ["greeting"], "sentimnet": "neutral"})
    report = importer.import_files(db, [path])
    assert not report.ok and _turns(db) == 0
    found = {(p.file, p.line, p.field): p.message for p in report.problems}
    assert "did you mean 'intents'?" in found[(str(path), 2, "intnets")]
    assert "did you mean 'sentiment'?" in found[(str(path), 2, "sentimnet")]
    assert "a.jsonl:2: intnets:" in report.summary()


@pytest.mark.parametrize("key, meant", [("Text", "text"), ("respone", "response"), ("alligned", "aligned"),
                                        ("conversationId", "conversation_id"), ("corected_response", "corrected_response"),
                                        ("entites", "entities")])
def test_other_look_alikes_of_known_fields(db, tmp_path, key, meant):
    path = _jsonl(tmp_path / "a.jsonl", {"text": "hello", key: "x"} if key != "Text" else {"Text": "hello"})
    report = importer.import_files(db, [path])
    assert not report.ok and report.problems[0].field == key, report.summary()
    assert f"did you mean '{meant}'?" in report.problems[0].message


def test_a_csv_header_typo_is_reported_once_on_line_1(db, tmp_path):
    path = _write(tmp_path / "a.csv", "text,intnets\nhello,greeting\nbye,goodbye\n")
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(1, "intnets")], report.summary()
    assert "did you mean 'intents'?" in report.problems[0].message and _turns(db) == 0


def test_a_typo_inside_a_conversation_names_the_turn(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", {"conversation_id": "c", "turns": [
        {"speaker": "user", "text": "hi", "intnets": ["greeting"]}, {"speaker": "assistant", "text": "hello"}]})
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(1, "turns[0].intnets")], report.summary()


def test_other_unknown_fields_are_kept_under_meta_and_reported(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl",
                  {"id": "t1", "text": "hello", "source": "crm", "turn_id": "x-1", "meta": {"channel": "web"}},
                  {"id": "t2", "text": "bye", "source": "chat", "response_id": 7})
    report = importer.import_files(db, [path])
    assert report.ok, report.summary()
    assert _meta(db, "t1") == {"channel": "web", "source": "crm", "turn_id": "x-1"}
    assert _meta(db, "t2") == {"source": "chat", "response_id": 7}
    warning = " ".join(report.warnings)
    assert "meta" in warning and "'source' (2 records)" in warning and "'response_id' (1 record)" in warning


def test_unknown_csv_columns_are_kept_without_their_blank_cells(db, tmp_path):
    path = _write(tmp_path / "a.csv", "id,text,notes\nt1,hello,call back\nt2,bye,\n")
    report = importer.import_files(db, [path])
    assert report.ok and _meta(db, "t1") == {"notes": "call back"} and _meta(db, "t2") == {}
    assert any("'notes' (1 record)" in w for w in report.warnings), report.warnings


def test_an_unknown_field_that_meta_already_holds_differently_is_an_error(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", {"text": "hello", "source": "crm", "meta": {"source": "web"}})
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(1, "source")] and "meta" in report.problems[0].message


def test_unknown_conversation_level_fields_are_reported_as_not_imported(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", {"conversation_id": "c", "services": ["Hotels_1"], "turns": [
        {"speaker": "user", "text": "hi", "frame": {"x": 1}}, {"speaker": "assistant", "text": "hello"}]})
    report = importer.import_files(db, [path])
    assert report.ok, report.summary()
    assert _meta(db, "c:0") == {"frame": {"x": 1}}
    assert any("'services'" in w and "not imported" in w for w in report.warnings), report.warnings


def test_known_fields_only_give_no_warning(db, tmp_path):
    path = _jsonl(tmp_path / "a.jsonl", {"id": "t", "text": "hi", "response": "hello", "aligned": False,
                                         "corrected_response": "Hello!", "meta": {"k": 1}})
    report = importer.import_files(db, [path])
    assert report.ok and report.warnings == []
