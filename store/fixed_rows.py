"""Which rows of a label-error list were fixed since the list was made (a run's label snapshot, an audit's
start), so the analyst's to-do list shrinks as they work.

Only adjudications count (a fix from an analyst page or a resolution on the Agreement page): a second
annotator agreeing with a disputed label has not dealt with the model's disagreement. Intent and sentiment
lists have one row per turn, so any adjudication of the turn since then fixes its row. Entity lists have one
row per span, and one adjudication of a turn (a relabel or a confirm of ONE span row) used to hide all of
the turn's span rows, spans nobody looked at included: an entity row is fixed only when a fix changed the
spans over it (``entity_rows_fixed_since``) or a confirm named it. A confirm changes no span, so its note
records which span it confirmed (``confirmed_span_marker``), a machine-readable tail on a note for humans.

Moved out of ``store.analysis`` (which re-exports ``adjudicated_since`` and ``labels_before_fix``) to keep
that module near 400 lines.
"""
from __future__ import annotations

import re

import pandas as pd

from store.current import _renamer, current_labels, current_labels_sql

CONFIRMED_SPAN = re.compile(r"confirmed entity (\d+):(\d+)\b")


def confirmed_span_marker(span: dict) -> str:
    """The part of a confirm's note naming the entity span confirmed (code points, end exclusive), e.g.
    ``confirmed entity 3:7 PRODUCT``; ``entity_rows_fixed_since`` finds the row by its start and end."""
    return f"confirmed entity {int(span['start'])}:{int(span['end'])} {span['label']}"


def confirmed_spans_in(note: str | None) -> set[tuple[int, int]]:
    """The (start, end) of every span a note's ``confirmed_span_marker`` names."""
    return {(int(start), int(end)) for start, end in CONFIRMED_SPAN.findall(note or "")}


def _adjudications_since(columns: str) -> str:
    from store.queue import LIVE_LABELS

    return f"""SELECT {columns} FROM ({LIVE_LABELS} AND a.project = $p AND a.action = 'adjudicate'
        AND a.created_at > $since AND a.turn_id IN (SELECT unnest($ids)))"""


def adjudicated_since(db, project: str, turn_ids: list[str], since) -> set[str]:
    """The turns among ``turn_ids`` with a live adjudication (not undone) stored after ``since``: a fix from
    an analyst page (relabel or confirm) or a resolution on the Agreement page. A list computed from
    labels read at ``since`` (a run's snapshot, an audit) still shows them as they were: the decision has
    been made since, so the pages count them as fixed. Annotators' submits do not count: a second
    annotator agreeing with a disputed label has not dealt with the model's disagreement."""
    ids = list(dict.fromkeys(turn_ids))
    if since is None or not ids:
        return set()
    return {r[0] for r in db.query(_adjudications_since("DISTINCT turn_id"),
                                   {"p": project, "since": since, "ids": ids})}


def labels_before_fix(db, project: str, turn_ids: list[str], since) -> dict[str, dict]:
    """turn_id -> the labels (intents, sentiment, entities; raw names) each turn had just before its first
    adjudication after ``since``: the current-label rules over the annotations stored before it, i.e. what the
    fix replaced (an undo stored later is not undone)."""
    sql = current_labels_sql(only_ids=True).replace("AND a.project = $p AND a.turn_id IN", """AND a.project = $p
        AND a.created_at < (SELECT min(f.created_at) FROM annotations f WHERE f.turn_id = a.turn_id
                            AND f.action = 'adjudicate' AND f.created_at > $since) AND a.turn_id IN""", 1)
    rows = db.query_dicts(f"WITH {sql} SELECT turn_id, intents, sentiment, entities FROM cur",
                          {"p": project, "ids": list(turn_ids), "since": since})
    return {r["turn_id"]: {"intents": list(r["intents"] or []), "sentiment": r["sentiment"],
                           "entities": [dict(e) for e in r["entities"] or []]} for r in rows}


def confirmed_since(db, project: str, turn_ids: list[str], since) -> dict[str, set[tuple[int, int]]]:
    """turn_id -> the (start, end) of the entity spans its live adjudications after ``since`` confirmed."""
    confirmed: dict[str, set[tuple[int, int]]] = {}
    for turn_id, note in db.query(_adjudications_since("turn_id, note"),
                                  {"p": project, "since": since, "ids": list(turn_ids)}):
        confirmed.setdefault(turn_id, set()).update(confirmed_spans_in(note))
    return confirmed


def _spans_over(spans: list[dict], start: int, end: int, rename) -> set[tuple]:
    """The spans overlapping ``[start, end)``, as (start, end, today's type name): what a span row says there
    (a type renamed since is no change)."""
    return {(int(s["start"]), int(s["end"]), rename(s["label"])) for s in spans
            if s["start"] < end and start < s["end"]}


def entity_rows_fixed_since(db, project: str, rows: pd.DataFrame, since) -> set[str]:
    """The ``row_id`` of the entity rows (``row_id``, ``turn_id``, ``start``, ``end``) fixed after ``since``: the
    spans over the row differ from those its turn had before its first adjudication since then (a relabel
    to the suggestion or to another type, a removal, a span added where the model saw one: the given span
    is gone, or the suggested one is there), or a confirm's note names the row's span. Any other span row
    of an adjudicated turn stays to do: nobody decided it."""
    turns = sorted(adjudicated_since(db, project, rows["turn_id"].tolist(), since)) if not rows.empty else []
    if not turns:
        return set()
    before, now = labels_before_fix(db, project, turns, since), current_labels(db, project, turns)
    confirmed, rename = confirmed_since(db, project, turns, since), _renamer(db, project, "entity")
    fixed = set()
    for row in rows[rows["turn_id"].isin(turns)].itertuples(index=False):
        start, end = int(row.start), int(row.end)
        then = _spans_over((before.get(row.turn_id) or {}).get("entities") or [], start, end, rename)
        today = _spans_over((now.get(row.turn_id) or {}).get("entities") or [], start, end, rename)
        if then != today or (start, end) in confirmed.get(row.turn_id, set()):
            fixed.add(row.row_id)
    return fixed
