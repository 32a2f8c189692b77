"""Other tools' formats: exporters (records -> files) and readers (files -> records).

``EXPORTERS[name]`` writes the records of each split; ``READERS[name](path) -> ReadResult`` reads a
file (or, for ``hf``, a folder) into native records with located problems. ``store.importer``
dispatches ``--format labelstudio|doccano|rasa|conll|hf`` here. Every exporter is deterministic:
the same records give byte-identical files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from store.formats.chat import write_chat
from store.formats.common import ExportOptions, FormatReadResult
from store.formats.conll import read_conll, write_conll
from store.formats.doccano import read_doccano, write_doccano
from store.formats.dpo import write_dpo_openai, write_dpo_trl
from store.formats.hf import UNSPLIT as HF_UNSPLIT
from store.formats.hf import read_hf, write_hf
from store.formats.intent_csv import read_intent_csv, write_intent_csv, write_intent_jsonl
from store.formats.labelstudio import read_labelstudio, write_labelstudio
from store.formats.native import write_native
from store.formats.rasa import read_rasa, write_rasa
from store.formats.spacy_fmt import read_spacy_jsonl, write_spacy

UNSPLIT = "data"  # the file stem when an export is not split


@dataclass(frozen=True)
class Exporter:
    """One export format: either one file per split (``write_file``) or all splits at once (``write_splits``)."""

    name: str
    suffix: str
    description: str
    write_file: Callable[[list[dict], Path, ExportOptions], dict] | None = None
    write_splits: Callable[[dict[str, list[dict]], Path, ExportOptions], dict] | None = None
    token_level: bool = False  # follows a tokenizer's word boundaries (the manifest names it)


EXPORTERS: dict[str, Exporter] = {e.name: e for e in (
    Exporter("native", ".jsonl", "Concord JSONL (re-importable, all labels)", write_native),
    Exporter("intent-csv", ".csv", "intent classification CSV (text, label, intents)", write_intent_csv),
    Exporter("intent-jsonl", ".jsonl", "intent classification JSONL (text, label, intents)", write_intent_jsonl),
    Exporter("hf", "", "Hugging Face datasets DatasetDict (ClassLabel features, tokens/ner_tags)",
             write_splits=write_hf, token_level=True),
    Exporter("conll", ".conll", "CoNLL BIO token classification", write_conll, token_level=True),
    Exporter("spacy", ".jsonl", "spaCy training JSONL (+ .spacy DocBin if spaCy is installed)", write_spacy,
             token_level=True),
    Exporter("rasa", ".yml", "Rasa NLU YAML", write_rasa),
    Exporter("labelstudio", ".json", "Label Studio tasks JSON (+ label_config.xml)", write_labelstudio),
    Exporter("doccano", ".jsonl", "doccano JSONL (intent detection and slot filling)", write_doccano),
    Exporter("chat", ".jsonl", "chat fine-tuning JSONL (aligned or corrected responses)", write_chat),
    Exporter("dpo-trl", ".jsonl", "DPO preference pairs, TRL prompt/chosen/rejected", write_dpo_trl),
    Exporter("dpo-openai", ".jsonl", "DPO preference pairs, OpenAI input/preferred_output/non_preferred_output",
             write_dpo_openai),
)}

READERS: dict[str, Callable[[Path], FormatReadResult]] = {
    "labelstudio": read_labelstudio,
    "doccano": read_doccano,
    "rasa": read_rasa,
    "conll": read_conll,
    "hf": read_hf,
    "spacy": read_spacy_jsonl,
    "intent-csv": read_intent_csv,
}


def write_format(name: str, splits: dict[str, list[dict]], out_dir: Path, options: ExportOptions) -> dict:
    """Write every split in format ``name`` under ``out_dir``; returns the format's counts (summed)."""
    if name not in EXPORTERS:
        raise ValueError(f"format: expected one of {sorted(EXPORTERS)}, got {name!r}")
    exporter = EXPORTERS[name]
    if exporter.write_splits is not None:
        renamed = {HF_UNSPLIT if s == UNSPLIT else s: r for s, r in splits.items()}
        return exporter.write_splits(renamed, out_dir, options)
    totals: dict = {}
    for split, records in splits.items():
        for key, value in exporter.write_file(records, out_dir / f"{split}{exporter.suffix}", options).items():
            if isinstance(value, list):        # itemised reports (e.g. dropped spans) of every split
                totals[key] = totals.get(key, []) + value
            else:
                totals[key] = totals.get(key, 0) + value if isinstance(value, int) else value
    return totals


__all__ = ["EXPORTERS", "READERS", "ExportOptions", "Exporter", "FormatReadResult", "UNSPLIT", "write_format"]
