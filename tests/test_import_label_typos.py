"""Import: an unknown label that looks like a typo of a known one is refused, not added beside it.

"trak_order" next to "track_order" would split one intent into two classes without a word; the
reviewer's import of such a file said "new intent labels: trak_order" and exited 0.
"""
import json

from store import importer
from store.labels import get_schema


def _write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _schema(db):
    return get_schema(db, "default")


def _seed(db, tmp_path):
    first = _write(tmp_path / "first.jsonl", [
        {"text": "where is my parcel", "intents": ["track_order"], "sentiment": "neutral",
         "entities": [{"start": 0, "end": 5, "label": "product"}]}])
    assert importer.import_files(db, [first]).ok


def test_a_typo_of_a_known_intent_is_refused_with_file_line_and_the_known_name(db, tmp_path):
    _seed(db, tmp_path)
    path = _write(tmp_path / "second.jsonl", [{"text": "refund please", "intents": ["refund"]},
                                               {"text": "where is it", "intents": ["trak_order"]}])
    report = importer.import_files(db, [path])
    assert [(p.line, p.field) for p in report.problems] == [(2, "intents")]
    assert "'trak_order'" in report.problems[0].message and "'track_order'" in report.problems[0].message
    assert "--extend-schema" in report.problems[0].message
    assert "refund" not in _schema(db)["intents"], "nothing half-imported: the genuinely new intent waits too"


def test_case_and_separator_variants_and_slips_are_look_alikes(db, tmp_path):
    _seed(db, tmp_path)
    records = [{"text": f"t{i}", "intents": [name]} for i, name in enumerate(["Track_Order", "track-order", "trakc_order"])]
    records.append({"text": "t9", "sentiment": "Neutral"})
    records.append({"text": "t8", "entities": [{"start": 0, "end": 2, "label": "products"}]})
    report = importer.import_files(db, [_write(tmp_path / "v.jsonl", records)])
    assert [p.field for p in report.problems] == ["intents", "intents", "intents", "sentiment", "entities"]


def test_distinct_labels_that_share_most_letters_still_extend_the_schema(db, tmp_path):
    """SGD has appointment_date and appointment_time: similar, both real."""
    first = _write(tmp_path / "a.jsonl", [{"text": "when", "entities": [{"start": 0, "end": 4, "label": "appointment_date"}]}])
    assert importer.import_files(db, [first]).ok
    second = _write(tmp_path / "b.jsonl", [{"text": "what time", "entities": [{"start": 5, "end": 9, "label": "appointment_time"}]},
                                           {"text": "cancel it", "intents": ["cancel_order"]}])
    report = importer.import_files(db, [second])
    assert report.ok, report.problems
    assert "appointment_time" in _schema(db)["entities"] and "cancel_order" in _schema(db)["intents"]


def test_extend_schema_adds_a_look_alike_and_strict_refuses_every_unknown_label(db, tmp_path):
    _seed(db, tmp_path)
    path = _write(tmp_path / "c.jsonl", [{"text": "where is it", "intents": ["trak_order"]}])
    strict = importer.import_files(db, [_write(tmp_path / "d.jsonl", [{"text": "refund", "intents": ["refund"]}])],
                                   strict_schema=True)
    assert [p.field for p in strict.problems] == ["intents"] and "--strict-schema" in strict.problems[0].message
    assert importer.import_files(db, [path], strict_schema="extend").ok
    assert "trak_order" in _schema(db)["intents"]
