"""Evaluation metrics shared by the extractor, the CLI, the active-learning loop and the benches.

Pure functions over plain lists and arrays (no model, no I/O), so every consumer reports the same
numbers the same way: intent accuracy and macro-F1 (single-label), micro/macro-F1 and subset
accuracy (multi-label), exact-span entity micro-F1 with per-type scores (the CoNLL/seqeval
convention), sentiment macro-F1, and expected calibration error to check calibrated probabilities.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


def _check_lengths(a: Sequence, b: Sequence, what: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{what}: expected as many predictions as gold items, got {len(b)} predictions for {len(a)} gold")


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float | None:
    """Share of exact matches; None when there is nothing to score."""
    _check_lengths(y_true, y_pred, "accuracy")
    if not y_true:
        return None
    return float(np.mean([t == p for t, p in zip(y_true, y_pred)]))


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float | None:
    """Unweighted mean F1 over every label seen in gold or predictions (sklearn's convention)."""
    from sklearn.metrics import f1_score

    _check_lengths(y_true, y_pred, "macro_f1")
    if not y_true:
        return None
    return float(f1_score(list(y_true), list(y_pred), average="macro", zero_division=0))


def multilabel_scores(true_sets: Sequence[Sequence[str]], pred_sets: Sequence[Sequence[str]]) -> dict | None:
    """Micro-F1 (the NLU++ headline), macro-F1 over labels, and subset (exact-set) accuracy."""
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    _check_lengths(true_sets, pred_sets, "multilabel_scores")
    if not true_sets:
        return None
    binarizer = MultiLabelBinarizer().fit([*true_sets, *pred_sets])
    y_true, y_pred = binarizer.transform(true_sets), binarizer.transform(pred_sets)
    return {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "subset_accuracy": float(np.mean([set(t) == set(p) for t, p in zip(true_sets, pred_sets)])),
    }


def _prf(tp: int, n_pred: int, n_gold: int) -> dict:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def entity_scores(true_spans: Sequence[Sequence[dict]], pred_spans: Sequence[Sequence[dict]]) -> dict:
    """Exact-span (start, end, label) micro precision/recall/F1 over all turns, and per type."""
    _check_lengths(true_spans, pred_spans, "entity_scores")
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for gold, pred in zip(true_spans, pred_spans):
        gold_set = {(s["start"], s["end"], s["label"]) for s in gold}
        pred_set = {(s["start"], s["end"], s["label"]) for s in pred}
        for _, _, label in gold_set:
            n_gold[label] += 1
        for span in pred_set:
            n_pred[span[2]] += 1
            tp[span[2]] += span in gold_set
    overall = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    overall["per_type"] = {label: _prf(tp[label], n_pred[label], n_gold[label])
                           for label in sorted(set(n_gold) | set(n_pred))}
    return overall


def confusion(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str] | None = None) -> dict:
    """``{"labels": [...], "matrix": [[...]]}``: rows are gold, columns predicted (for the UI heatmap)."""
    from sklearn.metrics import confusion_matrix

    _check_lengths(y_true, y_pred, "confusion")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    if not y_true:
        return {"labels": labels, "matrix": []}
    matrix = confusion_matrix(list(y_true), list(y_pred), labels=labels)
    return {"labels": labels, "matrix": matrix.tolist()}


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, *, n_bins: int = 15) -> float:
    """Top-label ECE of (n, k) class probabilities against integer gold classes (Guo et al. 2017)."""
    probs = np.asarray(probs, dtype=float)
    y_true = np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"expected probs (n, k) and y_true (n,), got {probs.shape} and {y_true.shape}")
    confidence, predicted = probs.max(1), probs.argmax(1)
    return _binned_gap(confidence, (predicted == y_true).astype(float), n_bins)


def binary_calibration_error(p: np.ndarray, y: np.ndarray, *, n_bins: int = 15) -> float:
    """ECE of independent binary probabilities (multi-label heads), all label decisions pooled."""
    p, y = np.asarray(p, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if len(p) != len(y):
        raise ValueError(f"expected as many labels as probabilities, got {len(y)} and {len(p)}")
    return _binned_gap(p, y, n_bins)


def _binned_gap(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    if not len(confidence):
        return 0.0
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        gap += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(gap)
