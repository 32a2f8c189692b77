"""Hand out turns to annotators with leases, so two annotators never get the same turn by accident.

A lease is (turn, annotator, expires_at). A turn is open to an annotator while the annotators who
have labelled it plus those holding a live lease on it number fewer than the project's overlap, and
this annotator has neither labelled nor skipped it. Claims run on the writer thread, so two claims
can never both take the last free place. The order is the active-learning ranking (``queue_rank``)
when a model has produced one, else a shuffle seeded by the project.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from store.db import register_table
from store.queue_order import FIT_ONLY_SQL, first_open_turn

DEFAULT_TTL_S = 300

# Annotations that still count: submits and adjudications nobody undid or replaced. An annotator's
# second submit of a turn (say from a second tab) names their live one in ``undoes`` and replaces it,
# as an edit would; undoing the second brings the first back. (An anti-join on the few rows that name
# another, not a window over every submit: ~7 ms more at 120k annotations, against ~60 ms.)
LIVE_LABELS = """
    SELECT a.* FROM annotations a
    WHERE a.action IN ('submit', 'adjudicate')
      AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes = a.annotation_id
                      AND (u.action = 'undo' OR NOT EXISTS (SELECT 1 FROM annotations v WHERE v.action = 'undo'
                                                            AND v.undoes = u.annotation_id)))
"""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


TURN_LOAD_SQL = """
    SELECT (SELECT count(DISTINCT annotator) FROM ({live}) WHERE turn_id = $turn AND annotator <> $annotator
              AND NOT ({fit_only})),
           (SELECT count(*) FROM leases WHERE turn_id = $turn AND annotator <> $annotator AND expires_at > $now),
           (SELECT coalesce(max(overlap), 1) FROM projects WHERE project = $project),
           (SELECT max(expires_at) FROM leases WHERE turn_id = $turn AND annotator = $annotator)
"""


def turn_load(con, project: str, turn_id: str, annotator: str, now: datetime) -> dict:
    """Who else has the turn: other annotators' live labels and live leases, the project's overlap,
    and when this annotator's own lease runs (ran) out (None: they hold none)."""
    sql = TURN_LOAD_SQL.format(live=LIVE_LABELS, fit_only=FIT_ONLY_SQL)
    labelled, leased, overlap, expires = con.execute(
        sql, {"turn": turn_id, "annotator": annotator, "now": now, "project": project}).fetchone()
    return {"labelled_by_others": labelled, "leased_by_others": leased, "overlap": overlap, "my_lease_expires": expires}


def _held_open_turn(con, project: str, annotator: str, now: datetime) -> str | None:
    """This annotator's live lease, unless others have since labelled its turn to the overlap (then
    the lease is dropped: handing back a closed turn would loop them on a form nobody may submit)."""
    held = con.execute(
        "SELECT turn_id FROM leases WHERE project = ? AND annotator = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1",
        [project, annotator, now],
    ).fetchone()
    if held is None:
        return None
    load = turn_load(con, project, held[0], annotator, now)
    if load["labelled_by_others"] >= load["overlap"]:
        con.execute("DELETE FROM leases WHERE turn_id = ? AND annotator = ?", [held[0], annotator])
        return None
    return held[0]


def _claim(con, project: str, annotator: str, ttl_s: float, now: datetime, cache: dict):
    expires = now + timedelta(seconds=ttl_s)
    held = _held_open_turn(con, project, annotator, now)
    if held is not None:
        con.execute("UPDATE leases SET expires_at = ? WHERE turn_id = ? AND annotator = ?", [expires, held, annotator])
        return held
    turn_id = first_open_turn(con, cache, project, annotator, now) or _first_revisited_turn(con, project, annotator, now)
    if turn_id is None:
        return None
    lease_turn(con, project, turn_id, annotator, ttl_s, now=now)
    return turn_id


# Per turn: other annotators' live labels and live leases, whether this annotator has a live label,
# and the state of their skips (``last``: 'skip', or 'revisit' once they asked for their skips back).
TURN_LOADS_CTES = """
    live AS ({live} AND a.project = $project),
    labelled AS (SELECT turn_id, count(DISTINCT annotator) FILTER (WHERE annotator <> $annotator AND NOT ({fit_only})) AS others,
                        bool_or(annotator = $annotator AND NOT ({fit_only})) AS mine
                 FROM live GROUP BY turn_id),
    leased AS (SELECT turn_id, count(*) AS others FROM leases
               WHERE project = $project AND annotator <> $annotator AND expires_at > $now GROUP BY turn_id),
    my_skips AS (SELECT turn_id, max(seq) AS seq, arg_max(action, seq) AS last FROM annotations
                 WHERE project = $project AND annotator = $annotator AND action IN ('skip', 'revisit') GROUP BY turn_id)
""".format(live=LIVE_LABELS, fit_only=FIT_ONLY_SQL)
OPEN_TO_ME_SQL = """NOT coalesce(l.mine, false)
    AND coalesce(l.others, 0) + coalesce(s.others, 0) < (SELECT coalesce(max(overlap), 1) FROM projects WHERE project = $project)
    AND t.turn_id NOT IN (SELECT turn_id FROM imported_labels WHERE role = 'gold')"""


