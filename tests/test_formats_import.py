"""Reading other tools' files: located problems, Label Studio UTF-16 offsets, and `import_files(fmt=...)`."""
from __future__ import annotations

import json

import pytest

from store import annotations, importer
from store.formats import READERS, UNSPLIT, ExportOptions, write_format
from store.formats.labelstudio import utf16_to_code_points
from test_formats_common import CHINESE, sample_records


def _ls_task(text: str, start: int, end: int, quoted: str) -> dict:
    return {"id": 7, "data": {"text": text}, "annotations": [{"result": [
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": start, "end": end, "text": quoted, "labels": ["order_id"]}},
        {"from_name": "intent", "to_name": "text", "type": "choices", "value": {"choices": ["refund"]}}]}]}


def test_utf16_offsets_convert_to_code_points():
    text = "😀😀 ship"
    assert [utf16_to_code_points(text, u) for u in (0, 2, 4, 5, 9)] == [0, 1, 2, 3, 7]
    assert utf16_to_code_points(text, 1) is None  # inside a surrogate pair


def test_labelstudio_utf16_offsets_are_detected_fixed_and_warned(tmp_path):
    # "12345" is at code points 7..12 but UTF-16 units 8..13 (🙂 is two units).
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([_ls_task(CHINESE, 8, 13, "12345"), _ls_task(CHINESE, 7, 12, "12345")]), encoding="utf-8")
    result = READERS["labelstudio"](path)
    assert result.problems == []
    assert [r["entities"] for r in result.records] == [[{"start": 7, "end": 12, "label": "order_id"}]] * 2
    assert result.records[0]["intents"] == ["refund"] and result.records[0]["id"] == "7"
    assert len(result.warnings) == 1 and "UTF-16" in result.warnings[0].message and result.warnings[0].line == 1


def test_labelstudio_span_that_matches_nothing_is_a_located_problem(tmp_path):
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([_ls_task(CHINESE, 0, 2, "订单")]), encoding="utf-8")
    problem = READERS["labelstudio"](path).problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "tasks[0].annotations.result[0]")
    assert "'订单'" in problem.message


def test_labelstudio_takes_the_latest_kept_annotation(tmp_path):
    task = _ls_task("order 42", 6, 8, "42")
    later = {"created_at": "2024-05-02", "result": [{"from_name": "intent", "type": "choices", "value": {"choices": ["cancel"]}}]}
    cancelled = {"created_at": "2024-06-01", "was_cancelled": True, "result": []}
    task["annotations"][0]["created_at"] = "2024-05-01"
    task["annotations"] += [later, cancelled]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    assert READERS["labelstudio"](path).records[0]["intents"] == ["cancel"]


@pytest.mark.parametrize("fmt, content, line, field", [
    ("doccano", '{"text": "hi", "label": [[0, 9, "x"]]}\n', 1, "entities[0]"),
    ("doccano", '{"text": "hi"}\nnot json\n', 2, ""),
    ("conll", "# text = a b\na\tO\nb\tBOGUS\n", 3, "tag"),
    ("conll", "# text = x y\na\tO\n", 1, "text"),
    ("rasa", 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi [x]{"entity": }\n', 5, "examples"),
    ("rasa", "nlu: [\n", 2, ""),
    ("hf", '{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', 1, ""),
])
def test_readers_locate_problems(tmp_path, fmt, content, line, field):
    path = tmp_path / ("data.jsonl" if fmt in ("doccano", "hf") else f"data.{fmt}")
    path.write_text(content, encoding="utf-8")
    result = READERS[fmt](path)
    assert result.problems, result.records
    assert (result.problems[0].line, result.problems[0].field) == (line, field), result.problems[0]


def test_plain_conll2003_reads_with_docstart_and_four_columns(tmp_path):
    path = tmp_path / "eng.conll"
    path.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n", encoding="utf-8")
    result = READERS["conll"](path)
    assert result.problems == []
    assert result.records[0]["text"] == "EU rejects German"
    assert result.records[0]["entities"] == [{"start": 0, "end": 2, "label": "ORG"}, {"start": 11, "end": 17, "label": "MISC"}]


def test_doccano_reads_its_sequence_labelling_shape(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": 3, "text": "退款 订单", "entities": [
        {"id": 1, "label": "action", "start_offset": 0, "end_offset": 2}], "label": ["refund"]}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    record = READERS["doccano"](path).records[0]
    assert record["entities"] == [{"start": 0, "end": 2, "label": "action"}] and record["intents"] == ["refund"]


def test_hf_reader_takes_a_save_to_disk_folder(tmp_path):
    pytest.importorskip("datasets")
    write_format("hf", {"train": sample_records()[:3], "test": sample_records()[3:]}, tmp_path, ExportOptions(hf_layout="disk"))
    result = READERS["hf"](tmp_path)
    assert result.problems == [] and sorted(r["id"] for r in result.records) == sorted(r["id"] for r in sample_records())


@pytest.mark.parametrize("fmt", ["labelstudio", "doccano", "rasa", "conll", "hf"])
def test_import_files_dispatches_to_the_readers(db, tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir()
    write_format(fmt, {UNSPLIT: sample_records()}, out, ExportOptions(hf_layout="parquet"))
    target = {"labelstudio": "data.json", "doccano": "data.jsonl", "rasa": "data.yml", "conll": "data.conll",
              "hf": "train.parquet"}[fmt]
    report = importer.import_files(db, [out / target], fmt=fmt, labels="gold")
    assert report.ok, report.problems
    labelled = annotations.effective_labels(db, "default")
    by_text = {r["text"]: r for r in sample_records()}
    # Rasa holds intent-labelled single-line turns only; CoNLL drops "hello there" (its only label is a sentiment).
    assert len(labelled) == {"rasa": 4, "conll": 5}.get(fmt, 6)
    for row in labelled.to_dict("records"):
        assert list(row["intents"]) == by_text[row["text"]]["intents"]


def test_utf16_offset_warning_reaches_the_import_report(db, tmp_path):
    """Label Studio files with browser (UTF-16) offsets import fixed, and the report says so."""
    import json as _json

    text = "退款 🙂 订单12345"
    task = {"id": 1, "data": {"text": text}, "annotations": [{"result": [
        {"type": "labels", "from_name": "label", "to_name": "text",
         "value": {"start": 8, "end": 13, "text": "12345", "labels": ["order_id"]}}]}]}
    path = tmp_path / "ls.json"
    path.write_text(_json.dumps([task], ensure_ascii=False), encoding="utf-8")
    report = importer.import_files(db, [path], fmt="labelstudio")
    assert report.ok, report.summary()
    assert any("UTF-16" in w for w in report.warnings), report.warnings
    row = db.query_dicts("SELECT l.entities FROM imported_labels l")[0]
    assert [(s["start"], s["end"]) for s in row["entities"]] == [(7, 12)]
