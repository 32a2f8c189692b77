"""The current label of every turn, as SQL: the base layer of the analyst views (``store.analysis``).

An adjudication wins, else the annotators' most common value per field (ties: first submitted, as in
``store.effective``), else imported gold -- the same precedence as ``store.effective.effective_labels``,
but as one CTE chain (``CURRENT_LABELS`` -> ``cur``) that DuckDB evaluates in well under a second at
100k turns, where the pandas version takes tens of seconds. ``data_version`` fingerprints what the
views read, so results can be cached (``cached``) until labels, runs or label names change.
A fit-only adjudication (response fit, no intent/span/sentiment) decides only ``aligned``, as there.
"""
from __future__ import annotations

import threading

import pandas as pd

from store.labels import rename_map
from store.queue import LIVE_LABELS
from store.queue_order import FIT_ONLY_SQL


def _renamer(db, project: str, kind: str):
    names = rename_map(db, project, kind)
    return lambda label: names.get(label, label) if isinstance(label, str) else label


def _vote(name: str, value: str) -> str:
    """CTE ``vote_<name>``: the most common non-null value among a turn's annotators; ties go to the value
    submitted first (as ``store.effective`` does), so the choice is stable from query to query."""
    return f"""vote_{name} AS (
        SELECT turn_id, list(v ORDER BY n DESC, first_seq)[1] AS {name}
        FROM (SELECT turn_id, {value} AS v, count(*) AS n, min(seq) AS first_seq FROM multi_rows
              WHERE {name} IS NOT NULL GROUP BY ALL) GROUP BY turn_id)"""


def current_labels_sql(*, only_ids: bool = False) -> str:
    """The ``cur`` CTE chain; ``only_ids`` restricts it to the turn ids in the ``$ids`` parameter (fast for a few)."""
    sql = CURRENT_LABELS
    if only_ids:
        sql = sql.replace("AND a.project = $p)", "AND a.project = $p AND a.turn_id IN (SELECT unnest($ids)))", 1)
        sql = sql.replace("WHERE t.project = $p AND l.role = 'gold'",
                          "WHERE t.project = $p AND l.role = 'gold' AND l.turn_id IN (SELECT unnest($ids))", 1)
    return sql


CURRENT_LABELS = f"""
    live AS ({LIVE_LABELS} AND a.project = $p),
    latest AS (SELECT turn_id, annotator, action, intents, entities, sentiment, aligned, seq, created_at, duration_ms
               FROM live QUALIFY row_number() OVER (PARTITION BY turn_id, annotator, action = 'adjudicate'
                                                    ORDER BY seq DESC) = 1),
    adj_all AS (SELECT *, ({FIT_ONLY_SQL}) AS fit_only FROM latest WHERE action = 'adjudicate'),
    adj AS (SELECT turn_id, intents, entities, sentiment, aligned, created_at FROM adj_all WHERE NOT fit_only
            QUALIFY row_number() OVER (PARTITION BY turn_id ORDER BY seq DESC) = 1),
    fit AS (SELECT turn_id, intents, entities, sentiment, aligned, created_at
            FROM (SELECT *, row_number() OVER (PARTITION BY turn_id ORDER BY seq DESC) AS rn FROM adj_all)
            WHERE rn = 1 AND fit_only),
    subs AS (SELECT * FROM latest WHERE action = 'submit' AND turn_id NOT IN (SELECT turn_id FROM adj)),
    counts AS (SELECT turn_id, count(*) AS n_ann, list(annotator ORDER BY annotator) AS annotators,
                      max(created_at) AS created_at FROM subs GROUP BY turn_id),
    multi_rows AS (SELECT s.* FROM subs s JOIN counts c USING (turn_id) WHERE c.n_ann > 1),
    {_vote("intents", "list_sort(intents)")},
    {_vote("entities", "list_sort(entities)")},
    {_vote("sentiment", "sentiment")},
    {_vote("aligned", "aligned")},
    human AS (SELECT s.turn_id, s.intents, s.entities, s.sentiment, s.aligned, c.created_at, c.annotators
              FROM subs s JOIN counts c USING (turn_id) WHERE c.n_ann = 1
              UNION ALL
              SELECT c.turn_id, vi.intents, ve.entities, vs.sentiment, va.aligned, c.created_at, c.annotators
              FROM counts c LEFT JOIN vote_intents vi USING (turn_id) LEFT JOIN vote_entities ve USING (turn_id)
              LEFT JOIN vote_sentiment vs USING (turn_id) LEFT JOIN vote_aligned va USING (turn_id)
              WHERE c.n_ann > 1),
    gold AS (SELECT l.turn_id, l.intents, l.entities, l.sentiment, l.aligned
             FROM imported_labels l JOIN turns t USING (turn_id) JOIN imports i ON i.import_id = l.import_id
             WHERE t.project = $p AND l.role = 'gold'
             QUALIFY row_number() OVER (PARTITION BY l.turn_id ORDER BY i.imported_at DESC) = 1),
    base AS (SELECT turn_id, intents, entities, sentiment, aligned, 'adjudicated' AS source, created_at AS labelled_at,
                    []::VARCHAR[] AS annotators FROM adj
             UNION ALL
             SELECT turn_id, intents, entities, sentiment, aligned, 'human', created_at, annotators FROM human
             UNION ALL
             SELECT turn_id, intents, entities, sentiment, aligned, 'imported', NULL::TIMESTAMP, []::VARCHAR[] FROM gold
             WHERE turn_id NOT IN (SELECT turn_id FROM adj) AND turn_id NOT IN (SELECT turn_id FROM human)),
    cur AS (SELECT b.turn_id, b.intents, b.entities, b.sentiment, coalesce(f.aligned, b.aligned) AS aligned, b.source,
                   b.labelled_at, b.annotators FROM base b LEFT JOIN fit f USING (turn_id)
            UNION ALL
            SELECT turn_id, intents, entities, sentiment, aligned, 'adjudicated', created_at, []::VARCHAR[] FROM fit
            WHERE turn_id NOT IN (SELECT turn_id FROM base))
"""


