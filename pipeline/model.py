"""The Concord model: extractor + alignment model + fusion weight, trained, saved and scored as one.

This is what the CLI (``concord train/evaluate/predict``) and the background worker call, so both
give the same numbers. Training carves a held-out slice by conversation (unless ``valid`` is
given): the extractor learns on the rest, and the held-out turns fit what must be fitted out of
sample -- the alignment combiner, its rank and ridge penalty, and the fusion weight. In fast mode
the extractor is then refit on every turn (seconds), so suggestions use all labels.

The suggestion for a turn with a response fuses p(intent | text) with p(intent | response)
(``pipeline.fusion``), gated by p(response aligned) so an off-topic reply cannot hijack it.
The alignment check reads the turn's intent from its labels when it has any (an annotated turn is
checked against what the annotator said), else from the extractor's prediction.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.alignment import AlignmentModel, AlignmentScores, PairArrays
from pipeline.extractor import MULTI_LABEL_THRESHOLD, Extractor, ExtractorArrays, concord_version

FORMAT = "concord-model"
FORMAT_VERSION = 1
HOLDOUT_FRACTION = 0.2
MIN_TURNS_FOR_HOLDOUT = 50     # fewer turns: no held-out slice (alignment calibrates in-sample, w = 0)
MIN_FUSION_TURNS = 20          # held-out labelled turns with responses needed to learn the fusion weight
MIN_ALIGNMENT_PAIRS = 10

Progress = Callable[[str, float], None]


def _group_of(record: dict, index: int) -> str:
    return str(record.get("conversation_id") or record.get("id") or f"#{index}")


def split_holdout(records: list[dict], *, fraction: float = HOLDOUT_FRACTION, seed: int = 0) -> np.ndarray:
    """Boolean mask: whole conversations held out (seeded), none when there are too few turns."""
    held = np.zeros(len(records), bool)
    groups = np.array([_group_of(r, i) for i, r in enumerate(records)])
    unique = np.unique(groups)
    if len(records) < MIN_TURNS_FOR_HOLDOUT or len(unique) < 5:
        return held
    chosen = np.random.default_rng(seed).choice(unique, size=max(1, int(round(fraction * len(unique)))), replace=False)
    return np.isin(groups, chosen)


def last_assistant_text(record: dict) -> str | None:
    for turn in reversed(record.get("context") or []):
        if turn.get("speaker") == "assistant" and (turn.get("text") or "").strip():
            return turn["text"]
    return None


def intent_targets(records: list[dict], classes: list[str]) -> np.ndarray:
    """(n, k) multi-hot of each record's labelled intents over ``classes`` (unknown ones ignored)."""
    index = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(records), len(classes)))
    for i, r in enumerate(records):
        for intent in r.get("intents") or []:
            if intent in index:
                out[i, index[intent]] = 1.0
    return out


