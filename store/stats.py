"""Summary counts for ``concord stats`` and the dashboards: what is in a project and who labelled it."""
from __future__ import annotations

from store.effective import label_counts
from store.queue import LIVE_LABELS


def project_stats(db, project: str = "default") -> dict:
    total = db.query_one("SELECT count(*) FROM turns WHERE project = ?", [project])[0]
    conversations = db.query_one("SELECT count(DISTINCT conversation_id) FROM turns WHERE project = ?", [project])[0]
    with_response = db.query_one("SELECT count(*) FROM turns WHERE project = ? AND response IS NOT NULL", [project])[0]
    labelled, per_intent = label_counts(db, project)
    return {
        "project": project,
        "turns": total,
        "conversations": conversations,
        "with_response": with_response,
        "labelled": labelled,
        "unlabelled": total - labelled,
        "intents": per_intent,
        "entities": dict(db.query("""
            SELECT s.label, count(*) FROM (
                SELECT unnest(l.entities) AS s FROM imported_labels l JOIN turns t USING (turn_id)
                WHERE t.project = ? AND l.role = 'gold'
                UNION ALL SELECT unnest(a.entities) FROM (""" + LIVE_LABELS + """ AND a.project = ?) a)
            GROUP BY ALL ORDER BY 2 DESC""", [project, project])) if total else {},
        "sentiments": dict(db.query("""
            SELECT sentiment, count(*) FROM (
                SELECT l.sentiment FROM imported_labels l JOIN turns t USING (turn_id)
                WHERE t.project = ? AND l.role = 'gold' AND l.sentiment IS NOT NULL
                UNION ALL SELECT a.sentiment FROM (""" + LIVE_LABELS + """ AND a.project = ?) a WHERE a.sentiment IS NOT NULL)
            GROUP BY ALL ORDER BY 2 DESC""", [project, project])),
        "aligned": dict((("aligned" if k else "misaligned"), v) for k, v in db.query("""
            SELECT aligned, count(*) FROM (
                SELECT l.aligned FROM imported_labels l JOIN turns t USING (turn_id)
                WHERE t.project = ? AND l.role = 'gold' AND l.aligned IS NOT NULL
                UNION ALL SELECT a.aligned FROM (""" + LIVE_LABELS + """ AND a.project = ?) a WHERE a.aligned IS NOT NULL)
            GROUP BY ALL""", [project, project])),
        "annotators": annotator_stats(db, project),
    }


def annotator_stats(db, project: str = "default") -> list[dict]:
    return db.query_dicts("""
        SELECT annotator,
               count(*) FILTER (WHERE action = 'submit') AS submits,
               count(*) FILTER (WHERE action = 'skip') AS skips,
               count(*) FILTER (WHERE action = 'undo') AS undos,
               count(*) FILTER (WHERE action = 'flag') AS flags,
               median(duration_ms) FILTER (WHERE action = 'submit') AS median_ms,
               max(created_at) AS last_active
        FROM annotations WHERE project = ? GROUP BY annotator ORDER BY submits DESC""", [project])
