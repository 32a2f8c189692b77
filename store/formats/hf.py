"""Hugging Face ``datasets``: a DatasetDict of splits with ``ClassLabel`` features, and its reader.

One table serves both text classification (``intents`` as a list of class ids, ``sentiment``) and
token classification (``tokens``/``ner_tags`` on the named tokenizer's words). The features are
written into the Arrow schema metadata exactly where ``datasets`` keeps them, so a Parquet file
written with pyarrow alone loads with its class names; with ``datasets`` installed the default is
``DatasetDict.save_to_disk`` (byte-identical for the same data: its fingerprint hashes the data).

The table also carries the response fit, so every exported turn is a row; a task the turn was not
labelled for is null, not empty: ``intents`` is null on a turn that is no intent example
(``store.records.intent_labelled``: e.g. judged only for its response fit), and ``ner_tags`` is null on a turn
that carries nothing but that judgement (an all-``O`` row would teach "no entity here"). Filter them
out per task (``ds.filter(lambda r: r["intents"] is not None)``); the manifest counts both.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from store.formats.common import (ExportOptions, FormatReadResult, add_record, dumps, is_multi_label, note_empty,
                                  schema_names)
from store.formats.words import bio_labels, bio_tags, locate_tokens, spans_from_bio, word_splitter
from store.records import Problem, fit_only, intent_labelled

UNSPLIT = "train"  # the split name when the export is not split (the datasets convention)
CONTEXT = pa.list_(pa.struct([("speaker", pa.string()), ("text", pa.string())]))
SCHEMA = pa.schema([
    ("id", pa.string()), ("conversation_id", pa.string()), ("turn_index", pa.int32()), ("context", CONTEXT),
    ("text", pa.string()), ("response", pa.string()), ("corrected_response", pa.string()),
    ("intents", pa.list_(pa.int64())), ("sentiment", pa.int64()), ("aligned", pa.bool_()),
    ("tokens", pa.list_(pa.string())), ("ner_tags", pa.list_(pa.int64())), ("meta", pa.string()),
])


def _value(dtype: str) -> dict:
    return {"dtype": dtype, "_type": "Value"}


def hf_features(intents: list[str], sentiments: list[str], entities: list[str]) -> dict:
    """The ``datasets.Features`` of the table, as ``Features.to_dict()`` writes it."""
    def class_label(names):
        return {"names": list(names), "_type": "ClassLabel"}

    def list_of(feature):
        return {"feature": feature, "_type": "List"}

    return {
        "id": _value("string"), "conversation_id": _value("string"), "turn_index": _value("int32"),
        "context": list_of({"speaker": _value("string"), "text": _value("string")}),
        "text": _value("string"), "response": _value("string"), "corrected_response": _value("string"),
        "intents": list_of(class_label(intents)), "sentiment": class_label(sentiments), "aligned": _value("bool"),
        "tokens": list_of(_value("string")), "ner_tags": list_of(class_label(bio_labels(entities))),
        "meta": _value("string"),
    }


def hf_table(records: list[dict], options: ExportOptions, names: dict[str, list[str]]) -> tuple[pa.Table, int]:
    """The records as an Arrow table with HF features metadata; returns (table, spans not on words)."""
    multi_label = is_multi_label(records, options)
    intent_id = {n: i for i, n in enumerate(names["intents"])}
    sentiment_id = {n: i for i, n in enumerate(names["sentiments"])}
    tag_id = {n: i for i, n in enumerate(bio_labels(names["entities"]))}
    words = word_splitter(options.tokenizer).words([r["text"] for r in records])
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    misfit = 0
    for record, spans in zip(records, words):
        tags, bad = bio_tags(spans, record.get("entities") or [])
        misfit += bad
        for key in ("id", "conversation_id", "turn_index", "context", "text", "response", "aligned"):
            columns[key].append(record.get(key))
        columns["corrected_response"].append(record.get("corrected_response"))
        columns["intents"].append([intent_id[i] for i in record.get("intents") or []]
                                  if intent_labelled(record, multi_label) else None)
        columns["sentiment"].append(sentiment_id.get(record.get("sentiment"), -1))
        columns["tokens"].append([record["text"][s:e] for s, e in spans])
        columns["ner_tags"].append(None if fit_only(record) else [tag_id[t] for t in tags])
        columns["meta"].append(dumps(record["meta"]) if record.get("meta") else "{}")
    features = hf_features(names["intents"], names["sentiments"], names["entities"])
    metadata = {b"huggingface": dumps({"info": {"features": features}}).encode("utf-8")}
    return pa.table(columns, schema=SCHEMA.with_metadata(metadata)), misfit


def write_hf(splits: dict[str, list[dict]], out_dir: Path, options: ExportOptions) -> dict:
    """Write every split; ``options.hf_layout``: disk (save_to_disk), parquet, or auto (disk if installed)."""
    everything = [r for records in splits.values() for r in records]
    names = {kind: schema_names(options, kind, everything) for kind in ("intents", "sentiments", "entities")}
    multi_label = is_multi_label(everything, options)
    tables, misfit = {}, 0
    options = replace(options, multi_label=multi_label)     # one rule for every split
    for split, records in splits.items():
        tables[split], bad = hf_table(records, options, names)
        misfit += bad
    layout = _layout(options.hf_layout)
    if layout == "disk":
        import datasets

        datasets.disable_progress_bars()
        # One shard per split, so an empty split still gets its (empty) Arrow file and loads back.
        datasets.DatasetDict({s: datasets.Dataset(t) for s, t in tables.items()}).save_to_disk(
            str(out_dir), num_shards={s: 1 for s in tables})
    else:
        for split, table in tables.items():
            pq.write_table(table, out_dir / f"{split}.parquet", compression="zstd")
    return {"rows": len(everything), "spans_not_on_word_boundaries": misfit, "hf_layout": layout,
            "rows_intents_not_labelled": sum(1 for r in everything if not intent_labelled(r, multi_label)),
            "rows_entities_not_labelled": sum(1 for r in everything if fit_only(r))}


def _layout(requested: str) -> str:
    if requested not in ("auto", "disk", "parquet"):
        raise ValueError(f"hf_layout must be auto, disk or parquet, got {requested!r}")
    if requested != "auto":
        return requested
    try:
        import datasets  # noqa: F401  (optional extra "export")
    except ImportError:
        return "parquet"
    return "disk"


# ---------------------------------------------------------------- reading


def read_hf(path: Path) -> FormatReadResult:
    """Read a save_to_disk folder (Dataset or DatasetDict), Parquet file(s) or HF-style JSON lines."""
    path, result = Path(path), FormatReadResult()
    try:
        files = _data_files(path)
    except ValueError as exc:
        result.problems.append(Problem(str(path), 0, "", str(exc)))
        return result
    for file in files:
        table = _read_table(file, result)
        if table is not None:
            _add_rows(result, str(file), table)
    return note_empty(result, path)


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError("no such file or folder")
    if (path / "dataset_dict.json").is_file():
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        return [f for split in splits for f in _data_files(path / split)]
    if (path / "state.json").is_file():
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        return [path / f["filename"] for f in state["_data_files"]]
    found = sorted(path.glob("*.parquet")) + sorted(path.glob("*.jsonl"))
    if not found:
        raise ValueError("no dataset_dict.json, state.json, *.parquet or *.jsonl in this folder")
    return found


def _read_table(file: Path, result: FormatReadResult) -> pa.Table | None:
    try:
        if file.suffix == ".arrow":
            with pa.memory_map(str(file)) as source:
                return pa.ipc.open_stream(source).read_all()
        if file.suffix in (".jsonl", ".json"):
            import pyarrow.json as pj

            return pj.read_json(file)
        return pq.read_table(file)
    except (pa.ArrowInvalid, OSError) as exc:
        result.problems.append(Problem(str(file), 0, "", f"not a readable dataset file: {exc}"))
        return None


def _class_names(table: pa.Table) -> dict[str, list[str]]:
    """Column -> class names, from the ``datasets`` features in the schema metadata (if any)."""
    raw = (table.schema.metadata or {}).get(b"huggingface")
    features = json.loads(raw)["info"]["features"] if raw else {}
    names = {}
    for column, feature in features.items():
        inner = feature.get("feature", feature) if feature.get("_type") in ("List", "Sequence") else feature
        if isinstance(inner, dict) and inner.get("_type") == "ClassLabel":
            names[column] = inner["names"]
    return names


def _add_rows(result: FormatReadResult, name: str, table: pa.Table) -> None:
    names = _class_names(table)
    for line, row in enumerate(table.to_pylist(), start=1):
        try:
            raw = _row_record(row, names)
        except (ValueError, IndexError, TypeError) as exc:
            result.problems.append(Problem(name, line, "", str(exc)))
            continue
        add_record(result, name, line, raw)


def _named(value, names: list[str] | None):
    """A class id as its name (ids are ints when the column is a ClassLabel, names otherwise)."""
    if names is None or not isinstance(value, int):
        return value
    if value < 0:
        return None
    return names[value]


def _row_record(row: dict, names: dict[str, list[str]]) -> dict:
    raw = {k: row.get(k) for k in ("id", "conversation_id", "turn_index", "context", "response", "corrected_response",
                                   "aligned")}
    intents = row.get("intents")
    if intents is None and row.get("label") is not None:
        intents = [row["label"]]
    key = "intents" if row.get("intents") is not None else "label"
    raw["intents"] = [n for n in (_named(i, names.get(key)) for i in intents or []) if n is not None]
    raw["sentiment"] = _named(row.get("sentiment"), names.get("sentiment"))
    meta = row.get("meta")
    raw["meta"] = json.loads(meta) if isinstance(meta, str) and meta else meta
    tokens = row.get("tokens")
    raw["text"] = row.get("text") if row.get("text") is not None else " ".join(tokens or [])
    raw["entities"] = row.get("entities") if tokens is None else _token_spans(raw["text"], row, names)
    return raw


def _token_spans(text: str, row: dict, names: dict[str, list[str]]) -> list[dict]:
    if "ner_tags" in row and row["ner_tags"] is None:      # not labelled for entities (module docstring)
        return []
    tokens, tags = row.get("tokens") or [], row.get("ner_tags") or []
    if len(tokens) != len(tags):
        raise ValueError(f"ner_tags: expected one tag per token ({len(tokens)}), got {len(tags)}")
    offsets = locate_tokens(text, tokens)
    if offsets is None:
        raise ValueError("tokens: the tokens are not found in order in the text")
    return spans_from_bio(offsets, [_named(t, names.get("ner_tags")) or "O" for t in tags])
