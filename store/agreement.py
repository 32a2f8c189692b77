"""Inter-annotator agreement, per-annotator statistics and the adjudication queue (the analyst's Agreement page).

With overlap on, several annotators label the same turns. Agreement is reported as Krippendorff's
alpha (nominal; any number of annotators, missing labels allowed -- computed by the well-kept
``krippendorff`` package), Cohen's kappa per annotator pair (formula below, tested against a
published worked example), and exact-span F1 between annotators for entities. Disagreements and
flagged turns form the adjudication queue; a reviewer's resolution is an ``adjudicate`` annotation
(``store.annotations.adjudicate``), which becomes the gold label while the annotators' rows stay in
the history.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from store.labels import rename_map
from store.queue import LIVE_LABELS

LATEST_SUBMITS = f"""
    live AS ({LIVE_LABELS} AND a.project = $p),
    latest AS (SELECT turn_id, annotator, list_sort(intents) AS intents, list_sort(entities) AS entities, sentiment,
                      aligned, corrected_response, duration_ms, seq
               FROM live WHERE action = 'submit'
               QUALIFY row_number() OVER (PARTITION BY turn_id, annotator ORDER BY seq DESC) = 1)
"""


def over_latest(db, project: str, sql: str, params: dict | None = None) -> pd.DataFrame:
    """``sql`` (which reads ``latest``: each annotator's latest live submit per turn) over that table,
    materialised once per data version like ``store.current.current_table``."""
    from store.current import query_over

    params = {**({"p": project} if "$p" in sql else {}), **(params or {})}
    return query_over(db, sql, params, {"latest": latest_table(db, project)})


def latest_table(db, project: str):
    """Each annotator's latest live submit per turn as an Arrow table, cached per data version (the
    ``latest`` that ``over_latest`` and the Browse page's reads register)."""
    from store.current import _arrow, cached

    return cached("latest_submits", db, project,
                  lambda: _arrow(db, f"WITH {LATEST_SUBMITS} SELECT * FROM latest", {"p": project}))


# The turns whose annotators' latest submits disagree on any field (reads ``latest``), with the seq of the
# newest of them; one is still open while no adjudication (``LAST_ADJUDICATION``) came after that seq.
# Two different corrected responses disagree too (one rewrite and none do not: the fit field tells those
# apart), else the export would carry one of them unasked as chat and DPO training data.
# One definition for the adjudication queue and the Browse page's "disputed" filter.
DISAGREEMENTS = """SELECT turn_id, max(seq) AS seq FROM latest GROUP BY turn_id
    HAVING count(*) >= 2 AND (count(DISTINCT intents) > 1 OR count(DISTINCT entities) > 1
       OR count(DISTINCT coalesce(sentiment, '')) > 1 OR count(DISTINCT coalesce(aligned::VARCHAR, '')) > 1
       OR count(DISTINCT nullif(trim(corrected_response), '')) > 1)"""
LAST_ADJUDICATION = """SELECT turn_id, max(seq) AS seq FROM annotations WHERE project = $p AND action = 'adjudicate'
    GROUP BY turn_id"""


# ----------------------------------------------------------------------------- statistics
def cohen_kappa(a, b) -> float | None:
    """Cohen's kappa of two raters' nominal labels over the same items: (p_o - p_e) / (1 - p_e).

    None when there are no items; 1.0 when both raters always use one and the same label.
    """
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: expected two equally long label lists, got {len(a)} and {len(b)}")
    if not a:
        return None
    labels = sorted(set(a) | set(b), key=str)
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    n = table.sum()
    observed = np.trace(table) / n
    expected = float((table.sum(axis=1) / n) @ (table.sum(axis=0) / n))
    if expected >= 1.0:
        return 1.0
    return float((observed - expected) / (1.0 - expected))


def krippendorff_alpha(reliability: np.ndarray) -> float | None:
    """Nominal Krippendorff's alpha of an (annotator x item) matrix of label codes (NaN = not labelled).

    None when fewer than two items have two labels, or only one label value occurs (alpha undefined).
    """
    import krippendorff

    data = np.asarray(reliability, dtype=float)
    present = ~np.isnan(data)
    if data.ndim != 2 or (present.sum(axis=0) >= 2).sum() < 2 or len(np.unique(data[present])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def span_f1(a_spans: list, b_spans: list) -> tuple[int, int, int]:
    """(matched, a's count, b's count) of exact (start, end, label) spans: F1 = 2m / (na + nb)."""
    a = {(int(s["start"]), int(s["end"]), s["label"]) for s in a_spans}
    b = {(int(s["start"]), int(s["end"]), s["label"]) for s in b_spans}
    return len(a & b), len(a), len(b)


# ------------------------------------------------------------------------------ queries
def overlap_labels(db, project: str = "default") -> pd.DataFrame:
    """Each annotator's latest intent set (``intent_key``, "a+b") and sentiment on the turns at least two
    annotators labelled (today's label names)."""
    frame = over_latest(db, project, """WITH
        multi AS (SELECT turn_id FROM latest GROUP BY turn_id HAVING count(*) >= 2)
        SELECT turn_id, annotator, nullif(array_to_string(intents, '+'), '') AS intent_key, sentiment FROM latest
        WHERE turn_id IN (SELECT turn_id FROM multi) ORDER BY turn_id, annotator""")
    intents, sentiments = rename_map(db, project, "intent"), rename_map(db, project, "sentiment")
    if intents:
        frame["intent_key"] = frame["intent_key"].map(
            lambda k: "+".join(sorted({intents.get(x, x) for x in k.split("+")})) if isinstance(k, str) else None)
    if sentiments:
        frame["sentiment"] = frame["sentiment"].map(lambda v: sentiments.get(v, v) if isinstance(v, str) else None)
    return frame


def reliability_matrix(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """(annotator x turn) float matrix of label codes (NaN = not labelled) and the annotator names."""
    labelled = frame[frame[column].notna()]
    turns, turn_codes = np.unique(labelled["turn_id"].to_numpy(str), return_inverse=True)
    annotators, ann_codes = np.unique(labelled["annotator"].to_numpy(str), return_inverse=True)
    _, value_codes = np.unique(labelled[column].to_numpy(str), return_inverse=True)
    matrix = np.full((len(annotators), len(turns)), np.nan)
    matrix[ann_codes, turn_codes] = value_codes
    return matrix, annotators.tolist()


def _kappa_pairs(matrix: np.ndarray, annotators: list[str]) -> list[dict]:
    out = []
    for a, b in combinations(range(len(annotators)), 2):
        both = ~np.isnan(matrix[a]) & ~np.isnan(matrix[b])
        if both.any():
            out.append({"a": annotators[a], "b": annotators[b], "n": int(both.sum()),
                        "kappa": cohen_kappa(matrix[a][both], matrix[b][both])})
    return out


def entity_pair_f1(db, project: str = "default") -> list[dict]:
    """Exact-span F1 between each pair of annotators over the turns both labelled (computed in SQL)."""
    rows = over_latest(db, project, """WITH
        multi AS (SELECT turn_id FROM latest GROUP BY turn_id HAVING count(*) >= 2),
        mine AS (SELECT * FROM latest WHERE turn_id IN (SELECT turn_id FROM multi)),
        spans AS (SELECT turn_id, annotator, unnest(entities, recursive := true) FROM mine),
        n_spans AS (SELECT turn_id, annotator, count(*) AS n FROM spans GROUP BY ALL),
        pairs AS (SELECT x.turn_id, x.annotator AS a, y.annotator AS b FROM mine x JOIN mine y
                  ON x.turn_id = y.turn_id AND x.annotator < y.annotator),
        matched AS (SELECT x.annotator AS a, y.annotator AS b, count(*) AS m FROM spans x JOIN spans y
                    ON x.turn_id = y.turn_id AND x.annotator < y.annotator AND x."start" = y."start"
                    AND x."end" = y."end" AND x.label = y.label GROUP BY ALL),
        totals AS (SELECT p.a, p.b, count(*) AS n, sum(coalesce(na.n, 0)) AS na, sum(coalesce(nb.n, 0)) AS nb
                   FROM pairs p LEFT JOIN n_spans na ON na.turn_id = p.turn_id AND na.annotator = p.a
                   LEFT JOIN n_spans nb ON nb.turn_id = p.turn_id AND nb.annotator = p.b GROUP BY ALL)
        SELECT t.a, t.b, t.n, CASE WHEN t.na + t.nb > 0 THEN 2.0 * coalesce(m.m, 0) / (t.na + t.nb) END AS f1
        FROM totals t LEFT JOIN matched m ON m.a = t.a AND m.b = t.b ORDER BY t.a, t.b""")
    return [{"a": r.a, "b": r.b, "n": int(r.n), "f1": None if pd.isna(r.f1) else float(r.f1)}
            for r in rows.itertuples(index=False)]


def agreement_summary(db, project: str = "default") -> dict:
    """Krippendorff's alpha and pairwise Cohen's kappa for intents and sentiment, pairwise span F1 for entities.
    Each carries its sample size, since a coefficient from a handful of turns means little: ``n`` (the turns
    at least two annotators gave the field: what alpha is computed from), ``n`` per pair."""
    frame = overlap_labels(db, project)
    out = {"n_turns": int(frame["turn_id"].nunique()), "annotators": sorted(frame["annotator"].unique().tolist())}
    for field, column in (("intent", "intent_key"), ("sentiment", "sentiment")):
        matrix, annotators = reliability_matrix(frame, column)
        out[field] = {"alpha": krippendorff_alpha(matrix) if matrix.size else None, "n_items": int(matrix.shape[1]),
                      "n": int(((~np.isnan(matrix)).sum(axis=0) >= 2).sum()),
                      "pairs": _kappa_pairs(matrix, annotators)}
    pairs = entity_pair_f1(db, project)
    scored = [p for p in pairs if p["f1"] is not None]
    mean = float(np.average([p["f1"] for p in scored], weights=[p["n"] for p in scored])) if scored else None
    out["entity"] = {"pairs": pairs, "mean_f1": mean}
    return out


def annotator_stats(db, project: str = "default", *, run_id: str | None = None) -> pd.DataFrame:
    """Per annotator: labels, median seconds per label, agreement with the majority (on overlap turns;
    a turn without a strict majority counts as disagreement) and with the model's predicted intent."""
    if run_id is None:
        row = db.query_one("SELECT r.run_id FROM model_runs r WHERE r.project = ? AND r.status = 'done' AND EXISTS "
                           "(SELECT 1 FROM predictions p WHERE p.run_id = r.run_id) "
                           "ORDER BY r.finished_at DESC NULLS LAST, r.run_id DESC LIMIT 1", [project])
        run_id = row[0] if row else None
    return over_latest(db, project, """WITH
        votes AS (SELECT turn_id, intents, count(*) AS n FROM latest GROUP BY ALL),
        turns_n AS (SELECT turn_id, sum(n) AS total, arg_max(intents, n) AS top, max(n) AS top_n FROM votes GROUP BY turn_id),
        maj AS (SELECT turn_id, total, CASE WHEN top_n * 2 > total THEN top END AS majority FROM turns_n)
        SELECT l.annotator, count(*) AS labels, round(median(l.duration_ms) / 1000, 1) AS median_seconds,
               round(3600000 / nullif(median(l.duration_ms), 0), 1) AS labels_per_hour,
               count(*) FILTER (WHERE m.total >= 2) AS overlap_labels,
               round(avg(coalesce(l.intents = m.majority, false)::INTEGER) FILTER (WHERE m.total >= 2), 4) AS agree_majority,
               round(avg((l.intents[1] = p.intents[1])::INTEGER) FILTER (WHERE p.turn_id IS NOT NULL), 4) AS agree_model
        FROM latest l JOIN maj m USING (turn_id) LEFT JOIN predictions p ON p.turn_id = l.turn_id AND p.run_id = $run
        GROUP BY l.annotator ORDER BY labels DESC""", {"run": run_id})


def adjudication_queue(db, project: str = "default", *, limit: int = 200) -> pd.DataFrame:
    """Turns to resolve: annotators disagree, or someone flagged it (a flag taken back with ``unflag``
    does not count) -- and no adjudication since. Oldest first."""
    return over_latest(db, project, f"""WITH
        adj AS ({LAST_ADJUDICATION}),
        disputes AS (SELECT turn_id, seq, 'disagreement' AS reason, NULL AS note FROM ({DISAGREEMENTS})),
        flags AS (SELECT turn_id, max(seq) AS seq, 'flagged' AS reason, arg_max(note, seq) AS note FROM annotations
                  WHERE project = $p AND action = 'flag'
                    AND annotation_id NOT IN (SELECT undoes FROM annotations WHERE action = 'unflag' AND undoes IS NOT NULL)
                  GROUP BY turn_id),
        queue AS (SELECT * FROM disputes UNION ALL SELECT * FROM flags),
        open AS (SELECT q.turn_id, string_agg(DISTINCT q.reason, ', ') AS reason, max(q.seq) AS seq, any_value(q.note) AS note
                 FROM queue q LEFT JOIN adj a USING (turn_id) WHERE a.seq IS NULL OR a.seq < q.seq GROUP BY q.turn_id)
        SELECT o.turn_id, o.reason, o.note, t.text, t.response,
               (SELECT count(*) FROM latest l WHERE l.turn_id = o.turn_id) AS n_annotators
        FROM open o JOIN turns t USING (turn_id) ORDER BY o.seq LIMIT $limit""", {"limit": limit})


def queue_votes(db, project: str, turn_ids: list[str]) -> dict[str, list[dict]]:
    """turn_id -> each annotator's latest labels (as ``turn_votes``), for the queue's turns in one query:
    the queue says which fields disagree and what each annotator answered without a query per row."""
    rows = db.query_dicts(f"""WITH {LATEST_SUBMITS}
        SELECT turn_id, annotator, intents, entities, sentiment, aligned, corrected_response FROM latest
        WHERE turn_id IN (SELECT unnest($ids)) ORDER BY turn_id, annotator""", {"p": project, "ids": list(turn_ids)})
    rename, out = rename_map(db, project, "intent"), {}
    for r in rows:
        out.setdefault(r["turn_id"], []).append({**r, "intents": [rename.get(i, i) for i in r["intents"] or []],
                                                 "entities": [dict(s) for s in r["entities"] or []]})
    return out


def turn_votes(db, turn_id: str) -> list[dict]:
    """Each annotator's latest labels of one turn, response fit and corrected response included (the
    adjudication panel offers them as the resolution's defaults)."""
    project = db.query_one("SELECT project FROM turns WHERE turn_id = ?", [turn_id])
    if project is None:
        return []
    rows = db.query_dicts(f"""WITH {LATEST_SUBMITS}
        SELECT annotator, intents, entities, sentiment, aligned, corrected_response FROM latest
        WHERE turn_id = $t ORDER BY annotator""",
                          {"p": project[0], "t": turn_id})
    names = rename_map(db, project[0], "intent")
    return [{**r, "intents": [names.get(i, i) for i in r["intents"] or []],
             "entities": [dict(s) for s in r["entities"] or []]} for r in rows]