def data_version(db, project: str = "default") -> tuple:
    """Cheap fingerprint of everything the analyst views read: changes whenever labels, runs or names do."""
    return db.query_one("""SELECT (SELECT max(seq) FROM annotations WHERE project = $p),
        (SELECT count(*) FROM imports WHERE project = $p), (SELECT count(*) FROM label_renames WHERE project = $p),
        (SELECT max(coalesce(finished_at, created_at)) FROM model_runs WHERE project = $p)""", {"p": project})


_memo: dict[tuple, object] = {}
_computing: dict[tuple, threading.Lock] = {}
_guard = threading.Lock()
MAX_CACHED = 64


def cached(name: str, db, project: str, compute, *key):
    """``compute()`` once per data version (and ``key``): a page's rerun after a click reads memory.

    Single flight: while one thread (a page, or ``store.analysis.prewarm``) computes a key, others wait
    for its result instead of repeating the work. Results are shared: callers must not modify them."""
    full_key = (name, db.path, project, key, data_version(db, project))
    if full_key in _memo:
        return _memo[full_key]
    with _guard:
        lock = _computing.setdefault(full_key, threading.Lock())
    with lock:
        if full_key not in _memo:
            value = compute()
            with _guard:
                if len(_memo) >= MAX_CACHED:
                    _memo.clear()
                    _computing.clear()
                _memo[full_key] = value
    return _memo[full_key]


def query_over(db, sql: str, params: dict, tables: dict):
    """Run ``sql`` with Arrow ``tables`` visible under their names (on a private read cursor), as a DataFrame.

    Why: the current-label CTE is the costly part of every view (~0.5 s at 100k turns); computed once per
    data version (``current_table``) and registered here, each further view reads it instead of
    re-deriving it.
    """
    cur = db._cursor()                 # same package as Store: a read cursor we may register tables on
    try:
        for name, table in tables.items():
            cur.register(name, table)
        return cur.execute(sql, params).df()
    finally:
        cur.close()


def _arrow(db, sql: str, params: dict):
    cur = db._cursor()
    try:
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()


def current_table(db, project: str = "default"):
    """Every labelled turn's current labels as an Arrow table (the ``cur`` CTE, materialised per data version)."""
    return cached("current_table", db, project,
                  lambda: _arrow(db, f"WITH {CURRENT_LABELS} SELECT * FROM cur", {"p": project}))


