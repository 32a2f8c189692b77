"""The admin Import page: importing files in the browser while the workbench holds the database.

It must import exactly as ``concord import`` does (all or nothing, code-point spans intact), name
problems by the uploaded file's own name (not the temporary copy the page imports from), let the
other pages see the new turns and labels at once, queue a retrain when gold labels came in, and be
closed to annotators and analysts.
"""
from __future__ import annotations

import json

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import labels
from workbench import runtime

ZH_TEXT = "我要退款 😤 订单98765"
EMOJI_TEXT = "🚚🚚 where is parcel 4411?"
GOOD_TURNS = [
    {"id": "imp-zh", "conversation_id": "ic1", "text": ZH_TEXT, "response": "好的 🙂",
     "intents": ["refund_request"], "entities": [{"start": 9, "end": 14, "label": "order_id"}],
     "sentiment": "negative"},
    {"id": "imp-emoji", "conversation_id": "ic2", "text": EMOJI_TEXT, "response": "Tomorrow.",
     "intents": ["track_order"], "entities": [{"start": 19, "end": 23, "label": "order_id"}],
     "sentiment": "neutral"},
]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


BROKEN_LINE_2 = (json.dumps({"id": "bad-1", "text": "fine line"}) + "\n"
                 + '{"id": "bad-2", "text": "no closing brace"\n'
                 + json.dumps({"id": "bad-3", "text": "another fine line"}) + "\n").encode("utf-8")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("import-page-template"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def import_page():
    at = signed_in("boss").switch_page("views/admin_import.py").run()
    assert not at.exception, at.exception
    return at


def upload_and_import(at, files: list[tuple[str, bytes]]):
    at.file_uploader(key="import_files_0").set_value([(name, data, "application/octet-stream")
                                                      for name, data in files])
    at.run()
    at.button(key="import_run").click()
    at.run()
    assert not at.exception, at.exception
    return at


def turn_count(db) -> int:
    return db.query_one("SELECT count(*) FROM turns")[0]


def queued_fast_runs(db) -> int:
    return db.query_one("SELECT count(*) FROM model_runs WHERE kind = 'fast' AND status = 'queued'")[0]


def test_a_good_jsonl_with_chinese_emoji_and_spans_imports_with_code_point_offsets(app_db):
    assert ZH_TEXT[9:14] == "98765" and EMOJI_TEXT[19:23] == "4411"
    stale_schema = runtime.cached(("schema", app_db.path, "default"), 60.0,
                                  lambda: labels.get_schema(app_db, "default"))   # what the label page holds
    assert "refund_request" not in stale_schema["intents"]
    before = turn_count(app_db)
    at = upload_and_import(import_page(), [("dialogs.jsonl", jsonl(GOOD_TURNS))])
    shown = texts(at)
    assert "imported 2 turn(s) from 1 file(s)" in shown
    assert "retrain is queued" in shown
    assert turn_count(app_db) == before + 2
    stored = dict(app_db.query("SELECT t.text, l.entities FROM turns t JOIN imported_labels l USING (turn_id) "
                               "WHERE l.role = 'gold' AND t.turn_id IN ('imp-zh', 'imp-emoji')"))
    assert [ZH_TEXT[s["start"]:s["end"]] for s in stored[ZH_TEXT]] == ["98765"]
    assert [EMOJI_TEXT[s["start"]:s["end"]] for s in stored[EMOJI_TEXT]] == ["4411"]
    assert app_db.query_one("SELECT imported_by FROM imports ORDER BY imported_at DESC LIMIT 1")[0] == "boss"
    new_labels = [df.value for df in at.dataframe if "label" in df.value.columns]
    assert new_labels and list(new_labels[0]["label"]) == ["refund_request"]
    schema_now = runtime.cached(("schema", app_db.path, "default"), 60.0, lambda: labels.get_schema(app_db, "default"))
    assert "refund_request" in schema_now["intents"]        # the cached schema was dropped, not served stale
    assert queued_fast_runs(app_db) == 1                     # gold labels came in: the worker is asked to retrain
    assert at.file_uploader(key="import_files_1").value in (None, [])   # the uploader is emptied


def test_a_file_broken_at_line_2_imports_nothing_and_names_the_uploaded_file(app_db):
    before = turn_count(app_db)
    at = upload_and_import(import_page(), [("good.jsonl", jsonl(GOOD_TURNS)), ("dialogs.jsonl", BROKEN_LINE_2)])
    shown = texts(at)
    assert "Nothing was imported: 1 problem(s) in 2 file(s)" in shown
    problems = [df.value for df in at.dataframe if "message" in df.value.columns]
    assert problems, shown
    rows = problems[0].to_dict("records")
    assert [(r["file"], r["line"]) for r in rows] == [("dialogs.jsonl", 2)]
    assert "concord-import-" not in shown + problems[0].to_string()     # no temporary path leaks out
    assert turn_count(app_db) == before                     # not even the good file's turns
    assert queued_fast_runs(app_db) == 0


def test_the_import_function_names_problems_as_uploaded(app_db):
    from workbench.views.admin_import import import_uploads

    report = import_uploads(app_db, [("../dialogs.jsonl", BROKEN_LINE_2)], project="default", imported_by="boss")
    assert not report.ok
    assert [str(p).split(": ")[0] for p in report.problems] == ["dialogs.jsonl:2"]
    assert report.files == ["dialogs.jsonl"]


def test_two_uploads_of_the_same_name_are_both_imported(app_db):
    from workbench.views.admin_import import import_uploads

    first, second = [GOOD_TURNS[0]], [GOOD_TURNS[1]]
    report = import_uploads(app_db, [("part.jsonl", jsonl(first)), ("part.jsonl", jsonl(second))],
                            project="default", labels="suggestions", imported_by="boss")
    assert report.ok, report.summary()
    assert report.n_turns == 2


@pytest.mark.parametrize("name, role", [("ann", "annotator"), ("ana", "analyst")])
def test_the_import_page_is_for_admins_only(app_db, monkeypatch, name, role):
    from test_app_urls import opened_at

    at = opened_at(signed_in(name), "import", monkeypatch)
    assert not at.exception, at.exception
    assert f"This page is for admins; you are signed in as {role}." in texts(at)
    assert len(at.file_uploader) == 0 and [b for b in at.button if b.key == "import_run"] == []


def test_a_likely_typo_is_refused_with_the_pages_advice_and_extend_adds_it(app_db):
    from workbench.views.admin_import import import_uploads

    typo = jsonl([{"id": "typo-1", "text": "where is my parcel", "intents": ["trak_order"]}])
    refused = import_uploads(app_db, [("typo.jsonl", typo)], project="default")
    assert [p.message for p in refused.problems][0].endswith("choose extend under Label schema to add it as a new intent")
    added = import_uploads(app_db, [("typo.jsonl", typo)], project="default", schema_mode="extend")
    assert added.ok and added.new_labels == {"intent": ["trak_order"]}
