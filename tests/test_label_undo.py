"""Undo on the label page brings the turn back with what was submitted (as Prodigy does), not with
the model's suggestion: the annotator undoes to fix one thing and resubmits."""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.views import label as label_page


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", users=("ann",))
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def _form(at):
    return at.session_state[label_page.FORM_KEY]


def _submit_suggested_turn_with_correction(at):
    """Label the turn that has a model suggestion (cancel_order) differently, with a corrected response."""
    while _form(at).turn_id != "t-sug":
        form = _form(at)
        at.button(key=form.key("skip")).click()
        at.run()
    form = _form(at)
    at.multiselect(key=form.key("intents")).set_value(["product_question"])
    at.segmented_control(key=form.key("aligned")).set_value(False)
    at.text_area(key=form.key("corrected")).input("I have cancelled order B9.")
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    return form


def test_undo_refills_the_form_with_the_undone_submission(app_db):
    at = signed_in("ann")
    submitted = _submit_suggested_turn_with_correction(at)
    assert "Saved." in texts(at)
    at.button(key=f"label-undo-{at.session_state[label_page.UNDO_KEY]}").click()
    at.run()
    back = _form(at)
    assert back.turn_id == submitted.turn_id == "t-sug"
    assert annotations.turn_state(app_db, "t-sug", annotator="ann") is None     # the undo is in the history
    assert at.multiselect(key=back.key("intents")).value == ["product_question"]  # not the suggested cancel_order
    assert at.segmented_control(key=back.key("aligned")).value is False
    assert at.text_area(key=back.key("corrected")).value == "I have cancelled order B9."
    assert back.spans == [{"start": 13, "end": 15, "label": "order_id"}]         # pre-filled, submitted as is
    assert "back with what you submitted" in texts(at)
    # Resubmitting stores the corrected response again.
    at.button(key=back.key("submit")).click()
    at.run()
    state = annotations.turn_state(app_db, "t-sug", annotator="ann")
    assert state["intents"] == ["product_question"] and state["corrected_response"] == "I have cancelled order B9."
