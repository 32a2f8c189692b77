"""'My recent labels' on the label page: the annotator's last live submits, each reopened with Edit.

Undo reached only the last submit. The store lists the last ten live submits (newest first, one per
turn), Edit leases that turn back with what was submitted, and submitting again replaces the earlier
label; the turn that was open loses its lease but keeps what was typed into it as a draft.
"""
from __future__ import annotations

import uuid

import pytest

from app_testkit import (make_template, open_copy, open_label_form,
                         open_recent_labels, signed_in, submit_label, texts)
from store import annotations, drafts, queue
from store import recent_labels as recent_labels_store
from workbench import runtime
from workbench.components import recent_labels


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-history"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _submit(db, turn_id, intents, annotator="ann"):
    annotation_id = str(uuid.uuid4())
    annotations.record_submit(db, annotation_id=annotation_id, turn_id=turn_id, project="default",
                              annotator=annotator, intents=intents, sentiment="neutral", aligned=True)
    return annotation_id


def test_recent_submits_lists_live_submits_newest_first_one_per_turn(app_db):
    first = _submit(app_db, "t-en", ["track_order"])
    _submit(app_db, "t-zh", ["return_item"])
    _submit(app_db, "t-emoji", ["greeting"])
    _submit(app_db, "t-sug", ["cancel_order"], annotator="ana")              # someone else's
    annotations.undo_last(app_db, annotation_id="u1", project="default", annotator="ann")   # t-emoji undone
    replacing = _submit(app_db, "t-en", ["product_question"])                 # replaces the first t-en
    rows = recent_labels_store.recent_submits(app_db, "default", "ann")
    assert [(r["turn_id"], r["intents"]) for r in rows] == [("t-en", ["product_question"]), ("t-zh", ["return_item"])]
    assert rows[0]["annotation_id"] == replacing != first
    assert rows[0]["text"] == "where is order A123 please" and rows[0]["created_at"] is not None
    assert [r["turn_id"] for r in recent_labels_store.recent_submits(app_db, "default", "ann", limit=1)] == ["t-en"]
    assert recent_labels_store.recent_submits(app_db, "other-project", "ann") == []


def test_reopen_submit_leases_that_turn_and_only_while_it_is_live(app_db):
    old = _submit(app_db, "t-en", ["track_order"])
    held = queue.claim_next(app_db, "default", "ann")["turn_id"]
    assert held != "t-en"
    assert recent_labels_store.reopen_submit(app_db, annotation_id=old, project="default", annotator="ann") == "t-en"
    assert [(lease["turn_id"], lease["annotator"]) for lease in queue.active_leases(app_db, "default")] == [("t-en", "ann")]
    assert annotations.turn_state(app_db, "t-en", annotator="ann")["intents"] == ["track_order"]   # still live
    _submit(app_db, "t-en", ["greeting"])                                      # the edit's submit replaces it
    assert recent_labels_store.reopen_submit(app_db, annotation_id=old, project="default", annotator="ann") is None
    assert recent_labels_store.reopen_submit(app_db, annotation_id=old, project="default", annotator="ana") is None



def test_edit_reopens_an_older_submit_and_resubmitting_replaces_it(app_db):
    at = signed_in("ann")
    oldest = submit_label(at, ["track_order"])
    submit_label(at, ["greeting"])
    left = open_label_form(at)                        # the turn open when Edit is pressed
    at.multiselect(key=left.key("intents")).set_value(["return_item"])
    at.run()
    buttons = open_recent_labels(at)
    assert [b.label for b in buttons] == ["Edit", "Edit"]
    assert buttons[-1].key == recent_labels.edit_button_key(oldest.form_id)      # newest first
    at.text_area(key=left.key("corrected")).input("Typed, then Edit clicked before leaving the box.")
    buttons[-1].click()
    at.run()
    assert not at.exception, at.exception
    edited = open_label_form(at)
    assert edited.turn_id == oldest.turn_id and edited.form_id != oldest.form_id
    assert at.multiselect(key=edited.key("intents")).value == ["track_order"]   # what was submitted
    assert "Editing your earlier label" in texts(at)
    assert [lease["turn_id"] for lease in queue.active_leases(app_db, "default")] == [oldest.turn_id]
    kept = drafts.load_draft(app_db, project="default", turn_id=left.turn_id, annotator="ann")
    assert kept["intents"] == ["return_item"]
    assert kept["corrected_response"] == "Typed, then Edit clicked before leaving the box."
    assert next(b for b in open_recent_labels(at) if b.key.endswith(oldest.form_id)).disabled   # the open one
    at.multiselect(key=edited.key("intents")).set_value(["product_question"])
    at.button(key=edited.key("submit")).click()
    at.run()
    assert "your new labels replace the earlier ones" in texts(at)
    live = [r for r in recent_labels_store.recent_submits(app_db, "default", "ann") if r["turn_id"] == oldest.turn_id]
    assert [r["intents"] for r in live] == [["product_question"]]              # one live label per turn
    assert annotations.turn_state(app_db, oldest.turn_id, annotator="ann")["intents"] == ["product_question"]
    back = open_label_form(at)                        # the queue's next turn is the one left, as it was
    assert back.turn_id == left.turn_id and back.draft_restored
    assert at.multiselect(key=back.key("intents")).value == ["return_item"]


def test_skip_on_an_edited_turn_keeps_the_earlier_label(app_db):
    at = signed_in("ann")
    done = submit_label(at, ["track_order"])
    open_recent_labels(at)[0].click()
    at.run()
    edited = open_label_form(at)
    assert edited.turn_id == done.turn_id
    at.button(key=edited.key("skip")).click()
    at.run()
    assert not at.exception, at.exception
    assert annotations.turn_state(app_db, done.turn_id, annotator="ann")["intents"] == ["track_order"]
    assert annotations.skipped_count(app_db, "default", "ann") == 0
    assert open_label_form(at).turn_id != done.turn_id


def test_the_list_shows_turn_text_as_text_and_is_empty_before_any_submit(app_db):
    at = signed_in("ann")
    assert open_recent_labels(at) == []
    assert recent_labels.EMPTY_NOTE in [t.value for t in at.sidebar.text]
    done = submit_label(at, ["track_order"])
    open_recent_labels(at)
    row = next(t.value for t in at.sidebar.text if "track_order" in t.value)
    assert row.startswith("just now · track_order\n")
    assert recent_labels.snippet(done.turn["text"]) in row


def test_snippets_fold_whitespace_and_cut_long_text():
    assert recent_labels.snippet("a\n\n b  c") == "a b c"
    cut = recent_labels.snippet("x" * 100, limit=10)
    assert cut == "x" * 9 + "…" and len(cut) == 10
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"           # one character, five code points
    assert recent_labels.snippet("x" * 6 + family + "y" * 10, limit=10) == "x" * 6 + "…"
