"""store.drafts: one draft per (project, turn, annotator), overwritten, deleted, and never older than the
annotator's latest submit, skip or undo of the turn (so a missed delete cannot bring values back)."""
from __future__ import annotations

from store import annotations, drafts, labels
from store.migrations import LATEST, MIGRATIONS

ZH_SPAN = {"start": 0, "end": 2, "label": "product"}          # "退款" in code points
VALUES = {"intents": ["refund"], "entities": [ZH_SPAN], "sentiment": "negative", "aligned": False,
          "corrected_response": "好的 🙂 已退款"}


def _project_with_turn(db) -> None:
    labels.create_project(db, "p")

    def add_turn(con):
        con.execute("INSERT INTO turns (turn_id, project, conversation_id, turn_index, context, text, response,"
                    " content_hash, import_id, seq) VALUES ('t1', 'p', 'c1', 0, [], '退款 🙂 订单12345', 'ok',"
                    " 'h1', 'i1', 1)")
    db.write(add_turn)


def test_the_drafts_table_is_the_latest_migration(db):
    assert "CREATE TABLE drafts" in MIGRATIONS[-1][0] and db.schema_version == LATEST
    assert db.query("SELECT count(*) FROM drafts") == [(0,)]


def test_a_draft_is_saved_overwritten_loaded_and_deleted(db):
    key = dict(project="p", turn_id="t1", annotator="ann")
    assert drafts.load_draft(db, **key) is None
    drafts.save_draft(db, **key, values={**VALUES, "aligned": None})
    drafts.save_draft(db, **key, values=VALUES)                     # the same turn again: overwritten
    assert db.query("SELECT count(*) FROM drafts") == [(1,)]
    assert drafts.load_draft(db, **key) == VALUES
    assert drafts.load_draft(db, **{**key, "annotator": "ana"}) is None     # another annotator's turn
    assert drafts.load_draft(db, **{**key, "project": "q"}) is None
    drafts.delete_draft(db, **key)
    assert drafts.load_draft(db, **key) is None


def test_an_empty_draft_round_trips(db):
    key = dict(project="p", turn_id="t1", annotator="ann")
    drafts.save_draft(db, **key, values={"intents": [], "entities": [], "sentiment": None, "aligned": None,
                                         "corrected_response": None})
    assert drafts.load_draft(db, **key) == {"intents": [], "entities": [], "sentiment": None, "aligned": None,
                                            "corrected_response": None}


def test_a_draft_older_than_a_submit_or_skip_is_not_restored(db):
    _project_with_turn(db)
    key = dict(project="p", turn_id="t1", annotator="ann")
    drafts.save_draft(db, **key, values=VALUES)
    annotations.skip(db, annotation_id="s1", turn_id="t1", project="p", annotator="ann")
    assert drafts.load_draft(db, **key) is None                      # finished since: the delete was missed
    drafts.save_draft(db, **key, values=VALUES)                      # a later draft (after an undo, say)
    assert drafts.load_draft(db, **key) == VALUES
    annotations.flag(db, annotation_id="f1", turn_id="t1", project="p", annotator="ann")
    assert drafts.load_draft(db, **key) == VALUES                    # a flag does not finish the form
