"""The out-of-fold label-error audit is recorded in the store, so its result outlives the app process."""
from __future__ import annotations

import time

import pytest

from store import audits
from test_analysis_pages import app_db, page_as  # noqa: F401 (fixture)
from test_entity_errors import CITY, DATE, _label_spans, span


def test_record_audit_refuses_a_running_state_and_ignores_a_second_record(app_db):  # noqa: F811
    with pytest.raises(ValueError, match="expected 'done' or 'failed', got 'running'"):
        audits.record_audit(app_db, "default", audit_id="a", state="running", version="v", n_labelled=1,
                            started_at=time.time())
    for error in ("first", "second"):
        audits.record_audit(app_db, "default", audit_id="a", state="failed", version="v", n_labelled=1,
                            started_at=time.time(), error=error)
    assert audits.latest_audit(app_db, "default")["error"] == "first"


def test_a_recorded_audit_lists_after_a_restart_and_says_when_labels_changed(app_db):  # noqa: F811
    """The audit's result lives in the store: a fresh app process (no audit in memory) shows it."""
    rows = [{"id": "x4", "field": "intent", "given": "product_question", "suggested": "greeting", "score": 0.9},
            {"id": "x10", "field": "entity", "given": "O", "suggested": CITY, "score": 0.7, "start": 21, "end": 29,
             "span_text": "order 10"}]
    audits.record_audit(app_db, "default", audit_id="aud-1", state="done", version=audits.version_key(app_db, "default"),
                        n_labelled=20, started_at=time.time(), rows=rows)
    at = page_as("label_errors", "ana")
    at.radio(key="errors_source").set_value("audit").run()
    assert at.dataframe[0].value["turn_id"].tolist() == ["x4"]
    assert "Labels changed" not in " ".join(c.value for c in at.caption)
    at.radio(key="errors_field").set_value("entity").run()
    assert at.dataframe[0].value[["turn_id", "span_text", "suggested"]].values.tolist() == [["x10", "order 10", CITY]]
    _label_spans(app_db, "x11", [span(0, 4, DATE)])         # new labels: the audit is now stale
    at.run()
    assert "Labels changed" in " ".join(c.value for c in at.caption)
