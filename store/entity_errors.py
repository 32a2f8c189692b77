"""Likely entity label errors from a run's stored predictions: where the labelled spans and the predicted
spans of a labelled turn disagree.

The run stores decoded spans with a confidence each (not token probabilities), so this is the cheap,
instant view; the page's out-of-fold audit (``pipeline.label_errors``, cleanlab over entity tokens)
is the thorough one. A disagreement is one of:

- the model types a labelled span differently, or with other boundaries (given: the labelled type,
  suggested: the predicted type over the predicted span), score = the prediction's confidence;
- the model finds an entity nobody labelled (given ``O``), score = its confidence;
- the model finds nothing where a span is labelled (suggested ``O``). The run kept no probability for
  "no entity here", so these rank after the scored rows (score ``NaN``) -- say so, don't invent one.

A span the analyst has since relabelled to the run's (or removed where the run sees none) agrees with it
today and leaves that list; ``fixed_to_agree`` rebuilds its row from the spans the fix replaced, so the
page counts it as fixed like any other. The exact-span scores per type (``entity_scores``, the Model
health chart) live here too, beside the other reads of a run's spans.

Offsets are code points, as everywhere in Concord.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from store.current import _renamer, cached, over_current
from store.labels import get_schema
from store.model_snapshot import resolve_run, scope_condition

OUTSIDE = "O"
COLUMNS = ["row_id", "turn_id", "start", "end", "span_text", "given", "suggested", "score"]


def span_row_id(turn_id: str, start: int, end: int) -> str:
    """One label-error row per span of a turn: the id the page selects it by (run and audit rows alike)."""
    return f"{turn_id}:{int(start)}-{int(end)}"


def _overlaps(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _same(a: dict, b: dict) -> bool:
    return (a["start"], a["end"], a["label"]) == (b["start"], b["end"], b["label"])


def span_disagreements(given: list[dict], predicted: list[dict], scores: list[float | None] | None = None) -> list[dict]:
    """Rows ``{start, end, given, suggested, score}`` where ``given`` and ``predicted`` spans disagree.

    ``scores[i]`` is the confidence of ``predicted[i]`` (None/missing -> NaN). Exact matches are agreement.
    """
    scores = list(scores or [])
    rows = []
    for i, p in enumerate(predicted):
        if any(_same(p, g) for g in given):
            continue
        score = scores[i] if i < len(scores) and scores[i] is not None else math.nan
        hit = [g for g in given if _overlaps(p, g)]
        label = max(hit, key=lambda g: min(g["end"], p["end"]) - max(g["start"], p["start"]))["label"] if hit else OUTSIDE
        rows.append({"start": p["start"], "end": p["end"], "given": label, "suggested": p["label"], "score": float(score)})
    for g in given:
        if not any(_overlaps(g, p) for p in predicted):
            rows.append({"start": g["start"], "end": g["end"], "given": g["label"], "suggested": OUTSIDE,
                         "score": math.nan})
    return rows


def _turn_rows(turn, given: list[dict], predicted: list[dict], scores: list[float | None]) -> list[dict]:
    """The list's rows of one turn (``turn``: turn_id, text, response) from its spans and the run's."""
    return [{"row_id": span_row_id(turn.turn_id, d["start"], d["end"]), "turn_id": turn.turn_id,
             "span_text": turn.text[d["start"]:d["end"]], "text": turn.text, "response": turn.response, **d}
            for d in span_disagreements(given, predicted, scores)]


def _ranked(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=[*COLUMNS, "text", "response"])
    return out.sort_values(["score", "turn_id", "start"], ascending=[False, True, True], na_position="last")


def _spans(value) -> list[dict]:
    return [dict(s) for s in _list(value)]


def _scores(value) -> list[float | None]:
    return [None if _nan(s) else float(s) for s in _list(value)]


def entity_error_candidates(db, project: str = "default", *, run: dict, scope_sql: str = "true",
                            scope_params: dict | None = None, limit: int = 200) -> pd.DataFrame:
    """The run's entity disagreements on labelled turns (``scope_sql`` restricts them, e.g. to the held-out
    slice), most likely error first; columns ``COLUMNS`` plus ``text`` and ``response``."""
    def compute() -> pd.DataFrame:
        frame = over_current(db, project, f"""
            SELECT c.turn_id, t.text, t.response, c.entities AS given, p.entities AS predicted, p.entity_scores AS scores
            FROM cur c JOIN predictions p ON p.turn_id = c.turn_id AND p.run_id = $run JOIN turns t ON t.turn_id = c.turn_id
            WHERE ({scope_sql}) AND (len(coalesce(c.entities, [])) > 0 OR len(coalesce(p.entities, [])) > 0)""",
                             {"run": run["run_id"], **(scope_params or {})})
        return _ranked([row for r in frame.itertuples(index=False)
                        for row in _turn_rows(r, _spans(r.given), _spans(r.predicted), _scores(r.scores))])
    return cached("entity_errors", db, project, compute, run["run_id"], scope_sql).head(limit).reset_index(drop=True)


def fixed_to_agree(db, project: str, *, run: dict | None, before: dict[str, list[dict]]) -> pd.DataFrame:
    """The rows ``entity_error_candidates`` had over the run's scope, with the spans of ``before`` (turn_id ->
    the turn's spans before a fix), that today's spans no longer give: the fix relabelled the span to the
    run's, or removed one the run does not see, so the turn agrees there and its row left the list
    uncounted. Rebuilt from the spans the fix replaced (given, score as the run listed them), most likely
    error first."""
    if run is None or not before:
        return _ranked([])
    scope_sql, scope_params, _scope_name = scope_condition(run)
    frame = over_current(db, project, f"""
        SELECT c.turn_id, t.text, t.response, c.entities AS now, p.entities AS predicted, p.entity_scores AS scores
        FROM cur c JOIN predictions p ON p.turn_id = c.turn_id AND p.run_id = $run JOIN turns t ON t.turn_id = c.turn_id
        WHERE ({scope_sql}) AND c.turn_id IN (SELECT unnest($fixed))""",
                         {"run": run["run_id"], "fixed": list(before), **scope_params})
    rows = []
    for r in frame.itertuples(index=False):
        predicted, scores = _spans(r.predicted), _scores(r.scores)
        listed_now = {(d["start"], d["end"]) for d in span_disagreements(_spans(r.now), predicted, scores)}
        rows += [row for row in _turn_rows(r, before[r.turn_id], predicted, scores)
                 if (row["start"], row["end"]) not in listed_now]
    return _ranked(rows).reset_index(drop=True)


ENTITY_COLUMNS = ["label", "precision", "recall", "f1", "support", "n_pred"]


def entity_scores(db, project: str = "default", *, run_id: str | None = None,
                  leave_out: frozenset = frozenset()) -> pd.DataFrame:
    """Exact-span precision/recall/F1 per entity type (every schema type, and any other seen), predictions vs
    current labels (in SQL; cached); ``support`` gold spans, ``n_pred`` predicted spans. Undefined is NaN,
    as in ``per_class_scores``: a type with no gold span in scope has no recall or F1 (a chart draws no
    bar rather than a zero one), a type the model never predicts has no precision and F1 0.
    ``leave_out``: turn ids not counted (Model health leaves out the turns the encoder could not read)."""
    run = resolve_run(db, project, run_id)
    if run is None:
        return pd.DataFrame(columns=ENTITY_COLUMNS)
    return cached("entities", db, project, lambda: _entity_scores(db, project, run, leave_out), run["run_id"],
                  frozenset(leave_out))


def _entity_scores(db, project: str, run: dict, leave_out: frozenset) -> pd.DataFrame:
    where, params, _ = scope_condition(run)
    if leave_out:
        where = f"({where}) AND c.turn_id NOT IN (SELECT unnest($leave_out))"
        params = {**params, "leave_out": sorted(leave_out)}
    frame = over_current(db, project, f"""WITH
        scoped AS (SELECT c.turn_id, c.entities AS gold, p.entities AS pred FROM cur c
                   JOIN predictions p ON p.turn_id = c.turn_id AND p.run_id = $run WHERE {where}),
        g AS (SELECT turn_id, unnest(gold, recursive := true) FROM scoped),
        q AS (SELECT turn_id, unnest(pred, recursive := true) FROM scoped)
        SELECT coalesce(g.label, q.label) AS label, count(g.label) AS n_gold, count(q.label) AS n_pred,
               count(g.label) FILTER (WHERE q.label IS NOT NULL) AS tp
        FROM g FULL OUTER JOIN q ON g.turn_id = q.turn_id AND g."start" = q."start" AND g."end" = q."end" AND g.label = q.label
        GROUP BY ALL""", {"run": run["run_id"], **params})
    rename = _renamer(db, project, "entity")
    totals: dict[str, list[int]] = {name: [0, 0, 0] for name in get_schema(db, project)["entities"]}
    for label, n_gold, n_pred, tp in frame.itertuples(index=False):
        t = totals.setdefault(rename(label), [0, 0, 0])
        t[0], t[1], t[2] = t[0] + n_gold, t[1] + n_pred, t[2] + tp
    out = [{"label": label, "precision": round(tp / n_pred, 4) if n_pred else np.nan,
            "recall": round(tp / n_gold, 4) if n_gold else np.nan,
            "f1": round(2 * tp / (n_gold + n_pred), 4) if n_gold else np.nan, "support": n_gold, "n_pred": n_pred}
           for label, (n_gold, n_pred, tp) in sorted(totals.items())]
    return pd.DataFrame(out, columns=ENTITY_COLUMNS)


def _list(value) -> list:
    return [] if value is None or (isinstance(value, float) and math.isnan(value)) else list(value)


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
