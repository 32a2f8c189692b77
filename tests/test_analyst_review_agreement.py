"""The Agreement page says how many turns each coefficient comes from and marks those from too few to
trust (it showed alpha -0.250 from 3 overlap turns and kappa 1 from one turn as plain numbers), and the
adjudication panel shows the conversation before the turn, as the Misalignment page does."""
from __future__ import annotations

from app_testkit import texts
from store import analysis, annotations
import test_analysis_pages
from test_analysis_pages import INTENTS, page_as, tick_queue_row

app_db = test_analysis_pages.app_db     # x0..x19 labelled by ann; ana too on x0..x5 (disagrees on x1, x3)

FEW = "too few to trust (n < 20)"


def kappa_table(at):
    return next(d.value for d in at.dataframe if "kappa" in d.value.columns)


def test_every_coefficient_shows_its_n_and_a_small_sample_is_marked(app_db):
    assert analysis.agreement_summary(app_db, "default")["intent"]["n"] == 6
    at = page_as("agreement", "ana")
    assert not at.exception, at.exception
    shown = texts(at)
    assert f"n = 6 overlap turns with intents: {FEW}" in shown
    assert f"n = 6 overlap turns with sentiment: {FEW}" in shown
    assert f"n = 6 annotator-pair turns: {FEW}" in shown
    pairs = kappa_table(at)
    assert pairs[["n", "trust"]].values.tolist() == [[6, FEW]]


def test_twenty_overlap_turns_are_not_marked(app_db):
    for i in range(6, 20):          # ana agrees with ann on the other fourteen turns
        annotations.submit(app_db, annotation_id=f"b{i}", turn_id=f"x{i}", project="default", annotator="ana",
                           intents=[INTENTS[i % 5]], sentiment="neutral", duration_ms=5000)
    at = page_as("agreement", "ana")
    shown = texts(at)
    assert "n = 20 overlap turns with intents\n" in shown + "\n" and FEW not in shown
    assert kappa_table(at)[["n", "trust"]].values.tolist() == [[20, ""]]


def test_the_adjudication_panel_shows_the_earlier_conversation(app_db):
    for annotator, intent in (("ann", "track_order"), ("ana", "cancel_order")):
        annotations.submit(app_db, annotation_id=f"en-{annotator}", turn_id="t-en", project="default",
                           annotator=annotator, intents=[intent], sentiment="neutral", duration_ms=3000)
    at = tick_queue_row(page_as("agreement", "ana"), "t-en")
    assert not at.exception, at.exception
    assert "Conversation before this turn: 2 earlier turn(s), oldest first" in texts(at)
    context = next(d.value for d in at.dataframe if list(d.value.columns) == ["speaker", "text"])
    assert context["text"].tolist() == ["hi", "Hello! How can I help?"]
