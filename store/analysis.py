"""Every read the analyst pages need -- model health, label-error candidates, misalignments, evidence --
as SQL over the store, so pages hold no SQL and stay fast at 100k turns.

Why not ``store.effective.effective_labels``: it builds a pandas row per labelled turn (with the
full majority vote), which takes tens of seconds at 100k turns. Here the current label of each turn is
one SQL CTE (``CURRENT_LABELS``) with the same precedence -- an adjudication, else the annotators'
most common value per field (ties: first submitted), else imported gold -- and every view aggregates inside
DuckDB, returning only what is drawn. Renamed labels are mapped to today's names on those small
results. Agreement statistics live in ``store.agreement``; this module re-exports them.

Scope of model views: a run's predictions of labelled turns are held-out only for turns the run did
not train on. When the run's metrics list its held-out ids (``holdout_ids``), views use just those
(scope "held-out"); otherwise every labelled turn (scope "labelled", in-sample for the model) and the
page says so. The run lookup, that scope and the per-turn snapshot -- including how multi-label intents
compare as sets -- live in ``store.model_snapshot`` and are re-exported here.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from store import agreement as _agreement
from store import entity_errors
from store.entity_errors import entity_scores  # noqa: F401 (re-export: the Model health entity chart)
from store.agreement import queue_votes, turn_votes  # noqa: F401 (re-export)
from store.current import (CURRENT_LABELS, cached, current_corrections, current_labels, current_labels_sql,  # noqa: F401
                           data_version, labelled_records, labelled_turn_ids, over_current, turn_texts)
from store.current import _renamer
from store.fixed_rows import (adjudicated_since, entity_rows_fixed_since,  # noqa: F401 (re-export: Label errors)
                              labels_before_fix)
from store.labels import get_schema
from store.misalignment_views import (  # noqa: F401 (re-export: the Misalignment page's reads)
    _alignment_filtered, alignment_frame, alignment_histogram, fit_label, worst_aligned)
from store.model_snapshot import (NO_INTENT, ModelSnapshot, _decode, heldout_ids, heldout_metrics,  # noqa: F401
                                  model_snapshot, model_versions, pair_intents, resolve_run, scope_condition)

FIELDS = ("intent", "sentiment")   # the fields with a single-label (gold, predicted) pair per turn


# ------------------------------------------------------------------------------------ runs
def runs(db, project: str = "default") -> pd.DataFrame:
    """Finished and failed runs, oldest first, with their held-out headline metrics as columns
    (the run history table and the learning curve: metric vs number of labels)."""
    # only the metrics' "holdout" object: a run's metrics also list its held-out ids (20% of the labels),
    # which a history of many runs at 100k labels would otherwise decode on every page render
    rows = [_decode(r) for r in db.query_dicts(
        "SELECT run_id, kind, status, model_version, n_labels, json_extract(metrics, '$.holdout') AS metrics, timings,"
        " error, created_at, finished_at "
        "FROM model_runs WHERE project = ? AND status IN ('done', 'failed') ORDER BY created_at, run_id", [project])]
    for row in rows:
        held = row["metrics"] or {}
        for key in ("intent_accuracy", "intent_macro_f1", "entity_f1", "sentiment_macro_f1", "alignment_roc_auc"):
            row[key] = held.get(key)
        row["n_holdout"] = held.get("n")
        row["train_seconds"] = sum(v for v in row["timings"].values() if isinstance(v, (int, float))) or None
        del row["metrics"], row["timings"]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- model snapshot
def agreement_summary(db, project: str = "default") -> dict:
    """``store.agreement.agreement_summary``, cached per data version."""
    return cached("agreement", db, project, lambda: _agreement.agreement_summary(db, project))


def annotator_stats(db, project: str = "default", *, run_id: str | None = None):
    """``store.agreement.annotator_stats``, cached per data version."""
    return cached("annotators", db, project, lambda: _agreement.annotator_stats(db, project, run_id=run_id), run_id)


def adjudication_queue(db, project: str = "default", *, limit: int = 200):
    """``store.agreement.adjudication_queue``, cached per data version (a resolution changes the version)."""
    return cached("queue", db, project, lambda: _agreement.adjudication_queue(db, project, limit=limit), limit)


def confusion_from(snapshot: ModelSnapshot | None, field: str = "intent", *,
                   leave_out: frozenset = frozenset()) -> dict:
    """Gold (rows) vs predicted (columns) counts: ``{"labels", "matrix", "n", "scope", "run_id", "model_version"}``.
    ``leave_out``: turn ids not counted (the Model health page leaves out the turns the run's encoder could
    not read, ``unreadable_turn_ids``, as its cell lists do)."""
    if field not in FIELDS:
        raise ValueError(f"field: expected one of {sorted(FIELDS)}, got {field!r}")
    if snapshot is None:
        return {"labels": [], "matrix": [], "n": 0, "scope": None, "run_id": None, "model_version": None}
    frame = snapshot.frame[~snapshot.frame["turn_id"].isin(leave_out)] if leave_out else snapshot.frame
    pairs = frame[[f"gold_{field}", f"pred_{field}"]].dropna()
    gold, pred = pairs.iloc[:, 0].to_numpy(str), pairs.iloc[:, 1].to_numpy(str)
    labels, codes = np.unique(np.concatenate([gold, pred]), return_inverse=True)
    labels = labels.tolist()
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(matrix, (codes[:len(gold)], codes[len(gold):]), 1)
    return {"labels": labels, "matrix": matrix.tolist(), "n": int(matrix.sum()), "scope": snapshot.scope,
            "run_id": snapshot.run["run_id"], "model_version": snapshot.run.get("model_version")}


def confusion(db, project: str = "default", *, field: str = "intent", run_id: str | None = None) -> dict:
    """``confusion_from`` the run's snapshot. Multi-label intents compare as sets: one (gold, predicted) pair
    per turn, the top predicted intent correct when it is one of the gold intents
    (``store.model_snapshot.pair_intents``); a turn the model gave no intent is predicted ``NO_INTENT``."""
    return confusion_from(model_snapshot(db, project, run_id=run_id), field)


def calibration_from(snapshot: ModelSnapshot | None, *, bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: per confidence bin of the predicted intent, mean confidence, accuracy, count."""
    columns = ["bin", "confidence", "accuracy", "count"]
    if snapshot is None:
        return pd.DataFrame(columns=columns)
    f = snapshot.frame.dropna(subset=["confidence", "gold_intent", "pred_intent"])
    correct = (f["gold_intent"] == f["pred_intent"]).astype(float)
    which = np.minimum((f["confidence"].to_numpy(float) * bins).astype(int), bins - 1)
    out = pd.DataFrame({"bin": which, "confidence": f["confidence"].to_numpy(float), "accuracy": correct.to_numpy()})
    grouped = out.groupby("bin").agg(confidence=("confidence", "mean"), accuracy=("accuracy", "mean"),
                                     count=("accuracy", "size")).reset_index()
    return grouped[columns]


