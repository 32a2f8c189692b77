"""Imported entity spans lose the whitespace at their edges, as the browser's span selector trims a selection.

An annotator who selects " 4" or "people " stores "4" and "people" (``TextModel.trimmed``), but an import
stored the span as it came, so the same entity had two shapes depending on where it was labelled. Now
every reader trims it (Unicode whitespace, whole characters), and the import report warns with file,
line and field; a span of nothing but whitespace is an error naming them, and nothing is imported.
Offsets are code points: the Chinese and emoji text checks they survive the trim.
"""
import json

from store import importer

BOOKING = "book a table for 4 people tonight"
FAMILY = "👨‍👩‍👧 订 明晚7点\u3000两位"      # five code points of emoji, then an ideographic space before 两位


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _stored(db, turn_id) -> list[tuple[int, int, str]]:
    spans = db.query_one("SELECT entities FROM imported_labels WHERE turn_id = ?", [turn_id])[0]
    return [(s["start"], s["end"], s["label"]) for s in spans]


def _turns(db) -> int:
    return db.query_one("SELECT count(*) FROM turns")[0]


def test_edge_whitespace_is_trimmed_and_reported_with_file_line_and_field(db, tmp_path):
    path = _jsonl(tmp_path / "in.jsonl", [
        {"id": "plain", "text": "hello there"},
        {"id": "book", "text": BOOKING, "entities": [{"start": 19, "end": 26, "label": "unit"},     # "people "
                                                     {"start": 16, "end": 18, "label": "party"}]},  # " 4"
        {"id": "zh", "text": FAMILY, "entities": [{"start": 7, "end": 13, "label": "time"},          # " 明晚7点\u3000"
                                                  {"start": 0, "end": 5, "label": "party"}]},
    ])
    report = importer.import_files(db, [path])
    assert report.ok, report.summary()
    assert _stored(db, "book") == [(17, 18, "party"), (19, 25, "unit")]
    assert _stored(db, "zh") == [(0, 5, "party"), (8, 12, "time")] and FAMILY[8:12] == "明晚7点"
    warning = next(w for w in report.warnings if "whitespace" in w)
    assert warning.startswith("3 entity span(s) had whitespace at an edge, which was trimmed: ")
    assert f"{path}:2: entities[0]: unit [19, 26) 'people ' imported as [19, 25)" in warning   # the file's order
    assert f"{path}:2: entities[1]: party [16, 18) ' 4' imported as [17, 18)" in warning
    assert f"{path}:3: entities[0]: time [7, 13) ' 明晚7点\u3000' imported as [8, 12)" in warning


def test_a_span_of_only_whitespace_is_an_error_and_nothing_is_imported(db, tmp_path):
    path = _jsonl(tmp_path / "in.jsonl", [
        {"id": "book", "text": BOOKING, "entities": [{"start": 16, "end": 18, "label": "party"}]},
        {"id": "zh", "text": FAMILY, "entities": [{"start": 0, "end": 5, "label": "party"},
                                                  {"start": 12, "end": 13, "label": "time"}]},   # the U+3000 alone
    ])
    report = importer.import_files(db, [path])
    assert [(p.file, p.line, p.field) for p in report.problems] == [(str(path), 2, "entities[1]")], report.summary()
    assert "only whitespace" in report.problems[0].message and "[12, 13)" in report.problems[0].message
    assert _turns(db) == 0 and "in.jsonl:2: entities[1]:" in report.summary()


def test_other_formats_trim_too(db, tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"text": FAMILY, "label": [[5, 12, "time"]], "cats": ["book_room"]}])
    report = importer.import_files(db, [path], fmt="doccano")
    assert report.ok, report.summary()
    spans = db.query_one("SELECT entities FROM imported_labels")[0]
    assert [(s["start"], s["end"]) for s in spans] == [(6, 12)] and FAMILY[6:12] == "订 明晚7点"
    assert any(f"{path}:1: entities[0]: time [5, 12) ' 订 明晚7点' imported as [6, 12)" in w for w in report.warnings)


def test_a_space_that_carries_a_combining_mark_is_one_character_and_stays(db, tmp_path):
    text = "x \u0301y"        # " \u0301" is one grapheme cluster: the span selector keeps it whole
    path = _jsonl(tmp_path / "in.jsonl", [{"id": "t", "text": text, "entities": [{"start": 1, "end": 4, "label": "a"}]}])
    report = importer.import_files(db, [path])
    assert report.ok and not any("whitespace" in w for w in report.warnings), report.summary()
    assert _stored(db, "t") == [(1, 4, "a")]
