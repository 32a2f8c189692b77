"""A model run's predictions of the labelled turns beside their current labels: the one table every
model view of the analyst pages (confusion, calibration, label errors, evidence) reads.

Multi-label turns are compared as sets, reduced to one (gold, predicted) pair per turn so the confusion
matrix still counts turns (``pair_intents``):

* the run's top intent (its most probable predicted intent) is **correct** when it is one of the
  turn's current intents; the pair is then (that intent, that intent);
* otherwise the pair is (a gold intent the model did not predict -- the one it gives the lowest
  probability, ties alphabetical --, the top intent). When the model predicts every gold intent and
  ranks an extra one first, the pair uses the least probable gold intent and ``model_has_given`` says
  the model also predicts it: that is not a wrong label, so no label-error row suggests replacing it;
* a turn whose prediction is empty (multi-label models predict nothing below the threshold) pairs
  with ``NO_INTENT``: a miss, counted as such instead of silently dropped.

So a suggestion (``pred_intent`` of a wrong pair) is never an intent the turn already has, and the
given intent of a label-error row is one the model disputes. For single-label turns and predictions
this is plain top-1 accuracy. Why not exact-set accuracy (what the run's held-out metrics report for
multi-label): one cell per turn needs one gold and one predicted intent, and a turn whose extra intent
the model misses is still right about the intent it ranks first; the health page shows the run's
held-out number beside this one, labelled as such.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pandas as pd

from store.current import cached, over_current
from store.labels import rename_map

NO_INTENT = "(none)"    # the predicted "intent" of a turn the model assigned no intent


# ------------------------------------------------------------------------------------ runs
def _decode(row: dict) -> dict:
    for key in ("metrics", "timings"):
        value = row.get(key)
        row[key] = json.loads(value) if isinstance(value, str) and value else (value or {})
    return row


def resolve_run(db, project: str = "default", run_id: str | None = None) -> dict | None:
    """``run_id``'s record, or the newest finished run with predictions; None when there is none."""
    if run_id is not None:
        rows = db.query_dicts("SELECT * FROM model_runs WHERE run_id = ? AND project = ?", [run_id, project])
    else:
        rows = db.query_dicts("SELECT r.* FROM model_runs r WHERE r.project = ? AND r.status = 'done' AND EXISTS "
                              "(SELECT 1 FROM predictions p WHERE p.run_id = r.run_id) "
                              "ORDER BY r.finished_at DESC NULLS LAST, r.run_id DESC LIMIT 1", [project])
    return _decode(rows[0]) if rows else None


def model_versions(db, project: str = "default") -> list[dict]:
    """Runs whose predictions are still stored, newest first: ``{run_id, model_version, finished_at}``."""
    return db.query_dicts("SELECT r.run_id, coalesce(r.model_version, r.run_id) AS model_version, r.finished_at "
                          "FROM model_runs r WHERE r.project = ? AND r.status = 'done' AND EXISTS "
                          "(SELECT 1 FROM predictions p WHERE p.run_id = r.run_id) "
                          "ORDER BY r.finished_at DESC NULLS LAST, r.run_id DESC", [project])


def heldout_ids(run: dict | None) -> list[str] | None:
    """The turn ids the run held out of training, when its metrics record them."""
    if not run:
        return None
    metrics = run.get("metrics") or {}
    ids = metrics.get("holdout_ids") or metrics.get("heldout_ids") or (metrics.get("holdout") or {}).get("ids")
    return [str(i) for i in ids] if ids else None


def heldout_metrics(run: dict | None) -> dict:
    """The scores the run measured on its held-out slice when it trained (what the Pipeline page shows):
    ``n``, ``intent_accuracy`` (exact-set accuracy when multi-label), ``intent_macro_f1``, ...; {} if none."""
    held = ((run or {}).get("metrics") or {}).get("holdout") or {}
    return {k: v for k, v in held.items() if k != "ids"}


def scope_condition(run: dict) -> tuple[str, dict, str]:
    """(SQL condition on alias c, params, scope name) restricting labelled turns to the held-out slice."""
    ids = heldout_ids(run)
    if ids:
        return "c.turn_id IN (SELECT unnest($ids))", {"ids": ids}, "held-out"
    return "true", {}, "labelled"


# ------------------------------------------------------------------------- model snapshot
@dataclass(frozen=True)
class ModelSnapshot:
    """A run's predictions of the labelled turns beside their current labels, one compact row per turn
    (``frame``: turn_id, gold_intents, pred_intents, gold_intent, pred_intent, model_has_given,
    confidence, p_given_intent, gold_sentiment, pred_sentiment, sentiment_confidence, p_given_sentiment).
    ``gold_intent``/``pred_intent`` are the turn's pair (module docstring). Built by one query and kept
    while the data is unchanged, so every chart of the health page and every rerun reads memory."""

    run: dict
    scope: str
    frame: pd.DataFrame

    def without(self, turn_ids: frozenset) -> "ModelSnapshot":
        """The snapshot less ``turn_ids`` (a new frame; the cached one is shared and stays whole). Why one
        method: the Model health page leaves the turns the run's encoder could not read out of every view
        it draws from the snapshot -- intent and sentiment matrices, scores, calibration -- and filtering
        once keeps them counting the same turns."""
        if not turn_ids:
            return self
        return replace(self, frame=self.frame[~self.frame["turn_id"].isin(turn_ids)].reset_index(drop=True))


