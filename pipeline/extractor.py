"""The extractor: intent (single- or multi-label), entity spans and sentiment from a user turn.

One encoder is shared by three heads. Two training modes sit behind one interface:
``fast`` keeps the encoder frozen and fits light heads on cached embeddings (seconds; what the
active-learning loop refits), ``full`` fine-tunes the encoder jointly with the heads
(``pipeline.joint``; the periodic retrain). Both end in the same artifact: an encoder (the packaged
one by reference, or the fine-tuned copy on disk) plus array heads, so prediction, saving and
loading are one code path. Heads are only built for labels that exist in the training records.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline import metrics as M
from pipeline.encoders import Encoder, load_encoder
from pipeline.heads import LinearHead
from pipeline.tagging import decode_spans
from store.records import intent_labelled

FORMAT = "concord-extractor"
FORMAT_VERSION = 1
MODES = ("fast", "full")
HEAD_NAMES = ("intent", "sentiment", "tagger")
MULTI_LABEL_THRESHOLD = 0.5

Progress = Callable[[str, float], None]


def concord_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("concord")
    except PackageNotFoundError:
        return "unknown"


def label_schema(records: list[dict]) -> dict:
    """The labels present in ``records``: what heads the extractor can have, and in what order."""
    return {
        "intents": sorted({i for r in records for i in r.get("intents") or []}),
        "entities": sorted({s["label"] for r in records for s in r.get("entities") or []}),
        "sentiments": sorted({r["sentiment"] for r in records if r.get("sentiment")}),
        "multi_label": any(len(r.get("intents") or []) > 1 for r in records),
    }


def window_features(vectors: np.ndarray, window: int) -> np.ndarray:
    """Each subword's vector concatenated with its ``window`` neighbours on each side (zeros at edges)."""
    if window == 0:
        return vectors
    t, d = vectors.shape
    padded = np.zeros((t + 2 * window, d), dtype=vectors.dtype)
    padded[window:window + t] = vectors
    return np.concatenate([padded[window + o:window + o + t] for o in range(-window, window + 1)], axis=1)


def schema_difference(expected: dict, actual: dict) -> str:
    """'' when equal, else a readable list of what differs, e.g. "intents: missing ['a']"."""
    problems = []
    for key in ("intents", "entities", "sentiments"):
        want, got = set(expected.get(key) or []), set(actual.get(key) or [])
        if want != got:
            problems.append(f"{key}: missing {sorted(want - got)}, unexpected {sorted(got - want)}")
    if bool(expected.get("multi_label")) != bool(actual.get("multi_label")):
        problems.append(f"multi_label: expected {bool(expected.get('multi_label'))}, got {bool(actual.get('multi_label'))}")
    return "; ".join(problems)


@dataclass
class ExtractorArrays:
    """Raw model outputs for array consumers (active learning, alignment, label-error ranking)."""

    ids: list
    embeddings: np.ndarray                        # (n, dim) sentence embeddings of the extractor's encoder
    intent_probs: np.ndarray | None               # (n, k) softmax rows, or independent sigmoids if multi_label
    intent_classes: list[str]
    multi_label: bool
    sentiment_probs: np.ndarray | None            # (n, s)
    sentiment_classes: list[str]
    token_probs: list[np.ndarray] | None          # per turn (t, n_tags)
    token_offsets: list[np.ndarray] | None        # per turn (t, 2) code points
    tag_names: list[str]


