"""The Import page's problem list: whole messages, real characters, advice that matches the uploader.

A reviewer saw the problem table cut every message off mid-sentence, a family emoji shown as
'👨\\u200d👩\\u200d👧' (repr's escapes), and "upload the files again" while the file was still in the
uploader (it is emptied only after an import succeeds).
"""
from __future__ import annotations

import json

from app_testkit import texts
from store.importer import ImportReport
from store.records import Problem
import test_admin_import_page as page_tests
from workbench.views.admin_import import problem_lines

template, app_db = page_tests.template, page_tests.app_db      # the page tests' fixtures: a seeded database copy
import_page, upload_and_import = page_tests.import_page, page_tests.upload_and_import

FAMILY = "👨\u200d👩\u200d👧"                              # five code points, one character on screen
TEXT = f"Trip for {FAMILY} to Dublin, two nights"
CUT = {"id": "fam-1", "text": TEXT, "entities": [{"start": 9, "end": 11, "label": "party"}]}   # half the family


def bad_file() -> bytes:
    return (json.dumps(CUT, ensure_ascii=False) + "\n").encode("utf-8")


def test_problems_are_shown_whole_with_their_characters_and_the_advice_fits_the_uploader(app_db):
    at = upload_and_import(import_page(), [("bad.jsonl", bad_file())])
    shown = texts(at)
    lines = [t.value for t in at.text if "bad.jsonl:1" in t.value]
    assert lines, shown
    message = lines[0]
    assert f"'{FAMILY}'" in message and "\\u200d" not in shown          # the emoji as itself, nowhere escaped
    assert message.endswith("a span starts and ends between whole characters")   # not cut off
    assert "upload the files again" not in shown
    assert "replace the files in the uploader above" in shown
    assert [f.name for f in at.file_uploader(key="import_files_0").value] == ["bad.jsonl"]   # still there
    tables = [df.value for df in at.dataframe if "message" in df.value.columns]
    assert tables and tables[0]["message"].tolist() == [message.split("entities[0].end: ", 1)[1]]


def test_a_long_list_is_cut_to_a_count_that_points_at_the_table():
    report = ImportReport(import_id="i1", files=["many.jsonl"],
                          problems=[Problem("many.jsonl", n, "entities[0].end", f"problem {n}") for n in (1, 2, 3)])
    assert problem_lines(report, limit=2).splitlines() == [
        "many.jsonl:1: entities[0].end: problem 1", "many.jsonl:2: entities[0].end: problem 2",
        "... and 1 more (all of them in the table below)"]


def test_a_control_character_in_a_cut_cluster_stays_escaped():
    """A CR LF is one grapheme cluster: the message must not break its line."""
    from store.records import RecordError, normalize_turn

    try:
        normalize_turn({"id": "t", "text": "a\r\nb", "entities": [{"start": 0, "end": 2, "label": "x"}]})
    except RecordError as exc:
        assert "'\\r\\n'" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("a span ending inside CR LF was accepted")