def model_snapshot(db, project: str = "default", *, run_id: str | None = None) -> ModelSnapshot | None:
    """The run's (default: newest with predictions) snapshot, or None when no run has predictions."""
    run = resolve_run(db, project, run_id)
    if run is None:
        return None
    return cached("snapshot", db, project, lambda: _build_snapshot(db, project, run), run["run_id"])


def pair_intents(gold: list, gold_probs: list, predicted: list) -> tuple:
    """(gold_intent, pred_intent, p(gold_intent), model_has_given) of one turn; see the module docstring.
    ``gold_probs[i]`` is the run's probability of ``gold[i]`` (None when it has none)."""
    probs = {g: (p if p is not None and p == p else 0.0) for g, p in zip(gold, gold_probs)}
    if not probs:
        return None, None, None, None
    top = predicted[0] if predicted else NO_INTENT
    if top in probs:
        return top, top, probs[top], True
    missed = [g for g in probs if g not in predicted]
    given = min(missed or probs, key=lambda g: (probs[g], g))
    return given, top, probs[given], given in predicted


def _plain_list(values) -> list:
    """A DuckDB list cell as a Python list (masked entries -> None): numpy masked arrays iterate slowly."""
    if values is None:
        return []
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _renamed_gold(gold_column, prob_column, names: dict) -> tuple[list, list]:
    """Per turn, the gold intents in today's names and the model's probability of each; a merge of two
    names keeps one, with the higher probability. Without renames the lists are taken as they are
    (the per-name search cost 0.1 s at 100k turns)."""
    gold_lists, prob_lists = [], []
    for gold, probs in zip(gold_column, prob_column):
        gold, probs = _plain_list(gold), _plain_list(probs)
        if not names:
            gold_lists.append(gold)
            prob_lists.append(probs)
            continue
        renamed = dict.fromkeys(names.get(g, g) for g in gold)
        gold_lists.append(list(renamed))
        prob_lists.append([max((p for g, p in zip(gold, probs) if names.get(g, g) == r and p is not None),
                               default=None) for r in renamed])
    return gold_lists, prob_lists


def _build_snapshot(db, project: str, run: dict) -> ModelSnapshot:
    where, params, scope = scope_condition(run)
    frame = over_current(db, project, f"""WITH
        joined AS (SELECT c.turn_id, coalesce(c.intents, []) AS gold_intents, coalesce(p.intents, []) AS pred_intents,
                          c.sentiment AS gold_sentiment, p.sentiment AS pred_sentiment,
                          CAST(p.intent_probs::JSON AS MAP(VARCHAR, DOUBLE)) AS ip,
                          CAST(p.sentiment_probs::JSON AS MAP(VARCHAR, DOUBLE)) AS sp
                   FROM cur c JOIN predictions p ON p.turn_id = c.turn_id AND p.run_id = $run WHERE {where})
        SELECT turn_id, gold_intents, list_transform(gold_intents, lambda x: ip[x]) AS gold_probs, pred_intents,
               ip[pred_intents[1]] AS confidence, gold_sentiment, pred_sentiment,
               sp[pred_sentiment] AS sentiment_confidence, sp[gold_sentiment] AS p_given_sentiment
        FROM joined""", {"run": run["run_id"], **params})
    intent_names, sentiment_names = rename_map(db, project, "intent"), rename_map(db, project, "sentiment")
    gold_lists, prob_lists = _renamed_gold(frame["gold_intents"], frame["gold_probs"], intent_names)
    pred_lists = [list(dict.fromkeys(intent_names.get(i, i) for i in _plain_list(pred))) for pred in frame["pred_intents"]]
    pairs = [pair_intents(g, p, q) for g, p, q in zip(gold_lists, prob_lists, pred_lists)]
    columns = ["gold_intent", "pred_intent", "p_given_intent", "model_has_given"]
    paired = pd.DataFrame(pairs, columns=columns, index=frame.index) if pairs else pd.DataFrame(columns=columns)
    frame = frame.drop(columns=["gold_probs"]).assign(gold_intents=gold_lists, pred_intents=pred_lists, **paired)
    frame["confidence"] = frame["confidence"].where(frame["pred_intent"] != NO_INTENT)
    for column in ("gold_sentiment", "pred_sentiment"):
        if sentiment_names:
            frame[column] = frame[column].map(lambda v: sentiment_names.get(v, v) if isinstance(v, str) else v)
    return ModelSnapshot(run, scope, frame)
