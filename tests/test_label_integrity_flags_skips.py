"""A mis-pressed flag can be taken back, and skipped turns can be revisited.

F sits next to G (response aligned): a slip flagged the turn for good, since the Flag button was
then disabled and U undoes only submits. And a skip was final: "Your queue is empty" with no way
back to the turns one meant to return to. Both are now stored as new rows (``unflag``, ``revisit``),
so the history keeps what happened.
"""
from __future__ import annotations

import pytest

from app_testkit import flag_button, make_template, open_copy, open_label_form, signed_in, texts
from store import annotations, queue
from workbench import runtime
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-flags-skips"), users=("ann", "ana"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()




def _fill(at, form):
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.segmented_control(key=form.key("sentiment")).set_value("neutral")
    at.segmented_control(key=form.key("aligned")).set_value(True)      # every seeded turn shows a response


def _actions(db, turn_id):
    return [(h["action"], h["undoes"]) for h in annotations.history(db, turn_id)]


def _two_f_presses_script(db_path: str):
    """Runs inside an AppTest session: F, then F again, through the span selector's key log."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.views import label as page

    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    if "result" not in st.session_state:
        form = page.claim_and_open(db, user, "default")
        st.session_state[form.key("span")] = {"actions": {"log": [[1, "flag", None], [2, "flag", None]]}}
        page.on_keys(db, user, "default", form.form_id)
        st.session_state["result"] = (form.turn_id, form.flagged)


def test_a_second_f_takes_the_flag_back_and_history_keeps_both(app_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_two_f_presses_script, args=(str(app_db.path),), default_timeout=30).run()
    assert not at.exception, at.exception
    turn_id, flagged = at.session_state["result"]
    assert flagged is False
    (flag, _), (unflag, undoes) = _actions(app_db, turn_id)
    assert (flag, unflag) == ("flag", "unflag")
    assert undoes == annotations.history(app_db, turn_id)[0]["annotation_id"]


def test_the_unflag_button_removes_the_flag_and_the_submit_is_not_flagged(app_db):
    at = signed_in("ann")
    form = open_label_form(at)
    flag_button(at).click()
    at.run()
    assert open_label_form(at).flagged
    unflag = flag_button(at)
    assert not unflag.disabled and "Unflag" in unflag.label
    unflag.click()
    at.run()
    assert not open_label_form(at).flagged and "Flag removed." in texts(at)
    flag_button(at).click()                                           # and flagged once more
    at.run()
    assert [a for a, _ in _actions(app_db, form.turn_id)] == ["flag", "unflag", "flag"]
    flag_button(at).click()
    at.run()
    _fill(at, form)
    at.button(key=form.key("submit")).click()
    at.run()
    submitted = [h for h in annotations.history(app_db, form.turn_id) if h["action"] == "submit"]
    assert submitted[0]["flagged"] is False


def test_an_unflag_without_a_standing_flag_stores_nothing(app_db):
    assert annotations.unflag(app_db, annotation_id="u", turn_id="t-en", project="default", annotator="ann") is False
    assert _actions(app_db, "t-en") == []


def test_skipped_turns_can_be_revisited_from_the_empty_queue(app_db):
    at = signed_in("ann")
    skipped = open_label_form(at).turn_id
    at.button(key=open_label_form(at).key("skip")).click()
    at.run()
    for _ in range(10):                               # the seeded data has five turns
        if label_page.FORM_KEY not in at.session_state:
            break
        form = open_label_form(at)
        _fill(at, form)
        at.button(key=form.key("submit")).click()
        at.run()
    assert "Your queue is empty" in texts(at)
    at.button(key="label-revisit").click()
    at.run()
    assert not at.exception, at.exception
    assert open_label_form(at).turn_id == skipped
    assert [a for a, _ in _actions(app_db, skipped)] == ["skip", "revisit"]


def test_a_revisited_skip_others_labelled_since_is_not_served(app_db):
    turn = queue.claim_next(app_db, "default", "ann")["turn_id"]
    annotations.skip(app_db, annotation_id="s1", turn_id=turn, project="default", annotator="ann")
    assert queue.claim_next(app_db, "default", "ana")["turn_id"] == turn
    annotations.submit(app_db, annotation_id="a1", turn_id=turn, project="default", annotator="ana",
                       intents=["greeting"])
    assert annotations.revisit_skipped(app_db, project="default", annotator="ann") == 1
    seen = []
    while (got := queue.claim_next(app_db, "default", "ann")) is not None:
        seen.append(got["turn_id"])
        annotations.submit(app_db, annotation_id=f"ann-{got['turn_id']}", turn_id=got["turn_id"],
                           project="default", annotator="ann", intents=["greeting"])
    assert seen and turn not in seen
