"""A turn without an assistant response has no fit to judge: the label page hides the fit and the
corrected-response box there, G / M / C do nothing, and a submit stores neither.

They were shown on such turns (a submit did not ask for the fit there), a suggested fit was
pre-filled and stored, and G set a fit for a response nobody saw. The sample data has no such turn
(every one carries a response), so the turn is made here.
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, open_label_form, signed_in
from store import annotations
from workbench import runtime
from workbench.components import label_form, shortcuts

SILENT = {"id": "t-silent", "conversation_id": "c9", "turn_index": 0, "context": [],
          "text": "cancel order B9 now", "intents": ["cancel_order"], "entities": [],
          "sentiment": "negative", "aligned": True}          # a suggestion that also says "aligned"


@pytest.fixture
def silent_db(tmp_path, monkeypatch):
    template = make_template(tmp_path / "tpl", turns=[SILENT], users=("ann",))
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_the_turn_has_no_response():
    assert not label_form.has_response({"response": None}) and not label_form.has_response({"response": "  "})


def test_no_fit_and_no_correction_box_and_the_submit_stores_neither(silent_db):
    at = signed_in("ann")
    assert not at.exception, at.exception
    form = open_label_form(at)
    assert form.turn_id == "t-silent" and not label_form.has_response(form.turn)
    assert form.key("aligned") not in [w.key for w in at.segmented_control]
    assert form.key("corrected") not in [w.key for w in at.text_area]
    assert form.key("sentiment") in [w.key for w in at.segmented_control]
    banner = next(e.proto.body for e in at.get("html") if "Suggestion" in e.proto.body)
    assert "cancel_order" in banner and "response <b>" not in banner       # no suggested fit shown
    assert form.aligned is None                                             # nor pre-filled
    at.button(key=form.key("accept")).click()                              # nor taken by A
    at.run()
    assert open_label_form(at).aligned is None
    at.button(key=form.key("submit")).click()
    at.run()
    assert not at.exception, at.exception
    state = annotations.turn_state(silent_db, "t-silent", annotator="ann")
    assert state["intents"] == ["cancel_order"] and state["sentiment"] == "negative"
    assert state["aligned"] is None and state["corrected_response"] is None


def _keys_script(db_path: str):
    """Runs inside an AppTest session: G, M and C arrive through the span selector's key log, on a
    form whose fit and correction were set anyway (as an earlier label or a draft could)."""
    import streamlit as st

    from workbench import runtime
    from workbench.auth import User
    from workbench.components import label_form
    from workbench.views import label as page

    if "result" in st.session_state:
        return
    db = runtime.get_store(db_path)
    user = User("ann", "annotator")
    form = page.claim_and_open(db, user, "default")
    st.session_state[form.key("span")] = {"actions": {"log": [[1, "aligned", True], [2, "ignored", None],
                                                              [3, "aligned", False]]}}
    page.on_keys(db, user, "default", form.form_id)
    after_keys = (form.aligned, form.last_seq)
    form.aligned = True
    st.session_state[form.key("corrected")] = "A response for a turn that had none."
    values = label_form.collect(form)
    schema = page.schema_of(db, "default")
    st.session_state["result"] = (after_keys, values["aligned"], values["corrected_response"],
                                  label_form.problems(values, schema, turn=form.turn))


def test_g_m_c_do_nothing_and_a_carried_fit_is_neither_stored_nor_refused(silent_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_keys_script, args=(str(silent_db.path),), default_timeout=30).run()
    assert not at.exception, at.exception
    (aligned_after_keys, last_seq), aligned, corrected, problems = at.session_state["result"]
    assert aligned_after_keys is None and last_seq == 3                    # read, applied as nothing
    assert aligned is None and corrected is None
    assert problems == []                                                   # no "corrected but aligned"


def test_the_span_selector_takes_g_m_c_as_ignored_commands_on_such_turns():
    without = shortcuts.command_keys(judges_fit=False)
    for key in (shortcuts.ALIGNED_KEY, shortcuts.MISALIGNED_KEY, shortcuts.CORRECT_RESPONSE_KEY):
        assert without[key] == shortcuts.IGNORED and key not in shortcuts.command_keys()
    assert {k: v for k, v in without.items() if v != shortcuts.IGNORED} == shortcuts.command_keys()