def calibration(db, project: str = "default", *, run_id: str | None = None, bins: int = 10) -> pd.DataFrame:
    return calibration_from(model_snapshot(db, project, run_id=run_id), bins=bins)


def per_class_scores(matrix_data: dict) -> pd.DataFrame:
    """Per label precision, recall, F1 and support from a ``confusion`` result (pure; no query).

    Undefined is NaN, not 0 (st.dataframe shows an empty cell): precision of a label never predicted,
    recall and F1 of a label with no support -- a label the model predicts but no turn has gets
    precision 0 (all its predictions were wrong) and no recall or F1; a label with support the model
    never predicts gets recall 0 and F1 0 (a real miss). The ``NO_INTENT`` column (turns the model gave
    no intent) is not a label and has no row."""
    labels, m = matrix_data["labels"], np.asarray(matrix_data["matrix"], dtype=float)
    if not labels:
        return pd.DataFrame(columns=["label", "precision", "recall", "f1", "support"])
    tp, predicted, support = np.diag(m), m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.full_like(tp, np.nan), where=predicted > 0)
    recall = np.divide(tp, support, out=np.full_like(tp, np.nan), where=support > 0)
    f1 = np.divide(2 * tp, support + predicted, out=np.full_like(tp, np.nan), where=support > 0)
    table = pd.DataFrame({"label": labels, "precision": precision.round(4), "recall": recall.round(4),
                          "f1": f1.round(4), "support": support.astype(int)})
    return table[table["label"] != NO_INTENT].reset_index(drop=True)


