"""The doccano reader keeps the keys it does not read as a field under the record's ``meta``.

doccano keeps any key of a JSONL line beyond text and labels as the example's metadata, and its own
export adds ``id`` and ``Comments``; the reader dropped all of them silently, while a native file's
unknown fields are kept under ``meta`` with a warning (``store.readers``). Now doccano's are kept the
same way, and a Concord doccano export that went through doccano and back still re-exports byte for
byte as it was (the doccano export writes meta without doccano's own keys). Texts are Chinese and
emoji, as in sample_data.
"""
import json

from store import Store, importer
from store.export import export
from test_import_edges_spans import sample_turns


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _meta(db, turn_id):
    return json.loads(db.query_one("SELECT meta FROM turns WHERE turn_id = ?", [turn_id])[0])


def test_unknown_doccano_keys_are_kept_under_meta_and_reported(db, tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [
        {"id": 17, "text": "退款 🙂 订单ORD-4577512", "label": [[7, 18, "order_id"]], "Comments": [],
         "source": "crm", "ticket": 4411},
        {"id": 18, "text": "👨‍👩‍👧 family room", "cats": ["book_room"], "meta": {"lang": "en"}, "source": "chat",
         "annotation_approver": None},
        {"turn_id": "t-9", "id": 19, "text": "hello", "cats": []},
    ])
    report = importer.import_files(db, [path], fmt="doccano")
    assert report.ok, report.summary()
    assert _meta(db, "17") == {"Comments": [], "source": "crm", "ticket": 4411}
    assert _meta(db, "18") == {"lang": "en", "source": "chat"}        # a null is dropped, as for native files
    assert _meta(db, "t-9") == {"id": 19}                             # doccano's own id when turn_id names the turn
    warning = next(w for w in report.warnings if "kept under meta" in w)
    assert str(path) in warning and "'source' (2 records)" in warning and "'ticket' (1 record)" in warning


def test_a_key_that_meta_already_holds_otherwise_is_an_error_and_nothing_is_imported(db, tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "好的，谢谢！", "cats": []},
                                         {"text": "退款 🙂", "cats": [], "meta": {"source": "crm"}, "source": "chat"}])
    report = importer.import_files(db, [path], fmt="doccano")
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 2, "source")], report.summary()
    assert db.query_one("SELECT count(*) FROM turns")[0] == 0


def test_a_round_trip_through_doccano_keeps_its_keys_and_re_exports_byte_identical(db, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", sample_turns("c001-0", "c001-2", "c002-2", "c003-0"))
    assert importer.import_files(db, [source]).ok
    export(db, tmp_path / "first", fmt="doccano")
    first = (tmp_path / "first" / "data.jsonl").read_bytes()
    through_doccano = [{"id": n, **row, "Comments": []}          # what doccano's export adds to each example
                       for n, row in enumerate(map(json.loads, first.decode("utf-8").splitlines()), start=1)]
    with Store(tmp_path / "copy.duckdb") as copy:
        report = importer.import_files(copy, [_jsonl(tmp_path / "back.jsonl", through_doccano)], fmt="doccano")
        assert report.ok, report.summary()
        assert _meta(copy, "c003-0") == {"domain": "travel", "lang": "en", "id": 4, "Comments": []}
        export(copy, tmp_path / "second", fmt="doccano")
    assert (tmp_path / "second" / "data.jsonl").read_bytes() == first
