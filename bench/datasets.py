"""Convert the public dialog sets in ../shared/data into native turn records for benchmarks.

Benchmarks and slow tests need real data in the one shape Concord reads (``store.records``), so each
set gets a loader here and nothing downstream has to know the upstream formats. Every record this
module returns has passed ``normalize_turn``; spans are checked against their text and the ones that
cannot be placed exactly are counted in a ``ConversionReport`` (and left out), never guessed.

    from bench.datasets import load, load_with_report, available
    train = load("bitext", split="train")          # seeded, stratified 80/20
    records, report = load_with_report("sgd", split="test")

Names: bitext, sgd, nlupp_banking, nlupp_hotels, nlupp (both), crosswoz, goemotions. Splits: every
set has ``"train"`` and ``"test"`` (``split=None`` returns both; ``meta["split"]`` says which), seeded
and documented on each loader (bitext stratified by intent; sgd/crosswoz by dialogue; nlupp folds
0-15 / 16-19; goemotions upstream train / dev).

The data is read-only and lives outside the repository: ``SHARED`` (../shared/data relative to the
repo root), or the directory named by the environment variable ``CONCORD_SHARED_DATA``.
"""
from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # bench/ is not an installed package; make `store` importable
    sys.path.insert(0, str(_REPO))

from store.records import normalize_turn  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 20240601
TEST_FRACTION = 0.2
SPLITS = ("train", "test")


def shared_data_dir() -> Path:
    """Where the public sets are: $CONCORD_SHARED_DATA if set, else ``SHARED``."""
    override = os.environ.get("CONCORD_SHARED_DATA")
    return Path(override) if override else SHARED


@dataclass
class ConversionReport:
    """What a conversion produced and what it had to leave out, so benchmark numbers are honest."""

    name: str
    split: str | None = None
    turns: int = 0
    intents: int = 0                # distinct intent labels in the returned records
    spans: int = 0                  # spans kept
    spans_repaired: int = 0         # upstream offsets were off; the value was found once in the text
    spans_skipped: int = 0          # could not be placed exactly on the text; left out
    # (span and row counts that describe the conversion are over the whole set, whatever the split)
    rows_skipped: int = 0           # whole rows left out (e.g. multi-label GoEmotions rows)
    skipped_examples: list[str] = field(default_factory=list)

    def skip_span(self, why: str) -> None:
        self.spans_skipped += 1
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(why)

    def summary(self) -> str:
        name = f"{self.name}.{self.split}" if self.split else self.name
        return (f"{name}: {self.turns} turns, {self.intents} intents, {self.spans} spans "
                f"({self.spans_repaired} repaired, {self.spans_skipped} skipped), "
                f"{self.rows_skipped} rows skipped")


# ----------------------------------------------------------------------------------------- spans

def _on_token_boundaries(text: str, start: int, end: int) -> bool:
    """True if [start, end) is inside the text, has no edge whitespace and cuts no word in two."""
    if not 0 <= start < end <= len(text):
        return False
    piece = text[start:end]
    if piece != piece.strip():
        return False
    cuts_left = start > 0 and _same_word_class(text[start - 1], text[start])
    cuts_right = end < len(text) and _same_word_class(text[end - 1], text[end])
    return not (cuts_left or cuts_right)


def _same_word_class(a: str, b: str) -> bool:
    """Two letters or two digits side by side: a boundary between them would cut a word or number.

    "order732201349959" may carry a span on the digits; "fromAnna" may not carry one on "Anna".
    """
    return (a.isalpha() and b.isalpha()) or (a.isdigit() and b.isdigit())


def _find_once(text: str, value: str) -> int | None:
    """The offset of ``value`` in ``text`` (case-insensitive) if it occurs exactly once, else None."""
    if not value:
        return None
    low_text, low_value = text.lower(), value.lower()
    first = low_text.find(low_value)
    if first < 0 or low_text.find(low_value, first + 1) >= 0:
        return None
    return first