def _first_revisited_turn(con, project: str, annotator: str, now: datetime) -> str | None:
    """The earliest skipped turn this annotator asked to revisit that is still open to them."""
    row = con.execute(f"""WITH {TURN_LOADS_CTES}
        SELECT t.turn_id FROM my_skips t LEFT JOIN labelled l USING (turn_id) LEFT JOIN leased s USING (turn_id)
        WHERE t.last = 'revisit' AND {OPEN_TO_ME_SQL} ORDER BY t.seq LIMIT 1""",
                      {"project": project, "annotator": annotator, "now": now}).fetchone()
    return None if row is None else row[0]


def available_count(db, project: str, annotator: str, *, now: datetime | None = None) -> int:
    """How many turns are left for this annotator: open to them as the queue means it (not labelled
    or skipped by them, not gold, fewer than the overlap labelled or leased by others), their
    revisited skips and the turn they hold included."""
    return db.query_one(f"""WITH {TURN_LOADS_CTES}
        SELECT count(*) FROM turns t LEFT JOIN labelled l USING (turn_id) LEFT JOIN leased s USING (turn_id)
        LEFT JOIN my_skips k USING (turn_id)
        WHERE t.project = $project AND coalesce(k.last, '') <> 'skip' AND {OPEN_TO_ME_SQL}""",
                        {"project": project, "annotator": annotator, "now": now or utcnow()})[0]


def claim_next(db, project: str, annotator: str, *, ttl_s: float = DEFAULT_TTL_S, now: datetime | None = None):
    """The turn this annotator should label now (their current lease first), or None when the queue is empty."""
    from store import turns

    turn_id = db.write(_claim, project, annotator, ttl_s, now or utcnow(), db.writer_cache)
    return None if turn_id is None else turns.get_turn(db, turn_id)


def renew(db, turn_id: str, annotator: str, *, ttl_s: float = DEFAULT_TTL_S, now: datetime | None = None) -> bool:
    """Extend a lease while the page is open. False if the lease is gone (expired and taken, or released)."""
    expires = (now or utcnow()) + timedelta(seconds=ttl_s)

    def extend(con):
        return con.execute(
            "UPDATE leases SET expires_at = ? WHERE turn_id = ? AND annotator = ? AND expires_at > ? RETURNING turn_id",
            [expires, turn_id, annotator, now or utcnow()],
        ).fetchone() is not None
    return db.write(extend)


def release(db, turn_id: str, annotator: str) -> None:
    db.write(lambda con: con.execute("DELETE FROM leases WHERE turn_id = ? AND annotator = ?", [turn_id, annotator]))


def lease_turn(con, project: str, turn_id: str, annotator: str, ttl_s: float = DEFAULT_TTL_S, now=None) -> None:
    """Lease ``turn_id`` to ``annotator`` (a claim, or giving it back after an undo); one lease each."""
    con.execute("DELETE FROM leases WHERE annotator = ? AND project = ?", [annotator, project])
    con.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
                [turn_id, annotator, project, (now or utcnow()) + timedelta(seconds=ttl_s)])


def active_leases(db, project: str, *, now: datetime | None = None) -> list[dict]:
    return db.query_dicts("SELECT turn_id, annotator, expires_at FROM leases WHERE project = ? AND expires_at > ? "
                          "ORDER BY expires_at", [project, now or utcnow()])


def set_ranking(con, project: str, run_id: str, ranked_turn_ids: list[str], scores: list[float] | None = None) -> None:
    """Replace the project's queue order (called when a model run is ingested)."""
    import pyarrow as pa

    con.execute("DELETE FROM queue_rank WHERE project = ?", [project])
    if not ranked_turn_ids:
        return
    table = pa.table({
        "project": [project] * len(ranked_turn_ids),
        "run_id": [run_id] * len(ranked_turn_ids),
        "turn_id": ranked_turn_ids,
        "rank": pa.array(range(len(ranked_turn_ids)), pa.int32()),
        "score": pa.array(scores if scores is not None else [None] * len(ranked_turn_ids), pa.float64()),
    })
    register_table(con, "incoming_rank", table)
    con.execute("INSERT INTO queue_rank SELECT * FROM incoming_rank")
    con.unregister("incoming_rank")