def confusion_cell_turns(db, project: str = "default", *, gold: str, predicted: str, field: str = "intent",
                         run_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The turns in one confusion cell, most confident prediction first: turn_id, text, response, given,
    predicted, confidence, intents (all the turn's current intents, ", "-joined), ``model_has_given``
    (the model also predicts the given intent: then it suggests adding, not replacing, so no relabel) and
    ``encoder_reads`` (as in ``label_error_candidates``: False, its prediction says nothing)."""
    columns = ["turn_id", "text", "response", "given", "predicted", "confidence", "intents", "model_has_given",
               "encoder_reads"]
    snapshot = model_snapshot(db, project, run_id=run_id)
    if snapshot is None:
        return pd.DataFrame(columns=columns)
    f = snapshot.frame
    confidence = "confidence" if field == "intent" else "sentiment_confidence"
    cell = f[(f[f"gold_{field}"] == gold) & (f[f"pred_{field}"] == predicted)]
    cell = cell.sort_values(confidence, ascending=False, na_position="last").head(limit)
    out = cell.rename(columns={f"gold_{field}": "given", f"pred_{field}": "predicted", confidence: "confidence"})
    out = out.assign(intents=out["gold_intents"].map(", ".join),
                     model_has_given=out["model_has_given"] if field == "intent" else False)
    reads = _reads_of(db, snapshot.run["run_id"], out["turn_id"].tolist())
    out["encoder_reads"] = pd.Series([reads.get(t) for t in out["turn_id"]], index=out.index, dtype=object)
    texts = turn_texts(db, out["turn_id"].tolist())
    return out[["turn_id", "given", "predicted", "confidence", "intents", "model_has_given", "encoder_reads"]].merge(
        texts, on="turn_id", how="left")[columns]


# ------------------------------------------------------------------------ label errors
def label_error_candidates(db, project: str = "default", *, field: str = "intent", run_id: str | None = None,
                           limit: int = 200) -> pd.DataFrame:
    """Labelled turns the run's prediction disagrees with, most likely error first.

    Score = 1 - p(given label) (cleanlab's self-confidence label quality), from the stored
    probabilities: out-of-sample only for held-out turns (see module docstring); the page offers the
    out-of-fold audit (``pipeline.label_errors.rank_label_errors``) for the rest. ``field="entity"``:
    span disagreements (``store.entity_errors``), one row per span, with ``row_id``/``start``/``end``/``span_text``.

    Intents compare as sets (``store.model_snapshot``): a turn is listed only when the model's top intent
    is none of its intents and the given intent is one the model does not predict; ``suggested`` is
    then never an intent the turn already has, and a relabel replaces just ``given`` (``intents`` lists
    them all). A turn the model gave no intent has nothing to suggest and is not listed.

    ``encoder_reads`` (every field): False when the run's encoder could not read the turn (mostly [UNK] to
    the packaged MiniLM, ``pipeline.encoder_choice``) -- its disagreement says nothing about the label;
    None when not checked (older runs, other encoders). ``limit`` applies to the unreadable rows and to the
    rest separately, so a page that hides the unreadable ones still lists up to ``limit`` others.
    """
    if field == "entity":
        return _entity_candidates(db, project, run_id=run_id, limit=limit)
    columns = ["turn_id", "text", "response", "given", "suggested", "score", "p_suggested", "intents",
               "encoder_reads"]
    snapshot = model_snapshot(db, project, run_id=run_id)
    if snapshot is None:
        return pd.DataFrame(columns=columns)
    f = snapshot.frame
    p_given, p_pred = (("p_given_intent", "confidence") if field == "intent"
                       else ("p_given_sentiment", "sentiment_confidence"))
    f = f[f[f"gold_{field}"].notna() & f[f"pred_{field}"].notna() & (f[f"gold_{field}"] != f[f"pred_{field}"])]
    if field == "intent":
        f = f[(f["pred_intent"] != NO_INTENT) & ~f["model_has_given"].astype(bool)]
    out = pd.DataFrame({"turn_id": f["turn_id"], "given": f[f"gold_{field}"], "suggested": f[f"pred_{field}"],
                        "score": 1.0 - f[p_given].fillna(0.0), "p_suggested": f[p_pred],
                        "intents": f["gold_intents"].map(", ".join)})
    out = _limit_by_readability(db, snapshot.run["run_id"], out.sort_values(["score", "turn_id"],
                                                                            ascending=[False, True]), limit)
    return out.merge(turn_texts(db, out["turn_id"].tolist()), on="turn_id", how="left")[columns]


def _limit_by_readability(db, run_id: str, ranked: pd.DataFrame, limit: int) -> pd.DataFrame:
    """``ranked`` (best first, with ``turn_id``) plus the run's ``encoder_reads`` per turn, keeping the first
    ``limit`` rows the encoder could not read and the first ``limit`` others, in the original order."""
    reads = _reads_of(db, run_id, ranked["turn_id"].tolist())
    flags = [reads.get(t) for t in ranked["turn_id"]]          # True / False / None (not checked), as stored
    flagged = ranked.assign(encoder_reads=pd.Series(flags, index=ranked.index, dtype=object))
    unreadable = pd.Series([f is False for f in flags], index=ranked.index, dtype=bool)
    return flagged[(flagged.groupby(unreadable).cumcount() < limit).to_numpy(dtype=bool)]


def unreadable_turn_ids(db, run_id: str) -> frozenset:
    """The turns the run's encoder could not read (``encoder_reads`` False; see ``label_error_candidates``).
    Not cached: ``encoder_reads`` is written with the predictions, and the query is one filtered scan."""
    return frozenset(r[0] for r in db.query(
        "SELECT turn_id FROM predictions WHERE run_id = ? AND encoder_reads = false", [run_id]))


def _row_then(field: str, old: dict, now, probs: dict) -> dict | None:
    """The list row of one turn from the labels it had then (``old``) and the run's prediction (``now``, its
    snapshot row), when the list had one then and the turn's label agrees with the prediction now."""
    if field == "intent":
        given, predicted, p_given, has_given = pair_intents(
            old["intents"], [probs.get("intent_probs", {}).get(g) for g in old["intents"]], now["pred_intents"])
        listed = given is not None and given != predicted and predicted != NO_INTENT and not has_given
        p_predicted, intents = now["confidence"], ", ".join(old["intents"])
    else:
        given, predicted = old["sentiment"], now["pred_sentiment"]
        p_given = probs.get("sentiment_probs", {}).get(given)
        listed = given is not None and isinstance(predicted, str) and given != predicted
        p_predicted, intents = now["sentiment_confidence"], ", ".join(now["gold_intents"])
    if not listed or now[f"gold_{field}"] != predicted:
        return None
    return {"given": given, "suggested": predicted, "score": 1.0 - (p_given or 0.0), "p_suggested": p_predicted,
            "intents": intents}


def fixed_to_agree(db, project: str, *, field: str, run_id: str | None, since) -> pd.DataFrame:
    """The rows a run's list (``label_error_candidates``) had for turns relabelled since ``since`` to what the
    run predicts. That list compares today's labels, so such a turn dropped out of it uncounted while a
    confirmed one stayed as fixed; these rows, built from the labels the fix replaced (``given``, ``score``),
    let the page count and show it as fixed too. Entity rows: ``_entity_fixed_to_agree``."""
    if field == "entity":
        return _entity_fixed_to_agree(db, project, run_id=run_id, since=since)
    columns = ["turn_id", "text", "response", "given", "suggested", "score", "p_suggested", "intents", "encoder_reads"]
    snapshot = model_snapshot(db, project, run_id=run_id) if field in ("intent", "sentiment") else None
    if snapshot is None or since is None:
        return pd.DataFrame(columns=columns)
    frame = snapshot.frame.set_index("turn_id")
    ids = sorted(adjudicated_since(db, project, frame.index.tolist(), since))
    probs = {r["turn_id"]: r for r in db.query_dicts(
        "SELECT turn_id, intent_probs, sentiment_probs FROM predictions WHERE run_id = $run"
        " AND turn_id IN (SELECT unnest($ids))", {"run": snapshot.run["run_id"], "ids": ids})}
    rows = []
    for turn_id, old in labels_before_fix(db, project, ids, since).items():
        row = _row_then(field, old, frame.loc[turn_id], {k: json.loads(v or "{}") for k, v in
                                                         probs.get(turn_id, {}).items() if k != "turn_id"})
        if row is not None:
            rows.append({"turn_id": turn_id, **row})
    out = _limit_by_readability(db, snapshot.run["run_id"], pd.DataFrame(rows, columns=columns[:1] + columns[3:8]), len(rows))
    return out.merge(turn_texts(db, out["turn_id"].tolist()), on="turn_id", how="left")[columns]


def _reads_of(db, run_id: str | None, turn_ids: list[str]) -> dict:
    ids = list(dict.fromkeys(turn_ids))
    if run_id is None or not ids:
        return {}
    return dict(db.query("SELECT turn_id, encoder_reads FROM predictions WHERE run_id = $run "
                         "AND turn_id IN (SELECT unnest($ids))", {"run": run_id, "ids": ids}))


def encoder_reads(db, project: str, turn_ids: list[str], *, run_id: str | None = None) -> dict:
    """turn_id -> could the encoder of ``run_id`` (default: the newest run with predictions) read the turn:
    True, False or None (not checked). The out-of-fold audit records no verdict of its own; it picks its
    encoder as the worker does (``pipeline.encoder_choice``), so the newest run's verdict stands in."""
    if run_id is None:
        versions = model_versions(db, project)
        run_id = versions[0]["run_id"] if versions else None
    return _reads_of(db, run_id, turn_ids)


def _entity_candidates(db, project: str, *, run_id: str | None, limit: int) -> pd.DataFrame:
    """``store.entity_errors`` over the run's scope (its held-out slice when it lists one), today's type names."""
    run = resolve_run(db, project, run_id)
    if run is None:
        return pd.DataFrame(columns=[*entity_errors.COLUMNS, "text", "response"])
    condition, params, _scope_name = scope_condition(run)
    frame = entity_errors.entity_error_candidates(db, project, run=run, scope_sql=condition, scope_params=params,
                                                  limit=sys.maxsize)    # cached whole: the limit is applied below
    return _named_entity_rows(db, project, run["run_id"], frame, limit)


def _entity_fixed_to_agree(db, project: str, *, run_id: str | None, since) -> pd.DataFrame:
    """``fixed_to_agree`` of the entity list: its rows rebuilt from the spans the fixes replaced, where today's
    spans agree with the run (``store.entity_errors.fixed_to_agree``)."""
    run = resolve_run(db, project, run_id)
    fixed = adjudicated_since(db, project, list(labelled_turn_ids(db, project)), since if run else None)
    before = {t: old["entities"] for t, old in labels_before_fix(db, project, sorted(fixed), since).items()}
    frame = entity_errors.fixed_to_agree(db, project, run=run, before=before)
    return _named_entity_rows(db, project, (run or {}).get("run_id"), frame, len(frame))


def _named_entity_rows(db, project: str, run_id: str | None, frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Entity rows with today's type names and the run's ``encoder_reads`` (``_limit_by_readability``)."""
    rename = _renamer(db, project, "entity")
    frame = frame.assign(given=frame["given"].map(rename), suggested=frame["suggested"].map(rename))
    return _limit_by_readability(db, run_id, frame, limit).reset_index(drop=True)


# ------------------------------------------------------------------------------ misalignment
def turn_context(db, turn_id: str) -> list[dict]:
    """The conversation before a turn (``{speaker, text}`` each, oldest first), as imported with it: the
    misalignment detail shows it, since a response can fit the conversation and still look off alone."""
    row = db.query_one("SELECT context FROM turns WHERE turn_id = ?", [turn_id])
    return [{"speaker": c["speaker"], "text": c["text"]} for c in (row[0] if row and row[0] else [])]


def filter_options(db, project: str = "default") -> dict:
    """Values for the misalignment filters: intents, annotators, model versions, labelling date range."""
    return cached("filters", db, project, lambda: _filter_options(db, project))


def _filter_options(db, project: str) -> dict:
    annotators = [r[0] for r in db.query("SELECT DISTINCT annotator FROM annotations WHERE project = ? AND action = "
                                         "'submit' ORDER BY 1", [project])]
    first, last = db.query_one("SELECT min(created_at), max(created_at) FROM annotations WHERE project = ?", [project])
    return {"intents": get_schema(db, project)["intents"], "annotators": annotators,
            "model_versions": model_versions(db, project), "dates": (first, last)}


_prewarming: set = set()
_prewarm_threads: list = []


def prewarm(db, project: str = "default") -> None:
    """Fill every view's per-data-version cache in a background thread, so after a change (a label, a run)
    only the page being looked at pays the cold queries and the next analyst page opens warm."""
    import threading

    key = (db.path, project, data_version(db, project))
    if key in _prewarming:
        return
    _prewarming.add(key)

    def work() -> None:
        try:
            for view in (model_snapshot, alignment_frame, entity_scores, filter_options, agreement_summary,
                         annotator_stats, adjudication_queue):
                view(db, project)
            from store import evidence

            evidence.embedding_map(db, project)
        except Exception:   # noqa: BLE001 -- best effort: a page computes (and reports) it when shown
            pass

    thread = threading.Thread(target=work, name=f"concord-analysis-prewarm:{project}", daemon=True)
    _prewarm_threads.append(thread)
    thread.start()


def wait_for_prewarm(timeout: float = 60) -> None:
    """Block until background prewarms finish (before closing a Store: DuckDB refuses to close mid-query)."""
    while _prewarm_threads:
        _prewarm_threads.pop().join(timeout)