def checked_span(text: str, start: int, end: int, label: str, report: ConversionReport,
                 *, value: str | None = None) -> dict | None:
    """A span if the offsets land on the text; else the value's unique occurrence; else None (counted)."""
    if _on_token_boundaries(text, start, end):
        return {"start": start, "end": end, "label": label}
    found = _find_once(text, value) if value else None
    if found is not None and _on_token_boundaries(text, found, found + len(value)):
        report.spans_repaired += 1
        return {"start": found, "end": found + len(value), "label": label}
    report.skip_span(f"{label} [{start},{end}) {value!r} not on {text[:80]!r}")
    return None


def _without_overlaps(spans: list[dict]) -> list[dict]:
    """Keep the first of overlapping spans (sorted by start) so records stay flat NER data."""
    kept: list[dict] = []
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        if kept and span["start"] < kept[-1]["end"]:
            continue
        if span not in kept:
            kept.append(span)
    return kept


# ---------------------------------------------------------------------------------------- splits

def split_ids(ids: list[str], *, seed: int = SEED, test_fraction: float = TEST_FRACTION) -> dict[str, str]:
    """Assign whole groups (e.g. dialogues) to train or test: seeded, independent of input order."""
    ordered = sorted(set(ids))
    random.Random(seed).shuffle(ordered)
    n_test = round(len(ordered) * test_fraction)
    return {gid: ("test" if i < n_test else "train") for i, gid in enumerate(ordered)}


def stratified_split(labels: list[str], *, seed: int = SEED,
                     test_fraction: float = TEST_FRACTION) -> list[str]:
    """A seeded stratified train/test assignment per row (scikit-learn's, so classes keep their shares)."""
    from sklearn.model_selection import train_test_split

    rows = list(range(len(labels)))
    _, test_rows = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=labels)
    test = set(test_rows)
    return ["test" if i in test else "train" for i in rows]


# ------------------------------------------------------------------------------------- registry

def names() -> tuple[str, ...]:
    """Every dataset name ``load`` accepts."""
    return tuple(_LOADERS)


def available(name: str | None = None) -> bool:
    """True if the shared data (or the folder ``name`` needs) is present; tests skip otherwise."""
    root = shared_data_dir()
    if name is None:
        return root.is_dir()
    return (root / _FOLDERS[name]).is_dir()


def load_with_report(name: str, *, split: str | None = None) -> tuple[list[dict], ConversionReport]:
    """Convert the set ``name`` and return (records, report); ``split`` is "train", "test" or None."""
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(_LOADERS)}")
    if split == "dev":  # GoEmotions calls its held-out file dev; all sets expose it as "test"
        split = "test"
    if split not in (None, *SPLITS):
        raise ValueError(f"split must be one of {[None, *SPLITS]}, got {split!r}")
    root = shared_data_dir()
    folder = root / _FOLDERS[name]
    if not folder.is_dir():
        raise FileNotFoundError(f"{name}: expected the folder {folder} (set CONCORD_SHARED_DATA to move it)")
    report = ConversionReport(name=name, split=split)
    records = [normalize_turn(rec) for rec in _LOADERS[name](folder, report)]
    if split is not None:
        records = [rec for rec in records if rec["meta"].get("split") == split]
    report.turns = len(records)
    report.intents = len({i for rec in records for i in rec["intents"]})
    report.spans = sum(len(rec["entities"]) for rec in records)
    return records, report


def load(name: str, *, split: str | None = None) -> list[dict]:
    """Native turn records for one public set (see the module docstring for names and splits)."""
    return load_with_report(name, split=split)[0]



# -------------------------------------------------------------------------------------- loaders

def _bitext(folder: Path, report: ConversionReport) -> list[dict]:
    """Bitext: one request per row, its own conversation. Split: seeded 80/20 stratified by intent.

    The upstream offsets are trusted when they land on whole tokens (entity_value is normalised,
    e.g. leading zeros dropped, so it is only used to repair offsets that overshoot the text).
    """
    import pandas as pd

    frame = pd.read_csv(folder / "Bitext_Sample_Customer_Support_Training_Dataset.csv",
                        dtype=str, keep_default_na=False)
    splits = stratified_split(frame["intent"].tolist())
    records = []
    for row, split in zip(frame.itertuples(index=True), splits):
        text = row.instruction
        spans = []
        if row.entity_type:
            span = checked_span(text, int(row.start_offset), int(row.end_offset), row.entity_type,
                                report, value=row.entity_value)
            spans = [span] if span else []
        records.append({
            "id": f"bitext:{row.Index}", "conversation_id": f"bitext:{row.Index}", "turn_index": 0,
            "text": text, "response": row.response, "intents": [row.intent], "entities": spans,
            "meta": {"source": "bitext", "split": split, "category": row.category, "tags": row.tags},
        })
    return records


