"""Pre-filled spans have a score floor like intents: a model's weak spans are listed, never pre-filled.

A weak span pre-filled by default is kept unless the annotator notices it, and so ended up in exports
("the" as a product). The test drives the label page with a model run whose spans straddle the floor
and checks what the form, the banner, accept-all and the stored submit hold.
"""
from __future__ import annotations

import html

from app_testkit import TURNS, add_model_suggestion, make_template, open_copy, signed_in
from store import annotations
from workbench import runtime
from workbench.components import label_form
from workbench.views import label as label_page

TEXT = "where is order A123 please"            # the t-en turn
STRONG = {"start": 15, "end": 19, "label": "order_id"}
WEAK = {"start": 0, "end": 5, "label": "product"}


def _banner(at) -> str:
    return next(html.unescape(e.proto.body) for e in at.get("html") if "<b>Suggestion</b>" in e.proto.body)


def test_a_span_below_the_floor_is_listed_not_prefilled_accepted_or_stored(tmp_path, monkeypatch):
    assert TURNS[[t["id"] for t in TURNS].index("t-en")]["text"] == TEXT
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    add_model_suggestion(db, "t-en", intents=["track_order"], probs={"track_order": 0.9},   # order_id sure,
                         entities=[STRONG, WEAK], entity_scores=[0.91, 0.2])                 # "where" weak
    try:
        at = signed_in("ann")
        form = at.session_state[label_page.FORM_KEY]
        assert form.spans == [STRONG]
        banner = _banner(at)
        assert "1 span(s) (dotted)" in banner
        assert 'also: product "where" 20%' in banner
        at.button(key=form.key("accept")).click()                 # accept takes the confident span only
        at.run()
        form = at.session_state[label_page.FORM_KEY]
        assert form.spans == [STRONG]
        at.segmented_control(key=form.key("sentiment")).set_value("neutral")    # a submit needs both
        at.segmented_control(key=form.key("aligned")).set_value(True)
        at.button(key=form.key("submit")).click()
        at.run()
        assert not at.exception, at.exception
        assert annotations.turn_state(db, "t-en", annotator="ann")["entities"] == [STRONG]
    finally:
        runtime.close_stores()


def test_the_floor_is_the_intents_floor_and_unscored_spans_still_count():
    assert label_form.SUGGESTED_SPAN_MIN_SCORE == label_form.SUGGESTED_INTENT_MIN_PROB
    suggestion = {"entities": [{**STRONG, "score": 0.5}, {**WEAK, "score": 0.49}]}
    assert label_form.suggested_values(suggestion)["entities"] == [STRONG]
    imported = {"entities": [dict(WEAK)]}                          # imports carry no scores
    assert label_form.suggested_values(imported)["entities"] == [WEAK]