class Extractor:
    """Encoder + array heads; build with ``Extractor.train`` or ``Extractor.load``."""

    def __init__(self, *, schema: dict, mode: str, encoder: Encoder, heads: dict[str, LinearHead | None],
                 tag_window: int = 1, train_metrics: dict | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.schema, self.mode, self.encoder = schema, mode, encoder
        self.heads = {name: heads.get(name) for name in HEAD_NAMES}
        self.tag_window = tag_window
        self.train_metrics = train_metrics or {}

    @property
    def encoder_identity(self) -> str:
        return self.encoder.identity

    @property
    def tag_names(self) -> list[str]:
        """BIO tag order of the tagger's probability columns (the head's own class order)."""
        return list(self.heads["tagger"].classes) if self.heads["tagger"] is not None else []

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, records: list[dict], *, mode: str = "fast", encoder: Encoder | str | None = None,
              valid: list[dict] | None = None, seed: int = 0, progress: Progress | None = None,
              **options) -> "Extractor":
        """Fit heads for every label kind present in ``records`` (native turn dicts).

        ``encoder``: an Encoder, a name/path for ``load_encoder``, or None for the packaged one.
        ``valid``: held-out records for calibration and (full) early stopping; carved from
        ``records`` when absent. ``progress(stage, fraction)`` is called as training advances.
        ``options`` go to the mode's trainer (full: max_epochs, time_budget_s, lr, batch_size, ...).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not records:
            raise ValueError("Extractor.train: expected at least one labelled record, got 0")
        schema = label_schema(records)
        if not (schema["intents"] or schema["entities"] or schema["sentiments"]):
            raise ValueError("Extractor.train: expected records with intents, entities or sentiment; none has any")
        if not isinstance(encoder, Encoder):
            encoder = load_encoder(encoder)
        report = progress or (lambda stage, fraction: None)
        started = time.perf_counter()
        if mode == "fast":
            from pipeline.fast import train_fast

            heads, info = train_fast(records, schema, encoder, valid=valid, seed=seed, progress=report, **options)
            extractor = cls(schema=schema, mode=mode, encoder=encoder, heads=heads, tag_window=info["tag_window"])
        else:
            from pipeline.joint import train_full

            extractor, info = train_full(cls, records, schema, encoder, valid=valid, seed=seed, progress=report, **options)
        extractor.train_metrics = {**info, "n_train": len(records), "seed": seed,
                                   "train_seconds": round(time.perf_counter() - started, 2)}
        report("done", 1.0)
        return extractor

    # ---------------------------------------------------------------- prediction
    def predict_arrays(self, records: list[dict], *, batch_size: int = 64) -> ExtractorArrays:
        texts = [r["text"] for r in records]
        tagger = self.heads["tagger"]
        if tagger is not None:
            embeddings, tokens = self.encoder.embed_with_tokens(texts, batch_size=batch_size)
        else:
            embeddings, tokens = self.encoder.embed(texts, batch_size=batch_size), None
        intent, sentiment = self.heads["intent"], self.heads["sentiment"]
        return ExtractorArrays(
            ids=[r.get("id") for r in records], embeddings=embeddings,
            intent_probs=intent.predict_proba(embeddings) if intent else None,
            intent_classes=list(intent.classes) if intent else [], multi_label=bool(self.schema["multi_label"]),
            sentiment_probs=sentiment.predict_proba(embeddings) if sentiment else None,
            sentiment_classes=list(sentiment.classes) if sentiment else [],
            token_probs=self._token_probs(tokens) if tokens is not None else None,
            token_offsets=[t.offsets for t in tokens] if tokens is not None else None,
            tag_names=self.tag_names)

    def _token_probs(self, tokens) -> list[np.ndarray]:
        if not tokens:
            return []
        stacked = np.concatenate([window_features(t.vectors, self.tag_window) for t in tokens])
        probs = self.heads["tagger"].predict_proba(stacked)
        bounds = np.cumsum([len(t.offsets) for t in tokens])[:-1]
        return np.split(probs, bounds)

    def refit_on(self, records: list[dict], *, seed: int = 0, **options) -> "Extractor":
        """A fast extractor refit on ``records``, starting from these heads' weights (a few more labels: a
        few L-BFGS steps) and keeping their held-out calibration: ``records`` may hold the turns this one
        was calibrated on, and calibrating on them again would be in-sample. This one stays as it was."""
        return Extractor.train(records, mode="fast", encoder=self.encoder, seed=seed, warm_heads=self.heads,
                               calibration_from=self.heads, **options)

    def predict(self, records: list[dict]) -> list[dict]:
        """One row per turn: id, intents, intent_probs, entities (code-point spans + score), sentiment(_probs)."""
        arrays = self.predict_arrays(records)
        return [self._row(arrays, i, records[i].get("text")) for i in range(len(records))]

    def _row(self, arrays: ExtractorArrays, i: int, text: str | None) -> dict:
        row = {"id": arrays.ids[i], "intents": [], "intent_probs": {}, "entities": [],
               "sentiment": None, "sentiment_probs": {}}
        if arrays.intent_probs is not None:
            probs = arrays.intent_probs[i]
            row["intent_probs"] = {c: float(p) for c, p in zip(arrays.intent_classes, probs)}
            if arrays.multi_label:
                chosen = [j for j in np.argsort(-probs) if probs[j] >= MULTI_LABEL_THRESHOLD]
                row["intents"] = [arrays.intent_classes[j] for j in chosen]
            else:
                row["intents"] = [arrays.intent_classes[int(probs.argmax())]]
        if arrays.token_probs is not None:
            row["entities"] = decode_spans(arrays.token_probs[i], arrays.token_offsets[i], arrays.tag_names, text=text)
        if arrays.sentiment_probs is not None:
            probs = arrays.sentiment_probs[i]
            row["sentiment_probs"] = {c: float(p) for c, p in zip(arrays.sentiment_classes, probs)}
            row["sentiment"] = self.decide_sentiment(probs[None, :])[0]
        return row

    def decide_sentiment(self, sentiment_probs: np.ndarray) -> list[str]:
        """Sentiment labels for probability rows (n, s): the head's macro-F1 decision rule
        (``LinearHead.decide``), not a plain argmax, so a rare class is not under-predicted."""
        head = self.heads["sentiment"]
        if head is None:
            raise ValueError("decide_sentiment: this extractor has no sentiment head")
        return [head.classes[int(j)] for j in head.decide(sentiment_probs)]

    # ------------------------------------------------------------- persistence
    def save(self, out_dir) -> Path:
        """A self-describing directory: extractor.json (format, version, mode, encoder identity),
        schema.json, metrics.json, heads.npz, and the fine-tuned encoder/ in full mode."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for name, head in self.heads.items():
            if head is not None:
                arrays.update(head.to_arrays(name))
        np.savez(out / "heads.npz", **arrays)
        if self.mode == "full":
            self.encoder.save(out / "encoder")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "concord_version": concord_version(),
            "mode": self.mode, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "encoder": {"identity": self.encoder.identity, "name": self.encoder.name,
                        "source": None if self.mode == "full" else self.encoder.source,
                        "max_length": self.encoder.max_length},
            "tag_window": self.tag_window, "heads": [n for n, h in self.heads.items() if h is not None],
        }
        _write_json(out / "extractor.json", manifest)
        _write_json(out / "schema.json", self.schema)
        _write_json(out / "metrics.json", self.train_metrics)
        return out

    @classmethod
    def load(cls, path, *, expect_schema: dict | None = None, cache_dir=None) -> "Extractor":
        """Load a saved extractor; a different ``expect_schema`` or encoder fails with a ValueError."""
        root = Path(path)
        if not (root / "extractor.json").is_file():
            raise ValueError(f"{root}: not an extractor directory (expected {root / 'extractor.json'})")
        manifest = json.loads((root / "extractor.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{root}: expected {FORMAT} format version <= {FORMAT_VERSION}, "
                             f"got {manifest.get('format')} version {manifest.get('format_version')}")
        schema = json.loads((root / "schema.json").read_text(encoding="utf-8"))
        if expect_schema is not None and (diff := schema_difference(expect_schema, schema)):
            raise ValueError(f"{root}: the model's label schema differs from the expected one: {diff}")
        enc = manifest["encoder"]
        source = str(root / "encoder") if manifest["mode"] == "full" else enc["source"]
        encoder = load_encoder(source, cache_dir=cache_dir, max_length=enc["max_length"])
        if encoder.identity != enc["identity"]:
            raise ValueError(f"{root}: trained with encoder {enc['identity']}, but {source or 'the packaged encoder'} "
                             f"is now {encoder.identity}; retrain or point to the original encoder")
        with np.load(root / "heads.npz", allow_pickle=False) as arrays:
            heads = {name: LinearHead.from_arrays(arrays, name) for name in manifest["heads"]}
        metrics_path = root / "metrics.json"
        train_metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
        return cls(schema=schema, mode=manifest["mode"], encoder=encoder, heads=heads,
                   tag_window=manifest["tag_window"], train_metrics=train_metrics)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")


def evaluate(extractor: Extractor, records: list[dict]) -> dict:
    """Scores on labelled ``records``; a metric is None where the records (or model) lack that label."""
    rows = extractor.predict(records)
    arrays_needed = extractor.heads["intent"] is not None or extractor.heads["sentiment"] is not None
    out = {"n": len(records), "multi_label": bool(extractor.schema["multi_label"]),
           "intent_accuracy": None, "intent_macro_f1": None, "intent_micro_f1": None,
           "intent_confusion": None, "entity_f1": None, "entity_precision": None, "entity_recall": None,
           "entity_f1_per_type": None, "sentiment_macro_f1": None, "sentiment_accuracy": None,
           "intent_ece": None, "sentiment_ece": None}
    if arrays_needed:
        out.update(_intent_scores(extractor, records, rows))
        out.update(_sentiment_scores(records, rows))
    if extractor.heads["tagger"] is not None and any(r.get("entities") for r in records):
        scores = M.entity_scores([r.get("entities") or [] for r in records], [row["entities"] for row in rows])
        out.update(entity_f1=scores["f1"], entity_precision=scores["precision"], entity_recall=scores["recall"],
                   entity_f1_per_type={k: v["f1"] for k, v in scores["per_type"].items()})
    return out


def _intent_scores(extractor: Extractor, records: list[dict], rows: list[dict]) -> dict:
    multi = bool(extractor.schema["multi_label"])
    pairs = [(r, row) for r, row in zip(records, rows) if intent_labelled(r, multi)]
    if not pairs or extractor.heads["intent"] is None:
        return {}
    classes = extractor.heads["intent"].classes
    if multi:
        scores = M.multilabel_scores([r["intents"] for r, _ in pairs], [row["intents"] for _, row in pairs])
        probs = np.array([[row["intent_probs"][c] for c in classes] for _, row in pairs])
        truth = np.array([[c in r["intents"] for c in classes] for r, _ in pairs], dtype=float)
        return {"intent_accuracy": scores["subset_accuracy"], "intent_macro_f1": scores["macro_f1"],
                "intent_micro_f1": scores["micro_f1"], "intent_ece": M.binary_calibration_error(probs, truth)}
    gold = [r["intents"][0] for r, _ in pairs]
    pred = [row["intents"][0] for _, row in pairs]
    probs = np.array([[row["intent_probs"][c] for c in classes] for _, row in pairs])
    known = np.array([g in classes for g in gold])
    gold_idx = np.array([classes.index(g) if g in classes else -1 for g in gold])
    return {"intent_accuracy": M.accuracy(gold, pred), "intent_macro_f1": M.macro_f1(gold, pred),
            "intent_confusion": M.confusion(gold, pred, labels=sorted(set(classes) | set(gold))),
            "intent_ece": M.expected_calibration_error(probs[known], gold_idx[known]) if known.any() else None}


def _sentiment_scores(records: list[dict], rows: list[dict]) -> dict:
    pairs = [(r, row) for r, row in zip(records, rows) if r.get("sentiment") and row["sentiment"]]
    if not pairs:
        return {}
    gold, pred = [r["sentiment"] for r, _ in pairs], [row["sentiment"] for _, row in pairs]
    classes = list(pairs[0][1]["sentiment_probs"])
    known = [i for i, g in enumerate(gold) if g in classes]
    probs = np.array([[pairs[i][1]["sentiment_probs"][c] for c in classes] for i in known]).reshape(len(known), len(classes))
    ece = M.expected_calibration_error(probs, np.array([classes.index(gold[i]) for i in known])) if known else None
    return {"sentiment_macro_f1": M.macro_f1(gold, pred), "sentiment_accuracy": M.accuracy(gold, pred), "sentiment_ece": ece}