def _speaker(role: str) -> str:
    return "user" if role.upper() in ("USER", "USR") else "assistant"


def _sgd_user_labels(turn: dict, report: ConversionReport) -> tuple[list[str], list[dict]]:
    """Service-qualified active intents (or ["NONE"]) and the slot spans of one SGD user turn."""
    text, intents, spans = turn["utterance"], [], []
    for frame in turn["frames"]:
        active = frame.get("state", {}).get("active_intent", "NONE")
        if active != "NONE":
            intents.append(f"{frame['service']}:{active}")
        for slot in frame.get("slots", []):
            span = checked_span(text, slot["start"], slot["exclusive_end"], slot["slot"], report)
            if span:
                spans.append(span)
    return intents or ["NONE"], _without_overlaps(spans)


def _sgd(folder: Path, report: ConversionReport) -> list[dict]:
    """SGD dev subset: user turns with all earlier turns as context and the next system turn as response.

    Intents are the service-qualified active intents of the turn's frames ("Restaurants_1:FindRestaurants");
    a turn with no active intent anywhere (greetings, "that's all, thanks") is labelled "NONE", kept so
    a classifier sees the no-task state. Entity labels are the bare slot names (shared across services).
    Split: seeded 80/20 by dialogue.
    """
    import json

    dialogues = []
    for path in sorted((folder / "dev").glob("dialogues_*.json")):
        dialogues.extend(json.loads(path.read_text(encoding="utf-8")))
    split_of = split_ids([d["dialogue_id"] for d in dialogues])
    records = []
    for dialogue in dialogues:
        conv_id, turns = f"sgd:{dialogue['dialogue_id']}", dialogue["turns"]
        for i, turn in enumerate(turns):
            if turn["speaker"] != "USER":
                continue
            nxt = turns[i + 1] if i + 1 < len(turns) else None
            intents, spans = _sgd_user_labels(turn, report)
            records.append({
                "id": f"{conv_id}:{i}", "conversation_id": conv_id, "turn_index": i,
                "context": [{"speaker": _speaker(t["speaker"]), "text": t["utterance"]} for t in turns[:i]],
                "text": turn["utterance"],
                "response": nxt["utterance"] if nxt and nxt["speaker"] == "SYSTEM" else None,
                "intents": intents, "entities": spans,
                "meta": {"source": "sgd", "split": split_of[dialogue["dialogue_id"]],
                         "services": dialogue["services"]},
            })
    return records


def _nlupp_domain(folder: Path, domain: str, report: ConversionReport) -> list[dict]:
    """NLU++ one domain: single utterances, multi-label intents, slot spans.

    Split: folds 0-15 train, 16-19 test (80/20 of the 20 upstream folds). An utterance with no intent
    is a real "none of these" label upstream, marked ``meta["no_intent"] = True``.
    """
    import json

    records = []
    for fold in range(20):
        rows = json.loads((folder / domain / f"fold{fold}.json").read_text(encoding="utf-8"))
        for i, row in enumerate(rows):
            text, spans = row["text"], []
            for label, slot in (row.get("slots") or {}).items():
                start, end = slot["span"]
                span = checked_span(text, start, end, label, report, value=slot.get("text"))
                if span:
                    spans.append(span)
            records.append({
                "id": f"nlupp_{domain}:{fold}:{i}", "conversation_id": f"nlupp_{domain}:{fold}:{i}",
                "turn_index": 0, "text": text, "intents": row.get("intents") or [],
                "entities": _without_overlaps(spans),
                "meta": {"source": f"nlupp_{domain}", "split": "train" if fold < 16 else "test",
                         "fold": fold, "no_intent": not row.get("intents")},
            })
    return records


def _nlupp_banking(folder: Path, report: ConversionReport) -> list[dict]:
    return _nlupp_domain(folder, "banking", report)


