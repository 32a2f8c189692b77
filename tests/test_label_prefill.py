"""Pre-filled spans have a score floor like intents: a model's weak spans are listed, never pre-filled.

A weak span pre-filled by default is kept unless the annotator notices it, and so ended up in exports
("the" as a product). The test drives the label page with a model run whose spans straddle the floor
and checks what the form, the banner, accept-all and the stored submit hold.
"""
from __future__ import annotations

import html
import json

from app_testkit import TURNS, make_template, open_copy, signed_in
from store import annotations
from workbench import runtime
from workbench.components import label_form
from workbench.views import label as label_page

TEXT = "where is order A123 please"            # the t-en turn
STRONG = {"start": 15, "end": 19, "label": "order_id"}
WEAK = {"start": 0, "end": 5, "label": "product"}


def _model_spans(db, turn_id: str) -> None:
    """A finished model run suggesting a confident order_id and a weak product ("where")."""
    def write(con):
        con.execute("INSERT INTO model_runs (run_id, project, kind, status, model_version, n_labels, metrics, timings,"
                    " created_at, finished_at) VALUES ('run-s', 'default', 'fast', 'done', 'v-s', 1, '{}', '{}',"
                    " '2024-05-02 00:00:00', '2024-05-02 00:00:00')")
        con.execute("INSERT INTO predictions (run_id, turn_id, intents, intent_probs, entities, entity_scores,"
                    " sentiment, sentiment_probs, alignment_score, misalignment_prob, uncertainty)"
                    " VALUES ('run-s', ?, ['track_order'], ?, ?, [0.91, 0.2], NULL, '{}', NULL, NULL, 0.5)",
                    [turn_id, json.dumps({"track_order": 0.9}), [STRONG, WEAK]])
    db.write(write)


def _banner(at) -> str:
    return next(html.unescape(e.proto.body) for e in at.get("html") if "<b>Suggestion</b>" in e.proto.body)


def test_a_span_below_the_floor_is_listed_not_prefilled_accepted_or_stored(tmp_path, monkeypatch):
    assert TURNS[[t["id"] for t in TURNS].index("t-en")]["text"] == TEXT
    template = make_template(tmp_path / "tpl", turns=[t for t in TURNS if t["id"] == "t-en"], users=("ann",))
    db = open_copy(template, tmp_path, monkeypatch)
    _model_spans(db, "t-en")
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
