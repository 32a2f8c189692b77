"""Edit in "My recent labels" keeps a draft of the turn it leaves only when that turn was changed.

Edit saved the open form as a draft unconditionally, so a turn left untouched (still showing the
pre-filled suggestion, or still empty) came back later with "draft restored" although the annotator
had typed nothing. A draft is now kept only while the form differs from what was drawn for the turn.
"""
from __future__ import annotations

import uuid

import pytest

from app_testkit import TURNS, make_template, open_copy, open_label_form, open_recent_labels, signed_in, texts
from store import annotations, drafts
from workbench import runtime
from workbench.views.label_actions import UNDO_KEY

RESTORED = "draft restored"


@pytest.fixture(params=["t-sug", "t-zh"], ids=["prefilled", "empty"])
def app_db(request, tmp_path, monkeypatch):
    """t-en already labelled by ann (the row Edit reopens) and one open turn: t-sug draws its
    suggestion pre-filled, t-zh draws an empty form."""
    wanted = ("t-en", request.param)
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] in wanted], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    annotations.record_submit(db, annotation_id=str(uuid.uuid4()), turn_id="t-en", project="default",
                              annotator="ann", intents=["track_order"], sentiment="neutral", aligned=True)
    yield db
    runtime.close_stores()


def _ok(at):
    assert not at.exception, at.exception
    return open_label_form(at)


def _edit_then_come_back(at, left):
    """Press Edit on the t-en row, leave that turn as it was with Skip: the queue gives ``left`` back."""
    open_recent_labels(at)[0].click()
    at.run()
    edited = _ok(at)
    assert edited.turn_id == "t-en"
    at.button(key=edited.key("skip")).click()
    at.run()
    back = _ok(at)
    assert back.turn_id == left.turn_id and back.form_id != left.form_id
    return back


def _draft_rows(db, turn_id: str) -> int:
    return db.query_one("SELECT count(*) FROM drafts WHERE turn_id = ? AND annotator = 'ann'", [turn_id])[0]


def test_an_untouched_turn_left_with_edit_comes_back_without_a_draft(app_db):
    at = signed_in("ann")
    left = _ok(at)
    drawn = at.multiselect(key=left.key("intents")).value
    assert RESTORED not in texts(at)
    back = _edit_then_come_back(at, left)
    assert _draft_rows(app_db, left.turn_id) == 0
    assert not back.draft_restored and RESTORED not in texts(at)
    assert at.multiselect(key=back.key("intents")).value == drawn      # drawn as the first time


def test_a_changed_turn_left_with_edit_keeps_its_draft(app_db):
    at = signed_in("ann")
    left = _ok(at)
    at.multiselect(key=left.key("intents")).set_value(["return_item"])
    at.run()
    back = _edit_then_come_back(at, _ok(at))
    assert drafts.load_draft(app_db, project="default", turn_id=left.turn_id, annotator="ann")["intents"] == ["return_item"]
    assert back.draft_restored and RESTORED in texts(at)
    assert at.multiselect(key=back.key("intents")).value == ["return_item"]


def test_a_change_taken_back_before_edit_leaves_no_draft(app_db):
    at = signed_in("ann")
    left = _ok(at)
    drawn = at.multiselect(key=left.key("intents")).value
    at.multiselect(key=left.key("intents")).set_value(["return_item"])
    at.run()
    form = _ok(at)
    at.multiselect(key=form.key("intents")).set_value(drawn)
    at.run()
    back = _edit_then_come_back(at, _ok(at))
    assert _draft_rows(app_db, left.turn_id) == 0
    assert not back.draft_restored and RESTORED not in texts(at)


def test_an_untouched_turn_left_with_undo_comes_back_without_a_draft(app_db):
    """Undo leaves the open turn as Edit does; it never saved the form, and still does not."""
    at = signed_in("ann")
    left = _ok(at)
    at.button(key=f"label-undo-{at.session_state[UNDO_KEY]}").click()
    at.run()
    undone = _ok(at)
    assert undone.turn_id == "t-en"
    at.button(key=undone.key("skip")).click()
    at.run()
    back = _ok(at)
    assert back.turn_id == left.turn_id
    assert _draft_rows(app_db, left.turn_id) == 0
    assert not back.draft_restored and RESTORED not in texts(at)