def turn_intent_distribution(targets: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
    """The labelled intents (uniform over them) where a turn has any, else the extractor's probabilities."""
    if predicted is None:
        return targets
    counts = targets.sum(axis=1, keepdims=True)
    return np.where(counts > 0, targets / np.maximum(counts, 1.0), predicted)


def align_columns(probs: np.ndarray | None, source: list[str], target: list[str], *, fill: float = 0.0) -> np.ndarray | None:
    """Re-order (n, len(source)) probability columns into ``target`` order; missing classes get ``fill``."""
    if probs is None:
        return None
    if list(source) == list(target):
        return np.asarray(probs, dtype=np.float64)
    index = {c: j for j, c in enumerate(source)}
    out = np.full((len(probs), len(target)), fill, dtype=np.float64)
    for j, c in enumerate(target):
        if c in index:
            out[:, j] = probs[:, index[c]]
    return out


def entity_indicators(arrays: ExtractorArrays, entity_types: list[str]) -> np.ndarray:
    """(n, e): per entity type, the highest probability any subword is inside such a span.

    One product of all turns' stacked subword probabilities with a tag -> type matrix, then a
    per-turn max (a loop per turn and type took seconds on a 10k pool)."""
    n = len(arrays.ids)
    out = np.zeros((n, len(entity_types)))
    if arrays.token_probs is None or not entity_types:
        return out
    tag_to_type = np.zeros((len(arrays.tag_names), len(entity_types)))
    for j, label in enumerate(entity_types):
        for c, name in enumerate(arrays.tag_names):
            if name in (f"B-{label}", f"I-{label}"):
                tag_to_type[c, j] = 1.0
    lengths = np.array([len(p) for p in arrays.token_probs])
    if lengths.sum() == 0:
        return out
    stacked = np.concatenate([np.asarray(p, np.float64).reshape(-1, len(arrays.tag_names)) for p in arrays.token_probs])
    inside = stacked @ tag_to_type
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    nonempty = lengths > 0
    out[nonempty] = np.maximum.reduceat(inside, starts[nonempty], axis=0)
    return out


@dataclass
class PoolScores:
    """Everything the model says about a list of turns: rows plus arrays for array consumers."""

    rows: list[dict]
    arrays: ExtractorArrays
    intent_probs: np.ndarray | None      # the fused suggestion (= text probabilities without a response)
    alignment_score: np.ndarray          # (n,) NaN where a turn has no response (or no alignment model)
    misalignment_prob: np.ndarray        # (n,) NaN likewise
    alignment_features: np.ndarray | None   # (n, 4) components, NaN rows without a response

    @property
    def embeddings(self) -> np.ndarray:
        return self.arrays.embeddings


class ConcordModel:
    """Build with ``ConcordModel.train`` or ``ConcordModel.load``; score with ``predict``/``score_pool``."""

    def __init__(self, *, extractor: Extractor, alignment: AlignmentModel | None = None,
                 fusion_weight: float = 0.0, fusion_gated: bool = True, report: dict | None = None):
        self.extractor, self.alignment = extractor, alignment
        self.fusion_weight, self.fusion_gated = float(fusion_weight), bool(fusion_gated)
        self.report = report or {}

    @property
    def schema(self) -> dict:
        return self.extractor.schema

    @property
    def encoder_identity(self) -> str:
        return self.extractor.encoder_identity

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, records: list[dict], *, mode: str = "fast", encoder=None, valid: list[dict] | None = None,
              seed: int = 0, progress: Progress | None = None, alignment: bool = True,
              representation: str = "embedding", fusion_gated: bool = True, **options) -> "ConcordModel":
        """Train on native turn records. ``options`` go to ``Extractor.train`` (e.g. full-mode epochs)."""
        report = progress or (lambda stage, fraction: None)
        if valid:
            fit_records, held_records, carved = list(records), list(valid), False
        else:
            held = split_holdout(records, seed=seed)
            fit_records = [r for r, h in zip(records, held) if not h]
            held_records, carved = [r for r, h in zip(records, held) if h], bool(held.any())
        extractor = Extractor.train(fit_records, mode=mode, encoder=encoder, valid=held_records or None, seed=seed,
                                    progress=lambda stage, f: report(f"extractor:{stage}", 0.6 * float(f or 0)),
                                    **options)
        model = cls(extractor=extractor, fusion_gated=fusion_gated,
                    report={"mode": mode, "n_train": len(records), "n_holdout": len(held_records),
                            "extractor": dict(extractor.train_metrics)})
        if alignment:       # explicit ``valid`` records stay unseen; a carved slice is refit on at the end
            report("alignment", 0.65)
            model._fit_alignment(fit_records, held_records, representation=representation, seed=seed,
                                 refit_all=carved or not held_records)
        if carved and mode == "fast":
            report("refit", 0.9)
            model.extractor = Extractor.train(list(records), mode=mode, encoder=extractor.encoder, seed=seed, **options)
            model.report["extractor"] = dict(model.extractor.train_metrics)
        report("done", 1.0)
        return model

    def _fit_alignment(self, fit_records, held_records, *, representation: str, seed: int, refit_all: bool = True) -> None:
        records = list(fit_records) + list(held_records)
        held = np.array([False] * len(fit_records) + [True] * len(held_records))
        rows = np.array([i for i, r in enumerate(records) if r.get("response")], dtype=np.int64)
        if len(rows) < MIN_ALIGNMENT_PAIRS:
            self.report["alignment"] = {"skipped": f"expected >= {MIN_ALIGNMENT_PAIRS} turns with responses, got {len(rows)}"}
            return
        subset = [records[i] for i in rows]
        arrays = self.extractor.predict_arrays(subset)
        classes = sorted({i for r in records for i in r.get("intents") or []}) if arrays.intent_probs is not None else []
        pairs = self.pair_arrays(subset, arrays, classes)
        targets = intent_targets(subset, classes)
        misaligned = np.array([r.get("aligned") is False for r in subset])
        groups = np.array([_group_of(r, i) for r, i in zip(subset, rows)])
        holdout = held[rows] if held[rows].any() else None
        started = time.perf_counter()
        try:
            self.alignment = AlignmentModel.fit(
                pairs, intent_targets=targets, classes=classes, groups=groups, misaligned=misaligned,
                holdout=holdout, multi_label=bool(self.schema["multi_label"]), representation=representation, seed=seed,
                refit_all=refit_all)
        except ValueError as exc:   # e.g. every pair judged misaligned: no model, say why
            self.report["alignment"] = {"skipped": str(exc)}
            return
        self.report["alignment"] = {**self.alignment.report, "fit_seconds": round(time.perf_counter() - started, 2)}
        if holdout is not None:
            self._fit_fusion(pairs, arrays, targets, misaligned, holdout, classes, seed)

    def alignment_refit_on(self, records: list[dict], *, seed: int = 0) -> AlignmentModel | None:
        """The alignment model with its cheap parts refit on every aligned pair of ``records`` (a copy; None
        without an alignment model). The worker deploys this after evaluating on its held-out slice."""
        subset = [r for r in records if r.get("response")]
        if self.alignment is None or not subset:
            return self.alignment
        classes = self.alignment.intent_classes or []
        arrays = self.extractor.predict_arrays(subset)
        return self.alignment.refit_on(self.pair_arrays(subset, arrays, classes), intent_targets=intent_targets(subset, classes),
                                       misaligned=np.array([r.get("aligned") is False for r in subset]),
                                       multi_label=bool(self.schema["multi_label"]), seed=seed)

    def _fit_fusion(self, pairs, arrays, targets, misaligned, holdout, classes, seed) -> None:
        """Learn w on held-out labelled turns, with a response classifier that never saw them."""
        from pipeline.fusion import ResponseIntentClassifier, fit_fusion_weight, fuse, mean_log_likelihood

        train_rows = ~holdout & ~misaligned & (targets.sum(axis=1) > 0)
        eval_rows = holdout & (targets.sum(axis=1) > 0)
        if arrays.intent_probs is None or eval_rows.sum() < MIN_FUSION_TURNS or not train_rows.any():
            self.report["fusion"] = {"weight": 0.0, "skipped": "too few held-out labelled turns with responses"}
            return
        multi = bool(self.schema["multi_label"])
        clf = ResponseIntentClassifier.fit(pairs.response[train_rows], targets[train_rows], classes=classes,
                                           multi_label=multi, seed=seed)
        p_text = align_columns(arrays.intent_probs, arrays.intent_classes, classes)[eval_rows]
        p_resp = clf.predict_proba(pairs.response[eval_rows])
        gate = self.alignment.score(pairs.subset(eval_rows)).alignment_score if self.fusion_gated else None
        kw = dict(prior=clf.prior, multi_label=multi, gate=gate)
        self.fusion_weight = fit_fusion_weight(p_text, p_resp, targets[eval_rows], **kw)
        fused = fuse(p_text, p_resp, weight=self.fusion_weight, **kw)
        self.report["fusion"] = {
            "weight": self.fusion_weight, "gated": self.fusion_gated, "n_holdout": int(eval_rows.sum()),
            "log_likelihood_text": mean_log_likelihood(p_text, targets[eval_rows], multi_label=multi),
            "log_likelihood_fused": mean_log_likelihood(fused, targets[eval_rows], multi_label=multi),
        }

    def pair_arrays(self, records: list[dict], arrays: ExtractorArrays, classes: list[str]) -> PairArrays:
        """Embeddings of utterance, last assistant context turn and response, plus intent evidence
        (over ``classes``, the alignment model's intent order)."""
        encoder = self.extractor.encoder
        response = encoder.embed([r["response"] for r in records])
        contexts = [last_assistant_text(r) for r in records]
        context = np.zeros_like(response)
        with_context = [i for i, c in enumerate(contexts) if c]
        if with_context:
            context[with_context] = encoder.embed([contexts[i] for i in with_context])
        targets = intent_targets(records, classes)
        intent_probs = align_columns(arrays.intent_probs, arrays.intent_classes, classes)
        parts = [p for p in (intent_probs, entity_indicators(arrays, self.schema["entities"]),
                             arrays.sentiment_probs) if p is not None and p.shape[1]]
        return PairArrays(arrays.embeddings, context, response, turn_intent_distribution(targets, intent_probs),
                          np.hstack(parts) if parts else None)

    # ---------------------------------------------------------------- prediction
    def score_pool(self, records: list[dict]) -> PoolScores:
        """Rows (``predict``'s output) and the arrays behind them, computed once."""
        arrays = self.extractor.predict_arrays(records)
        n = len(records)
        fused = None if arrays.intent_probs is None else np.array(arrays.intent_probs, dtype=np.float64)
        alignment_score, misalignment = np.full(n, np.nan), np.full(n, np.nan)
        features = None
        rows = np.array([i for i, r in enumerate(records) if r.get("response")], dtype=np.int64)
        if self.alignment is not None and len(rows):
            scores, fused_rows = self._score_responses([records[i] for i in rows], _subset_arrays(arrays, rows))
            alignment_score[rows], misalignment[rows] = scores.alignment_score, scores.misalignment_prob
            features = np.full((n, scores.features.shape[1]), np.nan)
            features[rows] = scores.features
            if fused is not None and fused_rows is not None:
                fused[rows] = fused_rows
        sentiments = (None if arrays.sentiment_probs is None or not n   # the head's macro-F1 rule, not argmax
                      else self.extractor.decide_sentiment(arrays.sentiment_probs))
        out_rows = [self._row(records[i], arrays, fused, i, alignment_score[i], misalignment[i],
                              None if sentiments is None else sentiments[i]) for i in range(n)]
        return PoolScores(out_rows, arrays, fused, alignment_score, misalignment, features)

    def _score_responses(self, records, arrays) -> tuple[AlignmentScores, np.ndarray | None]:
        from pipeline.fusion import fuse

        clf = self.alignment.response_classifier
        pairs = self.pair_arrays(records, arrays, self.alignment.intent_classes or [])
        scores = self.alignment.score(pairs)
        if arrays.intent_probs is None or clf is None or self.fusion_weight == 0:
            return scores, None
        # classes the response classifier never saw get a neutral ratio (p_response = prior): p_text stands
        p_resp = align_columns(clf.predict_proba(pairs.response), clf.classes, arrays.intent_classes, fill=0.5)
        prior = align_columns(clf.prior[None, :], clf.classes, arrays.intent_classes, fill=0.5)[0]
        fused = fuse(arrays.intent_probs, p_resp, weight=self.fusion_weight, prior=prior,
                     multi_label=bool(self.schema["multi_label"]),
                     gate=scores.alignment_score if self.fusion_gated else None)
        return scores, fused

    def _row(self, record, arrays: ExtractorArrays, fused, i: int, alignment_score, misalignment, sentiment) -> dict:
        from pipeline.tagging import decode_spans

        row = {"id": record.get("id"), "intents": [], "intent_probs": {}, "entities": [], "sentiment": None,
               "sentiment_probs": {}, "alignment_score": _float_or_none(alignment_score),
               "misalignment_prob": _float_or_none(misalignment)}
        if fused is not None:
            probs = fused[i]
            row["intent_probs"] = {c: float(p) for c, p in zip(arrays.intent_classes, probs)}
            if arrays.multi_label:
                row["intents"] = [arrays.intent_classes[j] for j in np.argsort(-probs) if probs[j] >= MULTI_LABEL_THRESHOLD]
            else:
                row["intents"] = [arrays.intent_classes[int(np.argmax(probs))]]
        if arrays.token_probs is not None:
            row["entities"] = decode_spans(arrays.token_probs[i], arrays.token_offsets[i], arrays.tag_names,
                                             text=record.get("text"))
        if arrays.sentiment_probs is not None:
            probs = arrays.sentiment_probs[i]
            row["sentiment_probs"] = {c: float(p) for c, p in zip(arrays.sentiment_classes, probs)}
            row["sentiment"] = sentiment
        return row

    def predict(self, records: list[dict]) -> list[dict]:
        """One row per turn: id, intents, intent_probs, entities, sentiment(_probs), alignment_score,
        misalignment_prob (both None without a response)."""
        return self.score_pool(records).rows

    def evaluate(self, records: list[dict]) -> dict:
        from pipeline.model_eval import evaluate_scores

        return evaluate_scores(self, records, self.score_pool(records))

    # ------------------------------------------------------------- persistence
    def save(self, out_dir) -> Path:
        """model.json (format, versions, encoder identity, fusion), schema.json, metrics.json,
        extractor/ (``Extractor.save``) and alignment.npz (plain arrays, loaded without pickle)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.extractor.save(out / "extractor")
        if self.alignment is not None:
            np.savez(out / "alignment.npz", **self.alignment.to_arrays())
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "concord_version": concord_version(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": self.extractor.mode,
            "encoder": {"identity": self.encoder_identity, "name": self.extractor.encoder.name},
            "fusion": {"weight": self.fusion_weight, "gated": self.fusion_gated},
            "alignment": None if self.alignment is None else {
                k: self.alignment.report.get(k) for k in ("representation", "rank", "alpha")} if self.alignment.report else {},
        }
        for name, obj in (("model.json", manifest), ("schema.json", self.schema), ("metrics.json", self.report)):
            (out / name).write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path, *, expect_schema: dict | None = None, cache_dir=None) -> "ConcordModel":
        """Load a saved model; a different ``expect_schema`` fails with a ValueError naming the difference."""
        root = Path(path)
        manifest_path = root / "model.json"
        if not manifest_path.is_file():
            raise ValueError(f"{root}: not a Concord model directory (expected {manifest_path})")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or int(manifest.get("format_version") or 0) > FORMAT_VERSION:
            raise ValueError(f"{root}: expected {FORMAT} format version <= {FORMAT_VERSION}, "
                             f"got {manifest.get('format')} version {manifest.get('format_version')}")
        extractor = Extractor.load(root / "extractor", expect_schema=expect_schema, cache_dir=cache_dir)
        report_path = root / "metrics.json"
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
        alignment = None
        if (root / "alignment.npz").is_file():
            with np.load(root / "alignment.npz", allow_pickle=False) as arrays:
                alignment = AlignmentModel.from_arrays(arrays, report=report.get("alignment"))
        fusion = manifest.get("fusion") or {}
        return cls(extractor=extractor, alignment=alignment, fusion_weight=float(fusion.get("weight") or 0.0),
                   fusion_gated=bool(fusion.get("gated", True)), report=report)


def _subset_arrays(arrays: ExtractorArrays, rows: np.ndarray) -> ExtractorArrays:
    def take(a):
        return None if a is None else a[rows]

    def take_list(a):
        return None if a is None else [a[i] for i in rows]

    return ExtractorArrays(ids=[arrays.ids[i] for i in rows], embeddings=arrays.embeddings[rows],
                           intent_probs=take(arrays.intent_probs), intent_classes=arrays.intent_classes,
                           multi_label=arrays.multi_label, sentiment_probs=take(arrays.sentiment_probs),
                           sentiment_classes=arrays.sentiment_classes, token_probs=take_list(arrays.token_probs),
                           token_offsets=take_list(arrays.token_offsets), tag_names=arrays.tag_names)


def _float_or_none(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _json_default(obj):
    return obj.tolist() if hasattr(obj, "tolist") else str(obj)
