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

Offsets are code points, as everywhere in Concord.
"""
from __future__ import annotations

import math

import pandas as pd

from store.current import cached, over_current

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
        rows = []
        for r in frame.itertuples(index=False):
            given = [dict(s) for s in _list(r.given)]
            predicted = [dict(s) for s in _list(r.predicted)]
            for d in span_disagreements(given, predicted, [None if _nan(s) else float(s) for s in _list(r.scores)]):
                rows.append({"row_id": span_row_id(r.turn_id, d["start"], d["end"]), "turn_id": r.turn_id,
                             "span_text": r.text[d["start"]:d["end"]], "text": r.text, "response": r.response, **d})
        out = pd.DataFrame(rows, columns=[*COLUMNS, "text", "response"])
        return out.sort_values(["score", "turn_id", "start"], ascending=[False, True, True], na_position="last")
    return cached("entity_errors", db, project, compute, run["run_id"], scope_sql).head(limit).reset_index(drop=True)


def _list(value) -> list:
    return [] if value is None or (isinstance(value, float) and math.isnan(value)) else list(value)


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
