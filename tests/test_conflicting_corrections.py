"""Two annotators who rewrite a response differently disagree: the turn goes to the adjudication queue,
and until a reviewer picks one the export carries the first annotator's rewrite, the rule the rest of the
store follows (``store.current.current_corrections``). The export used to carry whichever row a query
returned first, unasked, as chat and DPO training data, and the turn counted as agreed."""
from __future__ import annotations

from store import analysis, annotations
from store.current import current_corrections
from store.effective import effective_labels
import test_analysis_pages
from test_analysis_pages import page_as
from test_agreement_page import queue_of

app_db = test_analysis_pages.app_db     # the pages' seeded fixture: ann and ana may both label a turn

FIRST, SECOND = "Here is your refund ✅ 退款", "Your refund is on its way 🙂"


def rewrite(db, annotator: str, text: str, n: int) -> None:
    annotations.submit(db, annotation_id=f"rw-{annotator}-{n}", turn_id="t-en", project="default", annotator=annotator,
                       intents=["track_order"], sentiment="neutral", aligned=False, corrected_response=text)


def test_two_different_rewrites_are_a_dispute_and_the_first_is_exported_until_resolved(app_db):
    rewrite(app_db, "ana", FIRST, 1)          # ana first, then ann: the alphabetical order is not the submit order
    rewrite(app_db, "ann", SECOND, 2)
    row = effective_labels(app_db, "default").set_index("turn_id").loc["t-en"]
    assert row["corrected_response"] == FIRST == current_corrections(app_db, ["t-en"])["t-en"]
    assert bool(row["disputed"])
    queue = analysis.adjudication_queue(app_db, "default")
    assert "t-en" in set(queue["turn_id"])
    shown = queue_of(page_as("agreement", "ana")).value.set_index("turn_id")
    assert shown.loc["t-en", "disagree_on"] == "correction"
    assert shown.loc["t-en", "answers"] == f"correction ana: {FIRST} | ann: {SECOND}"


def test_the_same_rewrite_or_one_rewrite_is_no_dispute_about_it(app_db):
    rewrite(app_db, "ana", FIRST, 1)
    rewrite(app_db, "ann", FIRST + "  ", 2)             # edge spaces are no different rewrite
    assert not bool(effective_labels(app_db, "default").set_index("turn_id").loc["t-en", "disputed"])
    assert "t-en" not in set(analysis.adjudication_queue(app_db, "default")["turn_id"])
