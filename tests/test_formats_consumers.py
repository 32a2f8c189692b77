"""Exports checked by the tools that consume them, where those install here (each test skips otherwise)."""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from store.export import export_records
from store.formats import ExportOptions
from store.formats.dpo import OPENAI_COLUMNS, TRL_COLUMNS
from test_formats_common import sample_records
from test_formats_roundtrip import SCHEMA

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _export(tmp_path: Path, fmt: str, *, split: bool = False, **options) -> Path:
    out = tmp_path / fmt
    export_records(sample_records(), out, fmt=fmt, split=split, options=ExportOptions(schema=SCHEMA, **options))
    return out


def _by_text() -> dict[str, dict]:
    return {r["text"]: r for r in sample_records()}


def test_datasets_load_from_disk_gives_a_datasetdict_with_class_labels(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = _export(tmp_path, "hf", split=True, hf_layout="disk")
    loaded = datasets.load_from_disk(str(out))
    assert set(loaded) == {"train", "validation", "test"} and sum(len(d) for d in loaded.values()) == 6
    features = loaded["train"].features
    assert features["intents"].feature.names == SCHEMA["intents"]
    assert features["sentiment"].names == SCHEMA["sentiments"]
    tag_names = features["ner_tags"].feature.names
    assert tag_names[:5] == ["O", "B-order_id", "I-order_id", "B-city", "I-city"]
    expected = _by_text()
    for split in loaded.values():
        for row in split:
            record = expected[row["text"]]
            assert [features["intents"].feature.int2str(i) for i in row["intents"]] == record["intents"]
            tagged = [(tok, tag_names[t]) for tok, t in zip(row["tokens"], row["ner_tags"]) if t]
            starts = [(tok, tag[2:]) for tok, tag in tagged if tag.startswith("B-")]
            spans = [(record["text"][s["start"]:s["end"]], s["label"]) for s in record["entities"]]
            assert len(starts) == len(spans)
            assert all(text.startswith(tok) and label == lab for (tok, lab), (text, label) in zip(starts, spans))


def test_datasets_reads_the_parquet_layout_with_its_class_labels(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = _export(tmp_path, "hf", hf_layout="parquet")
    loaded = datasets.load_dataset("parquet", data_files={"train": str(out / "train.parquet")}, cache_dir=str(tmp_path / "c"))
    assert loaded["train"].features["intents"].feature.names == SCHEMA["intents"]
    assert len(loaded["train"]) == 6


@pytest.mark.parametrize("fmt, columns", [
    ("chat", {"messages"}), ("dpo-trl", set(TRL_COLUMNS)), ("dpo-openai", set(OPENAI_COLUMNS)),
    ("intent-jsonl", {"id", "text", "label", "intents"}), ("doccano", {"text", "entities", "cats"}),
    ("spacy", {"text", "entities", "cats"}),
])
def test_datasets_load_json_reads_every_jsonl_export(tmp_path, fmt, columns):
    datasets = pytest.importorskip("datasets")
    out = _export(tmp_path, fmt)
    loaded = datasets.load_dataset("json", data_files=str(out / "data.jsonl"), cache_dir=str(tmp_path / "c"))["train"]
    assert columns <= set(loaded.column_names) and len(loaded) >= 1


def test_spacy_docbin_docs_carry_the_exact_spans_and_cats(tmp_path):
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import DocBin
    from spacy.training import offsets_to_biluo_tags

    out = _export(tmp_path, "spacy")
    docs = list(DocBin().from_disk(out / "data.spacy").get_docs(spacy.blank("xx").vocab))
    expected = _by_text()
    assert sorted(d.text for d in docs) == sorted(expected)
    for doc in docs:
        record = expected[doc.text]
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
            (s["start"], s["end"], s["label"]) for s in record["entities"]]
        assert {k for k, v in doc.cats.items() if v} == set(record["intents"])
        offsets = [(s["start"], s["end"], s["label"]) for s in record["entities"]]
        assert "-" not in offsets_to_biluo_tags(doc, offsets)  # "-" = a span not on token boundaries
    lines = [json.loads(x) for x in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(isinstance(e, list) and len(e) == 3 for line in lines for e in line["entities"])


def test_rasa_yaml_has_rasa_nlu_shape(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    data = yaml.safe_load((_export(tmp_path, "rasa") / "data.yml").read_text(encoding="utf-8"))
    shape = {  # Rasa 3 NLU training data, the intent part: version string, nlu list of {intent, examples}
        "type": "object", "required": ["version", "nlu"],
        "properties": {"version": {"type": "string"}, "nlu": {"type": "array", "items": {
            "type": "object", "required": ["intent", "examples"], "additionalProperties": False,
            "properties": {"intent": {"type": "string"}, "examples": {"type": "string", "pattern": r"^(- .*\n)+$"}}}}}}
    jsonschema.validate(data, shape)
    intents = {item["intent"] for item in data["nlu"]}
    assert "cancel_order+refund" in intents  # multi-intent, Rasa's split symbol
    lines = [ln[2:] for item in data["nlu"] for ln in item["examples"].splitlines()]
    plain = {re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", ln) for ln in lines}
    assert "退款 🙂 订单12345" in plain and "[退款](action) [🙂](emotion) 订单[12345](order_id)" in lines


def test_labelstudio_tasks_match_their_labelling_config(tmp_path):
    out = _export(tmp_path, "labelstudio")
    config = ET.fromstring((out / "label_config.xml").read_text(encoding="utf-8"))
    objects = {el.get("name"): el.get("value").lstrip("$") for el in config.iter() if el.tag in ("Text", "Paragraphs")}
    controls = {el.get("name"): el for el in config.iter() if el.tag in ("Labels", "Choices", "TextArea")}
    tasks = json.loads((out / "data.json").read_text(encoding="utf-8"))
    assert len(tasks) == 6
    for task in tasks:
        assert set(objects.values()) <= set(task["data"])
        for result in task["annotations"][0]["result"] + [r for p in task["predictions"] for r in p["result"]]:
            control = controls[result["from_name"]]
            assert control.get("toName") == result["to_name"] and control.tag.lower() == result["type"]
            allowed = {c.get("value") for c in control}
            value = result["value"]
            assert set(value.get("choices", [])) <= allowed and set(value.get("labels", [])) <= allowed
            if "start" in value:
                source = task["data"][objects[result["to_name"]]]
                assert source[value["start"]:value["end"]] == value["text"]


def test_dpo_exports_have_the_columns_trl_and_openai_expect(tmp_path):
    for fmt, columns in (("dpo-trl", TRL_COLUMNS), ("dpo-openai", OPENAI_COLUMNS)):
        lines = [json.loads(x) for x in (_export(tmp_path, fmt) / "data.jsonl").read_text(encoding="utf-8").splitlines()]
        assert lines and all(tuple(line) == columns for line in lines)
    trl_line = json.loads((tmp_path / "dpo-trl" / "data.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert trl_line["prompt"][-1]["role"] == "user" and [m["role"] for m in trl_line["chosen"]] == ["assistant"]


@pytest.mark.slow
def test_trl_reads_the_pairs_as_a_conversational_preference_dataset(tmp_path):
    data_utils = pytest.importorskip("trl.data_utils")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(["order cancelled refunded"], trainers.WordPieceTrainer(vocab_size=100, special_tokens=["[UNK]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    example = json.loads((_export(tmp_path, "dpo-trl") / "data.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert data_utils.is_conversational(example)
    rendered = data_utils.maybe_apply_chat_template(example, tokenizer)
    assert rendered["chosen"].strip().endswith("refunded.") and "Hi!" in rendered["rejected"]
