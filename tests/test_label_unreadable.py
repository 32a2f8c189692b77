"""A turn the run's encoder could not read gets no pre-filled suggestion, and the page says why.

The packaged encoder reads Chinese as mostly [UNK], so its prediction there is its answer to [UNK],
not to the text: "好，再见。" came with greeting 90% and report_lost_card 64% pre-filled, and A took
them. The worker publishes ``encoder_reads`` per prediction; the label page must honour it.
"""
from __future__ import annotations

import pytest

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in, texts
from store import annotations
from workbench import runtime
from workbench.views import label as label_page

PRODUCT = {"start": 0, "end": 2, "label": "product"}         # "退款"


def _open(tmp_path, monkeypatch, encoder_reads):
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-zh"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-zh", intents=["greeting", "return_item"], probs={"greeting": 0.9, "return_item": 0.64},
                         entities=[PRODUCT], entity_scores=[0.9], encoder_reads=encoder_reads)
    db.write(lambda con: con.execute("UPDATE predictions SET sentiment = 'positive', misalignment_prob = 0.1"))
    return db, signed_in("ann")


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    runtime.close_stores()


def test_an_unreadable_turn_is_not_prefilled_and_the_page_says_why(tmp_path, monkeypatch):
    db, at = _open(tmp_path, monkeypatch, encoder_reads=False)
    form = at.session_state[label_page.FORM_KEY]
    assert (form.intents, form.spans, form.sentiment, form.aligned) == ([], [], None, None)
    assert label_page.UNREADABLE_NOTE in [t.value for t in at.text]
    assert not any("<b>Suggestion</b>" in e.proto.body for e in at.get("html"))
    assert at.button(key=form.key("accept")).disabled
    at.button(key=form.key("submit")).click()                 # nothing was chosen for the annotator
    at.run()
    assert "Pick at least one intent" in texts(at)
    assert annotations.turn_state(db, "t-zh", annotator="ann") is None


@pytest.mark.parametrize("encoder_reads", [True, None])
def test_a_readable_or_unchecked_turn_is_still_prefilled(tmp_path, monkeypatch, encoder_reads):
    _db, at = _open(tmp_path, monkeypatch, encoder_reads=encoder_reads)
    form = at.session_state[label_page.FORM_KEY]
    assert form.intents == ["greeting"] and form.spans == [PRODUCT] and form.sentiment == "positive"
    assert label_page.UNREADABLE_NOTE not in [t.value for t in at.text]
