"""Imported entity spans: a span that cuts a grapheme cluster is an error, one inside a word a warning.

Only the browser's span selector kept spans on whole user-perceived characters; an import took
[0, 2) of "👨‍👩‍👧 Family trip" (half a ZWJ sequence) or "e" without its combining accent, which no
annotator can draw and every export shows as a broken character. Now that is an import error naming
file, line and field, and nothing is imported. A span that starts or ends inside a word ("Chengd" of
"Chengdu") is legal but usually a slip: it is imported and reported. Offsets are code points.
"""
import json
from pathlib import Path

import pytest

from store import importer
from store.formats import READERS

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "dialogs.jsonl"


def sample_turns(*ids: str) -> list[dict]:
    """The sample_data records with these ids, in this order."""
    by_id = {r["id"]: r for r in map(json.loads, SAMPLE.read_text(encoding="utf-8").splitlines())}
    return [json.loads(json.dumps(by_id[i])) for i in ids]


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _turns(db) -> int:
    return db.query_one("SELECT count(*) FROM turns")[0]


def _with_span(record: dict, start: int, end: int, label: str) -> dict:
    return {**record, "entities": record["entities"] + [{"start": start, "end": end, "label": label}]}


def test_the_sample_data_imports_without_span_warnings(db):
    report = importer.import_files(db, [SAMPLE])
    assert report.ok and not any("span" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize("start, end, edge, cluster", [
    (0, 2, "end", "👨\u200d👩\u200d👧"),       # half of the ZWJ family emoji (five code points)
    (2, 10, "start", "👨\u200d👩\u200d👧"),
])
def test_a_span_cutting_a_zwj_sequence_is_an_error_and_nothing_is_imported(db, tmp_path, start, end, edge, cluster):
    family, chinese = sample_turns("c003-0", "c001-0")
    assert family["text"].startswith(cluster)
    path = _jsonl(tmp_path / "in.jsonl", [chinese, _with_span(family, start, end, "party")])
    report = importer.import_files(db, [path])
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 2, f"entities[2].{edge}")]
    assert f"'{cluster}'" in report.problems[0].message and "[0, 5)" in report.problems[0].message
    assert _turns(db) == 0 and f"in.jsonl:2: entities[2].{edge}:" in report.summary()


def test_a_span_splitting_a_letter_from_its_combining_accent_is_an_error(db, tmp_path):
    text = "Zimmer im Cafe\u0301 Müller, 成都"          # "Café" written with U+0301
    path = _jsonl(tmp_path / "in.jsonl", [{"id": "t1", "text": text,
                                           "entities": [{"start": 10, "end": 14, "label": "place"}]}])
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(1, "entities[0].end")], report.summary()
    assert "'e\u0301'" in report.problems[0].message and _turns(db) == 0
    whole = _jsonl(tmp_path / "ok.jsonl", [{"id": "t1", "text": text,
                                            "entities": [{"start": 10, "end": 15, "label": "place"}]}])
    assert importer.import_files(db, [whole]).ok


def test_other_formats_refuse_a_cut_cluster_too(tmp_path):
    text = "退款 🙂 订单ORD-4577512 👍🏽"                # a thumbs-up with a skin-tone modifier: one cluster
    task = {"data": {"text": text}, "annotations": [{"result": [
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 20, "end": 21, "text": text[20:21], "labels": ["skin_tone"]}}]}]}   # the modifier alone
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    result = READERS["labelstudio"](path)
    assert [(p.line, p.field) for p in result.problems] == [(1, "entities[0].start")], result.problems


def test_spans_inside_words_are_imported_and_reported_with_file_and_line(db, tmp_path):
    turns = [{"id": f"t{i}", "text": f"I need a flight to Chengdu on Friday, trip {i}",
              "entities": [{"start": 19, "end": 25, "label": "city"}]} for i in range(7)]   # "Chengd"
    turns.append({"id": "ok", "text": "我想去成都旅游 on Friday", "entities": [{"start": 3, "end": 5, "label": "city"},
                                                                          {"start": 11, "end": 17, "label": "date"}]})
    chinese, family = sample_turns("c001-0", "c003-0")
    path = _jsonl(tmp_path / "in.jsonl", [chinese, _with_span(family, 39, 44, "city")] + turns)   # "ublin"
    report = importer.import_files(db, [path])
    assert report.ok and _turns(db) == 10, report.summary()
    warning = next(w for w in report.warnings if "inside a word" in w)
    assert warning.startswith("8 entity span(s)")
    assert f"{path}:2: city [39, 44) 'ublin'" in warning and f"{path}:3: city [19, 25) 'Chengd'" in warning
    assert "and 3 more" in warning and f"{path}:10:" not in warning
    stored = db.query_one("SELECT entities FROM imported_labels WHERE turn_id = 't0'")[0]
    assert [(s["start"], s["end"]) for s in stored] == [(19, 25)]


def test_no_span_warning_when_labels_are_ignored(db, tmp_path):
    path = _jsonl(tmp_path / "in.jsonl", [{"text": "fly to Chengdu", "entities": [{"start": 7, "end": 13, "label": "city"}]}])
    report = importer.import_files(db, [path], labels="ignore")
    assert report.ok and report.warnings == []
