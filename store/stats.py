"""Summary counts for ``concord stats`` and the dashboards: what is in a project and who labelled it.

Every label count is a count of turns, each read by its current label (``store.current``: an
adjudication, else the annotators' majority, else imported gold; renamed labels under today's names),
the rule the exports follow, so ``stats`` and an export of the same database agree. Adding up the
imported gold and every annotator's vote instead counted a turn once per label it ever received.
"""
from __future__ import annotations

from store.current import CURRENT_LABELS
from store.labels import rename_map

# A turn whose only label is a fit-only adjudication: ``cur`` gives it no intent, span or sentiment. It is
# not a labelled turn (as in ``store.effective.label_counts``), but its response fit is counted.
_FIT_ONLY_ROW = "source = 'adjudicated' AND len(intents) = 0 AND len(entities) = 0 AND sentiment IS NULL"


def project_stats(db, project: str = "default") -> dict:
    total, conversations, with_response = db.query_one(
        "SELECT count(*), count(DISTINCT conversation_id), count(response) FROM turns WHERE project = ?", [project])
    counts = current_label_counts(db, project)
    return {
        "project": project,
        "turns": total,
        "conversations": conversations,
        "with_response": with_response,
        "labelled": counts["labelled"],
        "unlabelled": total - counts["labelled"],
        "intents": counts["intents"],
        "entities": counts["entities"],
        "sentiments": counts["sentiments"],
        "aligned": counts["aligned"],
        "annotators": annotator_stats(db, project),
    }


def current_label_counts(db, project: str) -> dict:
    """Per-turn counts of the current labels: labelled turns, and turns per intent, sentiment and fit;
    spans per entity label (a turn's span list is its current one, so two votes for a span count once)."""
    rows = db.query(f"""WITH {CURRENT_LABELS},
        labelled AS (SELECT * FROM cur WHERE NOT ({_FIT_ONLY_ROW}))
        SELECT 'labelled', NULL, count(*) FROM labelled
        UNION ALL SELECT 'intent', i, count(*) FROM (SELECT DISTINCT turn_id, unnest(intents) AS i FROM labelled)
                  GROUP BY ALL
        UNION ALL SELECT 'entity', s.label, count(*) FROM (SELECT unnest(entities) AS s FROM labelled) GROUP BY ALL
        UNION ALL SELECT 'sentiment', sentiment, count(*) FROM labelled WHERE sentiment IS NOT NULL GROUP BY ALL
        UNION ALL SELECT 'aligned', CASE WHEN aligned THEN 'aligned' ELSE 'misaligned' END, count(*) FROM cur
                  WHERE aligned IS NOT NULL GROUP BY ALL""", {"p": project})
    by_kind: dict[str, dict[str, int]] = {"intent": {}, "entity": {}, "sentiment": {}, "aligned": {}}
    labelled = 0
    for kind, name, n in rows:
        if kind == "labelled":
            labelled = n
        else:
            by_kind[kind][name] = n
    return {"labelled": labelled,
            "intents": _renamed(db, project, "intent", by_kind["intent"]),
            "entities": _renamed(db, project, "entity", by_kind["entity"]),
            "sentiments": _renamed(db, project, "sentiment", by_kind["sentiment"]),
            "aligned": by_kind["aligned"]}


def _renamed(db, project: str, kind: str, counts: dict[str, int]) -> dict[str, int]:
    """Counts under today's label names (a merge adds up), most frequent first."""
    names = rename_map(db, project, kind)
    merged: dict[str, int] = {}
    for name, n in counts.items():
        merged[names.get(name, name)] = merged.get(names.get(name, name), 0) + n
    return dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))


def annotator_stats(db, project: str = "default") -> list[dict]:
    return db.query_dicts("""
        SELECT annotator,
               count(*) FILTER (WHERE action = 'submit') AS submits,
               count(*) FILTER (WHERE action = 'skip') AS skips,
               count(*) FILTER (WHERE action = 'undo') AS undos,
               count(*) FILTER (WHERE action = 'flag' AND annotation_id NOT IN
                   (SELECT undoes FROM annotations WHERE action = 'unflag' AND undoes IS NOT NULL)) AS flags,
               median(duration_ms) FILTER (WHERE action = 'submit') AS median_ms,
               max(created_at) AS last_active
        FROM annotations WHERE project = ? GROUP BY annotator ORDER BY submits DESC""", [project])