def over_current(db, project: str, sql: str, params: dict | None = None):
    """``sql`` (which reads ``cur``) over the materialised current labels."""
    params = {**({"p": project} if "$p" in sql else {}), **(params or {})}   # DuckDB refuses unused parameters
    return query_over(db, sql, params, {"cur": current_table(db, project)})


def turn_texts(db, turn_ids: list[str]) -> pd.DataFrame:
    """turn_id, text, response of a few turns, in the order given."""
    frame = db.query_df("SELECT turn_id, text, response FROM turns WHERE turn_id IN (SELECT unnest($ids))",
                        {"ids": list(turn_ids)})
    order = {t: i for i, t in enumerate(turn_ids)}
    return frame.sort_values("turn_id", key=lambda c: c.map(order)).reset_index(drop=True)


def labelled_records(db, project: str = "default") -> list[dict]:
    """Current labels as native records (id, text, intents, entities, sentiment) for the out-of-fold audit."""
    rows = db.query_dicts(f"""WITH {CURRENT_LABELS}
        SELECT c.turn_id AS id, t.text, c.intents, c.entities, c.sentiment FROM cur c JOIN turns t USING (turn_id)
        ORDER BY t.seq""", {"p": project})
    intents, entities = _renamer(db, project, "intent"), _renamer(db, project, "entity")
    sentiments = _renamer(db, project, "sentiment")
    return [{"id": r["id"], "text": r["text"], "intents": list(dict.fromkeys(intents(i) for i in r["intents"] or [])),
             "entities": [{"start": int(s["start"]), "end": int(s["end"]), "label": entities(s["label"])}
                          for s in r["entities"] or []],
             "sentiment": sentiments(r["sentiment"])} for r in rows]


def current_labels(db, project: str = "default", turn_ids: list[str] | None = None) -> dict[str, dict]:
    """turn_id -> its current labels (intents, entities, sentiment, aligned, source), for a few turns."""
    rows = db.query_dicts(f"""WITH {current_labels_sql(only_ids=True)}
        SELECT turn_id, intents, entities, sentiment, aligned, source FROM cur""",
                          {"p": project, "ids": list(turn_ids or [])})
    rename = _renamer(db, project, "intent")
    return {r["turn_id"]: {**r, "intents": [rename(i) for i in r["intents"] or []],
                           "entities": [dict(s) for s in r["entities"] or []]} for r in rows}


def labelled_turn_ids(db, project: str = "default") -> frozenset:
    """The ids of the turns that have a current label (cached while the data is unchanged)."""
    return cached("labelled_ids", db, project,
                  lambda: frozenset(current_table(db, project).column("turn_id").to_pylist()))


# The corrected response kept with each turn's current label. ``cur`` holds no corrections; they follow
# ``store.effective``'s precedence: the latest adjudication's own (a fit-only one included: it decides the
# fit and the correction), else the first annotator's non-blank one among the latest submits; imported
# gold has none. ``$ids``: the turns asked for (turn ids are unique across projects).
CURRENT_CORRECTIONS = f"""
    WITH latest AS (SELECT * FROM ({LIVE_LABELS}) WHERE turn_id IN (SELECT unnest($ids))
                    QUALIFY row_number() OVER (PARTITION BY turn_id, annotator, action = 'adjudicate'
                                               ORDER BY seq DESC) = 1)
    SELECT turn_id, bool_or(action = 'adjudicate'),
           max_by(corrected_response, seq) FILTER (WHERE action = 'adjudicate'),
           min_by(corrected_response, seq) FILTER (WHERE action = 'submit' AND coalesce(corrected_response, '') <> '')
    FROM latest GROUP BY turn_id"""


def corrections_from_rows(rows) -> dict[str, str | None]:
    """turn_id -> corrected response from ``CURRENT_CORRECTIONS``' rows (a blank adjudicated one is None)."""
    return {turn_id: ((adjudicated or None) if has_adjudication else submitted)
            for turn_id, has_adjudication, adjudicated, submitted in rows}


def current_corrections(db, turn_ids) -> dict[str, str | None]:
    """turn_id -> the corrected response kept with the turn's current label (turns without one: None or
    absent). A fix that rewrites a turn's label passes it on, or the adjudication would drop it."""
    ids = list(dict.fromkeys(turn_ids))
    return corrections_from_rows(db.query(CURRENT_CORRECTIONS, {"ids": ids})) if ids else {}
