"""The queue's order, kept in memory so a claim looks at a few hundred turns, not the whole pool.

Finding "the first open turn in queue order" with one SQL query scans every turn and every
annotation on every claim (55-135 ms at 100k turns). Instead the order (the active-learning ranking,
else the seeded shuffle; gold-labelled turns left out) is built once per change of the pool, and a
cursor skips the prefix of turns already labelled to their overlap. A claim then checks one chunk of
candidates at a time. The cache lives on the Store and is only used on the writer thread, so claims
never race; anything that changes the order or reopens a closed turn (an import, a new ranking, a
gold label, an undo, a new overlap) changes the signatures below and resets it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CHUNK = 256

# An adjudication that judged only the response (the Misalignment page's fit fix): it labels no intent,
# span or sentiment, so it neither counts as labelling the turn nor takes it out of the queue.
FIT_ONLY_SQL = ("action = 'adjudicate' AND coalesce(len(intents), 0) = 0 AND coalesce(len(entities), 0) = 0 "
                "AND coalesce(sentiment, '') = ''")

SIGNATURE_SQL = """
    SELECT (SELECT count(*) FROM turns WHERE project = $project),
           (SELECT max(seq) FROM turns WHERE project = $project),
           (SELECT count(*) FROM imported_labels WHERE role = 'gold'),
           (SELECT count(*) || ':' || coalesce(max(run_id), '') FROM queue_rank WHERE project = $project),
           (SELECT seed FROM projects WHERE project = $project),
           (SELECT overlap FROM projects WHERE project = $project),
           (SELECT count(*) FROM annotations WHERE project = $project AND action = 'undo')
"""

ORDER_SQL = """
    SELECT t.turn_id FROM turns t
    JOIN projects p ON p.project = t.project
    LEFT JOIN queue_rank r ON r.project = t.project AND r.turn_id = t.turn_id
    WHERE t.project = $project
      AND t.turn_id NOT IN (SELECT turn_id FROM imported_labels WHERE role = 'gold')
    ORDER BY r.rank IS NULL, r.rank, CASE WHEN $ranked THEN t.seq END, hash(t.turn_id, p.seed), t.seq
"""

CHUNK_SQL = """
    WITH c AS (SELECT unnest($ids) AS turn_id, generate_subscripts($ids, 1) AS i),
    live AS (SELECT a.turn_id, a.annotator FROM annotations a JOIN c USING (turn_id)
             WHERE a.action IN ('submit', 'adjudicate') AND NOT ({fit_only})
               AND a.annotation_id NOT IN (SELECT undoes FROM annotations WHERE action = 'undo' AND undoes IS NOT NULL)),
    labelled AS (SELECT turn_id, count(DISTINCT annotator) AS n FROM live GROUP BY turn_id),
    leased AS (SELECT l.turn_id, count(*) AS n FROM leases l JOIN c USING (turn_id)
               WHERE l.expires_at > $now AND l.annotator <> $annotator GROUP BY l.turn_id),
    mine AS (SELECT DISTINCT a.turn_id FROM annotations a JOIN c USING (turn_id)
             WHERE a.annotator = $annotator AND a.action IN ('submit', 'skip', 'adjudicate') AND NOT ({fit_only}))
    SELECT c.turn_id, coalesce(l.n, 0), coalesce(s.n, 0), m.turn_id IS NOT NULL
    FROM c LEFT JOIN labelled l USING (turn_id) LEFT JOIN leased s USING (turn_id) LEFT JOIN mine m USING (turn_id)
    ORDER BY c.i
""".replace("{fit_only}", FIT_ONLY_SQL)


@dataclass
class QueueOrder:
    order_signature: tuple = ()
    reset_signature: tuple = ()
    turn_ids: list[str] = field(default_factory=list)
    closed_prefix: int = 0   # turn_ids[:closed_prefix] are labelled to their overlap: closed for everyone


def _current(con, cache: dict, project: str) -> tuple[QueueOrder, int]:
    signature = con.execute(SIGNATURE_SQL, {"project": project}).fetchall()[0]
    n_turns, max_seq, n_gold, ranking, seed, overlap, n_undo = signature
    order = cache.setdefault(("queue_order", project), QueueOrder())
    if order.order_signature != (n_turns, max_seq, n_gold, ranking, seed):
        ranked = not ranking.startswith("0:")
        order.turn_ids = [r[0] for r in con.execute(ORDER_SQL, {"project": project, "ranked": ranked}).fetchall()]
        order.order_signature = (n_turns, max_seq, n_gold, ranking, seed)
        order.closed_prefix = 0
    if order.reset_signature != (overlap, n_undo):
        order.reset_signature = (overlap, n_undo)
        order.closed_prefix = 0
    return order, overlap or 1


def first_open_turn(con, cache: dict, project: str, annotator: str, now) -> str | None:
    """The first turn in queue order this annotator may take now, or None."""
    order, overlap = _current(con, cache, project)
    start = order.closed_prefix
    prefix_closed = True
    while start < len(order.turn_ids):
        ids = order.turn_ids[start:start + CHUNK]
        rows = con.execute(CHUNK_SQL, {"ids": ids, "now": now, "annotator": annotator}).fetchall()
        for offset, (turn_id, n_labelled, n_leased, mine) in enumerate(rows):
            if prefix_closed and n_labelled >= overlap:
                order.closed_prefix = start + offset + 1
            else:
                prefix_closed = False
            if not mine and n_labelled + n_leased < overlap:
                return turn_id
        start += CHUNK
    return None
