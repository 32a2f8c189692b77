"""The Agreement page's resolved intents box offers no "Select all" either: its first, highlighted
option would resolve a turn's gold label to every intent on one Enter (see test_label_intent_search)."""
from __future__ import annotations

import test_analysis_pages
from test_analysis_pages import page_as, tick_queue_row

app_db = test_analysis_pages.app_db     # the pages' seeded fixture, shared


def test_the_resolved_intents_box_offers_no_select_all(app_db):
    at = tick_queue_row(page_as("agreement", "ana"), "x1")
    assert not at.exception, at.exception
    box = at.multiselect(key="adj_x1_intents")
    assert box.proto.select_all == 0, "the box offers 'Select all' / 'Select N matches' first"
