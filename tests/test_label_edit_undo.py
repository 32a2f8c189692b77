"""Undo after an Edit: U takes back the edit, not the label under it.

A resubmit from "My recent labels" replaces the annotator's earlier label (one live label per turn
and annotator); undoing it makes the earlier label live again. The page used to reopen the turn with
that earlier label while saying "back with what you submitted", and took one turn off the progress
figures although the turn was still labelled, until the cached counts expired ~20 s later.
Now the earlier label stands, the form shows what the edit submitted (to redo it, as after undoing a
first submit), the message says so, and the figures agree with the store at once.
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, open_label_form, signed_in, texts, submit_label
from store import annotations
from workbench import runtime
from workbench.components import progress, recent_labels
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-edit-undo"), users=("ann",))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _edit(at, form_id):
    at.session_state[recent_labels.RECENT_KEY] = True
    at.run()
    at.button(key=recent_labels.edit_button_key(form_id)).click()
    at.run()
    assert not at.exception, at.exception


def _undo(at):
    at.button(key=f"label-undo-{at.session_state[label_page.UNDO_KEY]}").click()
    at.run()
    assert not at.exception, at.exception


def _figures(db):
    """The panel's figures (the cache it is drawn from) and the store's, without the per-label table."""
    shown = progress.project_progress(db, "default", "ann")
    truth = annotations.progress(db, "default", "ann")
    return shown, truth


def test_undo_after_an_edit_takes_back_the_edit_and_reopens_what_it_submitted(app_db):
    at = signed_in("ann")
    first = submit_label(at, ["track_order"])
    submit_label(at, ["greeting"])
    _edit(at, first.form_id)
    submit_label(at, ["product_question"])                       # the edit replaces track_order
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann")["intents"] == ["product_question"]
    _undo(at)
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann")["intents"] == ["track_order"]
    back = open_label_form(at)
    assert back.turn_id == first.turn_id
    assert at.multiselect(key=back.key("intents")).value == ["product_question"]    # what the edit submitted
    shown = texts(at)
    assert "your edit is taken back" in shown and "earlier label of this turn stands again" in shown
    assert "Undone: this turn is back" not in shown
    panel, store = _figures(app_db)
    assert panel == store and panel["mine_today"] == 2


def test_leaving_the_reopened_turn_keeps_the_earlier_label_and_edit_shows_it(app_db):
    at = signed_in("ann")
    first = submit_label(at, ["track_order"])
    _edit(at, first.form_id)
    submit_label(at, ["product_question"])
    _undo(at)
    at.button(key=open_label_form(at).key("skip")).click()
    at.run()
    assert "your earlier label of that turn stands" in texts(at)
    assert annotations.turn_state(app_db, first.turn_id, annotator="ann")["intents"] == ["track_order"]
    assert annotations.skipped_count(app_db, "default", "ann") == 0
    _edit(at, first.form_id)                                # the pre-edit submit is live again: editable
    edited = open_label_form(at)
    assert edited.turn_id == first.turn_id
    assert at.multiselect(key=edited.key("intents")).value == ["track_order"]        # the live label


def test_a_reload_after_undoing_an_edit_shows_the_same_form(app_db):
    at = signed_in("ann")
    first = submit_label(at, ["track_order"])
    _edit(at, first.form_id)
    submit_label(at, ["product_question"])
    _undo(at)
    again = signed_in("ann")                                # a new session holds the same lease
    form = open_label_form(again)
    assert form.turn_id == first.turn_id
    assert again.multiselect(key=form.key("intents")).value == ["product_question"]


def test_a_plain_undo_still_reopens_the_submit_and_the_figures_follow_it(app_db):
    at = signed_in("ann")
    done = submit_label(at, ["track_order"])
    _undo(at)
    assert annotations.turn_state(app_db, done.turn_id, annotator="ann") is None
    back = open_label_form(at)
    assert back.turn_id == done.turn_id
    assert at.multiselect(key=back.key("intents")).value == ["track_order"]
    assert "Undone: this turn is back with what you submitted" in texts(at)
    panel, store = _figures(app_db)
    assert panel == store and panel["mine_today"] == 0 and not panel["per_label"].get("track_order")


def test_reopened_state_prefers_the_newer_of_live_label_and_undone_submit(app_db):
    def submit(annotation_id, intents):
        annotations.record_submit(app_db, annotation_id=annotation_id, turn_id="t-en", project="default",
                                  annotator="ann", intents=intents)

    assert annotations.reopened_state(app_db, "t-en", annotator="ann") is None
    submit("s1", ["track_order"])
    submit("s2", ["greeting"])                                                      # an edit
    assert annotations.reopened_state(app_db, "t-en", annotator="ann")["intents"] == ["greeting"]
    annotations.undo_last(app_db, annotation_id="u1", project="default", annotator="ann")
    assert annotations.turn_state(app_db, "t-en", annotator="ann")["intents"] == ["track_order"]
    assert annotations.reopened_state(app_db, "t-en", annotator="ann")["intents"] == ["greeting"]
    submit("s3", ["return_item"])
    assert annotations.reopened_state(app_db, "t-en", annotator="ann")["intents"] == ["return_item"]
