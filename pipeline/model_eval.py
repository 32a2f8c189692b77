"""Scores of a ConcordModel on labelled turns: what ``concord evaluate`` prints and the worker stores.

Intent metrics are computed twice: for the model's suggestion (text fused with the response) and
for the text alone, so a report always shows whether fusion helped on this data. A metric is None
where the records lack that label. Alignment is scored against annotators' verdicts when there are
both kinds (``alignment_roc_auc``), and against responses swapped between conversations of the
same data (``alignment_swap_roc_auc``), which needs no verdicts.
"""
from __future__ import annotations

import numpy as np

from pipeline import metrics as M
from pipeline.alignment import swap_partners
from pipeline.extractor import MULTI_LABEL_THRESHOLD
from store.records import intent_labelled

MAX_SWAP_TURNS = 5000   # bound the cost of the synthetic swap check on large evaluation sets


def intent_metrics(records: list[dict], probs: np.ndarray | None, classes: list[str], *, multi_label: bool) -> dict:
    """accuracy (subset accuracy if multi-label), macro-F1, micro-F1 (multi), confusion, ECE (single)."""
    out = {"intent_accuracy": None, "intent_macro_f1": None, "intent_micro_f1": None,
           "intent_confusion": None, "intent_ece": None}
    rows = [i for i, r in enumerate(records) if intent_labelled(r, multi_label)]
    if probs is None or not rows or not classes:
        return out
    if multi_label:
        pred = [[classes[j] for j in np.flatnonzero(probs[i] >= MULTI_LABEL_THRESHOLD)] for i in rows]
        scores = M.multilabel_scores([records[i]["intents"] for i in rows], pred)
        return {**out, "intent_accuracy": scores["subset_accuracy"], "intent_macro_f1": scores["macro_f1"],
                "intent_micro_f1": scores["micro_f1"]}
    gold = [records[i]["intents"][0] for i in rows]
    pred = [classes[int(np.argmax(probs[i]))] for i in rows]
    known = np.array([g in classes for g in gold])
    gold_index = np.array([classes.index(g) if g in classes else -1 for g in gold])
    ece = M.expected_calibration_error(probs[rows][known], gold_index[known]) if known.any() else None
    return {**out, "intent_accuracy": M.accuracy(gold, pred), "intent_macro_f1": M.macro_f1(gold, pred),
            "intent_confusion": M.confusion(gold, pred, labels=sorted(set(classes) | set(gold))), "intent_ece": ece}


def entity_metrics(records: list[dict], rows: list[dict], *, has_tagger: bool) -> dict:
    out = {"entity_f1": None, "entity_precision": None, "entity_recall": None, "entity_f1_per_type": None}
    if not has_tagger or not any(r.get("entities") for r in records):
        return out
    scores = M.entity_scores([r.get("entities") or [] for r in records], [row["entities"] for row in rows])
    return {"entity_f1": scores["f1"], "entity_precision": scores["precision"], "entity_recall": scores["recall"],
            "entity_f1_per_type": {k: v["f1"] for k, v in scores["per_type"].items()}}


def sentiment_metrics(records: list[dict], rows: list[dict]) -> dict:
    pairs = [(r["sentiment"], row["sentiment"]) for r, row in zip(records, rows) if r.get("sentiment") and row["sentiment"]]
    if not pairs:
        return {"sentiment_macro_f1": None, "sentiment_accuracy": None, "sentiment_confusion": None}
    gold, pred = zip(*pairs)
    return {"sentiment_macro_f1": M.macro_f1(gold, pred), "sentiment_accuracy": M.accuracy(gold, pred),
            "sentiment_confusion": M.confusion(list(gold), list(pred))}


def judged_alignment_metrics(records: list[dict], misalignment_prob: np.ndarray) -> dict:
    """ROC-AUC / average precision of misalignment_prob against the turns' aligned verdicts."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rows = [i for i, r in enumerate(records)
            if r.get("response") and r.get("aligned") is not None and np.isfinite(misalignment_prob[i])]
    y = np.array([records[i]["aligned"] is False for i in rows])
    out = {"alignment_roc_auc": None, "alignment_average_precision": None, "n_alignment_judged": len(rows)}
    if len(rows) and 0 < y.sum() < len(y):
        p = misalignment_prob[rows]
        out.update(alignment_roc_auc=float(roc_auc_score(y, p)), alignment_average_precision=float(average_precision_score(y, p)))
    return out


def swap_alignment_metrics(model, records: list[dict], misalignment_prob: np.ndarray, *, seed: int = 0) -> dict:
    """Real responses against responses swapped in from other conversations of the same records."""
    from sklearn.metrics import roc_auc_score

    out = {"alignment_swap_roc_auc": None}
    rows = np.array([i for i, r in enumerate(records) if r.get("response") and r.get("aligned") is not False
                     and np.isfinite(misalignment_prob[i])], dtype=np.int64)[:MAX_SWAP_TURNS]
    groups = np.array([str(records[i].get("conversation_id") or records[i].get("id") or i) for i in range(len(records))])
    if len(rows) < 10 or len(np.unique(groups[rows])) < 2:
        return out
    turns, sources = swap_partners(groups, rows, repeats=1, seed=seed)
    swapped = [dict(records[t], response=records[s]["response"]) for t, s in zip(turns, sources)]
    swapped_p = model.score_pool(swapped).misalignment_prob
    y = np.r_[np.zeros(len(rows)), np.ones(len(turns))]
    out["alignment_swap_roc_auc"] = float(roc_auc_score(y, np.r_[misalignment_prob[rows], swapped_p]))
    return out


def evaluate_scores(model, records: list[dict], scores) -> dict:
    """All metrics for ``records`` given ``model.score_pool(records)`` (``scores``)."""
    multi = bool(model.schema["multi_label"])
    classes = list(scores.arrays.intent_classes)
    out = {"n": len(records), "multi_label": multi}
    out.update(intent_metrics(records, scores.intent_probs, classes, multi_label=multi))
    text_only = intent_metrics(records, scores.arrays.intent_probs, classes, multi_label=multi)
    out.update(intent_accuracy_text_only=text_only["intent_accuracy"], intent_macro_f1_text_only=text_only["intent_macro_f1"])
    out.update(entity_metrics(records, scores.rows, has_tagger=scores.arrays.token_probs is not None))
    out.update(sentiment_metrics(records, scores.rows))
    out.update(judged_alignment_metrics(records, scores.misalignment_prob))
    out.update(swap_alignment_metrics(model, records, scores.misalignment_prob))
    n_resp = int(np.isfinite(scores.alignment_score).sum())
    out["fusion"] = {"weight": model.fusion_weight, "gated": model.fusion_gated, "n_with_response": n_resp}
    return out