def _nlupp_hotels(folder: Path, report: ConversionReport) -> list[dict]:
    return _nlupp_domain(folder, "hotels", report)


def _nlupp(folder: Path, report: ConversionReport) -> list[dict]:
    """Both NLU++ domains together (generic intents such as "affirm" are shared)."""
    return _nlupp_domain(folder, "banking", report) + _nlupp_domain(folder, "hotels", report)


CROSSWOZ_FLAG_VALUES = ("是", "否")  # yes/no facility flags: not mentions in the text, never spans


def _crosswoz_labels(message: dict, report: ConversionReport) -> tuple[list[str], list[dict]]:
    """Intents "act:domain" (e.g. "Inform:餐馆", "General:greet") and spans found by searching act values."""
    text, intents, spans = message["content"], [], []
    for act, domain, slot, value in message["dialog_act"]:
        intent = f"{act}:{domain}"
        if intent not in intents:
            intents.append(intent)
        if not value or value == "none" or value in CROSSWOZ_FLAG_VALUES:
            continue
        start = text.find(value)
        if start < 0:
            report.skip_span(f"{domain}-{slot} {value!r} not in {text[:60]!r}")
            continue
        spans.append({"start": start, "end": start + len(value), "label": f"{domain}-{slot}"})
    return intents, _without_overlaps(spans)


def _crosswoz(folder: Path, report: ConversionReport) -> list[dict]:
    """CrossWOZ validation set (Chinese), read from the zip in memory. Split: seeded 80/20 by dialogue."""
    import json
    import zipfile

    with zipfile.ZipFile(folder / "val.json.zip") as archive:
        dialogues = json.loads(archive.read("val.json"))
    split_of = split_ids(list(dialogues))
    records = []
    for dialog_id, dialogue in dialogues.items():
        conv_id, messages = f"crosswoz:{dialog_id}", dialogue["messages"]
        for i, message in enumerate(messages):
            if message["role"] != "usr":
                continue
            nxt = messages[i + 1] if i + 1 < len(messages) else None
            intents, spans = _crosswoz_labels(message, report)
            records.append({
                "id": f"{conv_id}:{i}", "conversation_id": conv_id, "turn_index": i,
                "context": [{"speaker": _speaker(m["role"]), "text": m["content"]} for m in messages[:i]],
                "text": message["content"],
                "response": nxt["content"] if nxt and nxt["role"] == "sys" else None,
                "intents": intents, "entities": spans,
                "meta": {"source": "crosswoz", "split": split_of[dialog_id], "type": dialogue.get("type")},
            })
    return records


def _goemotions(folder: Path, report: ConversionReport) -> list[dict]:
    """GoEmotions grouped sentiment (ambiguous/negative/neutral/positive), single-label rows only.

    Split: upstream train.tsv is "train", upstream dev.tsv is "test" (``split="dev"`` also works).
    """
    classes = (folder / "labels.txt").read_text(encoding="utf-8").split()
    records = []
    for split, file_name in (("train", "train.tsv"), ("test", "dev.tsv")):
        for line in (folder / file_name).read_text(encoding="utf-8").splitlines():
            text, label_ids, comment_id = line.split("\t")
            if "," in label_ids or not text.strip():
                report.rows_skipped += 1
                continue
            records.append({
                "id": f"goemotions:{comment_id}", "conversation_id": f"goemotions:{comment_id}",
                "turn_index": 0, "text": text, "sentiment": classes[int(label_ids)],
                "meta": {"source": "goemotions", "split": split},
            })
    return records


_LOADERS: dict[str, Callable[[Path, ConversionReport], list[dict]]] = {
    "bitext": _bitext,
    "sgd": _sgd,
    "nlupp_banking": _nlupp_banking,
    "nlupp_hotels": _nlupp_hotels,
    "nlupp": _nlupp,
    "crosswoz": _crosswoz,
    "goemotions": _goemotions,
}
_FOLDERS = {
    "bitext": "bitext-customer-support",
    "sgd": "sgd",
    "nlupp_banking": "nlupp",
    "nlupp_hotels": "nlupp",
    "nlupp": "nlupp",
    "crosswoz": "crosswoz",
    "goemotions": "goemotions-sentiment",
}
