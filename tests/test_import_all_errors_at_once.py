"""One import run reports every problem of a file, in line order, so a user fixes the file in one pass.

The duplicate-id check (and the checks against the database: an id stored with other content, a label
that looks like a typo of a known one) used to run only once every line had passed its own checks: a
file with a bad span on line 4 and a reused id on line 5 reported line 4, and line 5 only on the next
run. Nothing is imported while any problem remains.
"""
from __future__ import annotations

import json

from store import importer
from workbench.cli import main

CHINESE = "退款 🙂 订单"    # 7 code points: the emoji is one, although a browser counts it as two


def _jsonl(path, records: list[dict]):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _four_problem_file(path):
    """Lines 4-7 hold the four problems of the bug report; lines 1-3 are fine."""
    return _jsonl(path, [
        {"id": "a1", "text": "hello", "sentiment": "neutral"},
        {"id": "b1", "text": "where is my order", "intents": ["track_order"]},
        {"id": CHINESE, "text": CHINESE, "intents": ["refund"]},
        {"id": "d1", "text": CHINESE, "entities": [{"start": 5, "end": 8, "label": "order_id"}]},
        {"id": "b1", "text": "cancel it please"},
        {"id": "f1", "text": "two", "turn_index": "two"},
        {"id": "g1", "text": "bad mood", "sentiment": 5},
        {"id": CHINESE, "text": "另一个 🙂"},
    ])


def _count_turns(db) -> int:
    return db.query_one("SELECT count(*) FROM turns")[0]


def test_every_problem_is_reported_in_one_run_in_line_order(db, tmp_path):
    path = _four_problem_file(tmp_path / "in.jsonl")
    report = importer.import_files(db, [path])
    assert not report.ok
    assert [(p.line, p.field) for p in report.problems] == [
        (4, "entities[0]"), (5, "id"), (6, "turn_index"), (7, "sentiment"), (8, "id")]
    assert "used again with other content (first at" in report.problems[1].message
    assert f"{path}:2" in report.problems[1].message
    assert f"'{CHINESE}'" in report.problems[4].message and "\\u" not in report.summary()
    assert "length 7 code points" in report.problems[0].message
    assert _count_turns(db) == 0 and report.n_turns == 0


def test_the_cli_prints_them_all_and_imports_nothing(tmp_path, capsys):
    path = _four_problem_file(tmp_path / "in.jsonl")
    db_path = str(tmp_path / "cli.duckdb")
    assert main(["import", str(path), "--db", db_path]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"{path}:")]
    assert [int(line.split(":")[1]) for line in lines] == [4, 5, 6, 7, 8]
    assert CHINESE in lines[4] and "\\U0001f642" not in lines[4]


def test_a_line_with_an_invalid_id_is_reported_once_and_breaks_no_check(db, tmp_path):
    path = _jsonl(tmp_path / "in.jsonl", [
        {"id": "b1", "text": "first"},
        {"id": True, "text": "first"},
        {"id": "b1", "text": "other"},
        {"id": ["b1"], "text": "other again"},
    ])
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(2, "id"), (3, "id"), (4, "id")]
    assert "used again" in report.problems[1].message
    assert _count_turns(db) == 0


def test_database_checks_run_beside_line_problems(db, tmp_path):
    """An id the database holds with other content, and a likely label typo, are reported with the rest."""
    assert importer.import_files(db, [_jsonl(tmp_path / "first.jsonl", [
        {"id": "s1", "text": "stored", "intents": ["track_order"]}])]).ok
    path = _jsonl(tmp_path / "second.jsonl", [
        {"id": "n1", "text": "fine"},
        {"id": "s1", "text": "not what was stored"},
        {"id": "n3", "text": "x", "turn_index": "two"},
        {"id": "n4", "text": "where", "intents": ["trak_order"]},
    ])
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(2, "id"), (3, "turn_index"), (4, "intents")]
    assert "already in the database with other content" in report.problems[0].message
    assert _count_turns(db) == 1
    assert db.query_one("SELECT count(*) FROM projects")[0] == 1


def test_problems_keep_the_order_of_the_files_given(db, tmp_path):
    second = _jsonl(tmp_path / "b.jsonl", [{"id": "x", "text": "one"}, {"id": "x", "text": "two"}])
    first = _jsonl(tmp_path / "a.jsonl", [{"text": "ok"}, {"text": 3}])
    report = importer.import_files(db, [second, first])
    assert [(p.file, p.line) for p in report.problems] == [(str(second), 2), (str(first), 2)]
