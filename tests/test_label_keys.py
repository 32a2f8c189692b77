"""Label page form checks: a corrected response means the response did not fit, and the shortcut
legend has one row per digit key. (A fast "/" after a choice key needs a browser:
tests/browser/test_label_browser.py.)
"""
from __future__ import annotations

import pytest

from app_testkit import make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.components import label_form, shortcuts
from workbench.views import label as label_page


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("label-keys"), users=("ann",))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    yield open_copy(template, tmp_path, monkeypatch)
    runtime.close_stores()


def test_writing_a_correction_sets_the_fit_to_misaligned_and_says_so(app_db):
    at = signed_in("ann")
    form = at.session_state[label_page.FORM_KEY]
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.segmented_control(key=form.key("aligned")).set_value(True)
    at.run()
    at.text_area(key=form.key("corrected")).input("Your order ships tomorrow.")
    at.run()
    assert at.segmented_control(key=form.key("aligned")).value is False
    assert label_form.FIT_FROM_CORRECTION in texts(at)
    at.button(key=form.key("submit")).click()
    at.run()
    state = annotations.turn_state(app_db, form.turn_id, annotator="ann")
    assert state["aligned"] is False and state["corrected_response"] == "Your order ships tomorrow."


def test_a_correction_on_a_turn_marked_aligned_is_refused(app_db):
    at = signed_in("ann")
    form = at.session_state[label_page.FORM_KEY]
    at.multiselect(key=form.key("intents")).set_value(["greeting"])
    at.text_area(key=form.key("corrected")).input("Your order ships tomorrow.")
    at.run()
    at.segmented_control(key=form.key("aligned")).set_value(True)   # G after writing the correction
    at.run()
    at.button(key=form.key("submit")).click()
    at.run()
    assert "corrected response means the response did not fit" in texts(at)
    assert at.session_state[label_page.FORM_KEY].form_id == form.form_id
    assert annotations.turn_state(app_db, form.turn_id, annotator="ann") is None


def test_the_shortcut_legend_has_one_row_per_digit_key():
    quick = ["thanks_goodbye", "greeting", "check_balance", "book_flight"]
    rows = shortcuts.shortcut_rows(["negative", "neutral", "positive"], quick)
    assert [r for r in rows if r[1] in quick] == [("1", "thanks_goodbye"), ("2", "greeting"),
                                                 ("3", "check_balance"), ("4", "book_flight")]
    assert not any("greeting" in what and what != "greeting" for _, what in rows)
