"""An assistant turn's own fields in a conversation record are kept, not dropped without a word.

A user turn's unknown fields go under its ``meta`` (and the import says so); an assistant turn
becomes the ``response`` string of the user turn before it, and its other fields (the model that
wrote it, a dialog act) were dropped silently. They now go under that user turn's
``meta.response_meta``, reported like the user turns' ones; an assistant turn that answers no user
turn (an opening greeting) has no record to keep them on: they are reported as not imported, as
unknown conversation-level fields are.
"""
import json

from store import importer
from store.export import export

CONVERSATION = {"conversation_id": "c9", "turns": [
    {"speaker": "assistant", "text": "您好 👋 有什么可以帮您？", "model": "greeter-v1"},
    {"speaker": "user", "text": "退款 🙂 订单ORD-4577512", "channel": "app",
     "entities": [{"start": 7, "end": 18, "label": "order_id"}], "intents": ["return_item"]},
    {"speaker": "assistant", "text": "退款¥1,280将在收到退货后原路退回。", "model": "gpt-x", "latency_ms": 840,
     "meta": {"acts": ["INFORM"]}, "intents": None},
    {"speaker": "user", "text": "👨‍👩‍👧 好的，谢谢！"},
    {"speaker": "assistant", "text": "不客气！", "model": "gpt-x"},
]}


def _import(db, tmp_path, *records):
    path = tmp_path / "conv.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return importer.import_files(db, [path]), path


def _meta(db, turn_id):
    return json.loads(db.query_one("SELECT meta FROM turns WHERE turn_id = ?", [turn_id])[0])


def test_assistant_fields_are_kept_under_the_answered_turns_meta_and_reported(db, tmp_path):
    report, path = _import(db, tmp_path, CONVERSATION)
    assert report.ok, report.summary()
    assert _meta(db, "c9:1") == {"channel": "app",
                                 "response_meta": {"acts": ["INFORM"], "model": "gpt-x", "latency_ms": 840}}
    assert _meta(db, "c9:3") == {"response_meta": {"model": "gpt-x"}}
    warnings = " ".join(report.warnings)
    assert f"{path}: fields of assistant turns were kept under meta.response_meta" in warnings
    assert "'model' (2 turns)" in warnings and "'latency_ms' (1 turn)" in warnings and "'meta' (1 turn)" in warnings
    assert "answer no user turn" in warnings and "'model' (1 turn)" in warnings


def test_the_kept_fields_reach_the_native_export(db, tmp_path):
    assert _import(db, tmp_path, CONVERSATION)[0].ok
    export(db, tmp_path / "out", fmt="native")
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "data.jsonl").read_text(encoding="utf-8").splitlines())}
    assert rows["c9:1"]["meta"]["response_meta"]["model"] == "gpt-x"


def test_a_field_both_in_the_assistant_meta_and_beside_it_with_other_values_is_an_error(db, tmp_path):
    conversation = {"conversation_id": "c", "turns": [
        {"speaker": "user", "text": "hi 👋"},
        {"speaker": "assistant", "text": "Hello!", "model": "a", "meta": {"model": "b"}}]}
    report, path = _import(db, tmp_path, {"id": "x", "text": "fine"}, conversation)
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 2, "turns[1].model")], report.summary()
    assert db.query_one("SELECT count(*) FROM turns")[0] == 0


def test_a_plain_conversation_gives_no_warning(db, tmp_path):
    plain = {"conversation_id": "c", "turns": [{"speaker": "user", "text": "hi 👋"},
                                               {"speaker": "assistant", "text": "Hello!"}]}
    report, _ = _import(db, tmp_path, plain)
    assert report.ok and report.warnings == [] and _meta(db, "c:0") == {}
