"""Label errors (entity field): a span relabelled since the run counts as fixed, as an intent or a sentiment
row does. The run's entity list compares today's spans with its predicted ones, so a span the analyst
relabelled to the model's (or removed where the model sees none) simply left the list, uncounted by the
'N fixed since this run' line, and the 'fixed' checkbox could not show it. Its row is now rebuilt from
the spans the fix replaced: hidden and counted, shown with 'fixed' ticked, its detail pane saying so."""
from __future__ import annotations

import time

from app_testkit import texts
from store import analysis, audits
import test_analysis_pages
from test_analysis_pages import page_as
from test_entity_errors import CITY, DATE, _entity_run, _label_spans, span

app_db = test_analysis_pages.app_db

FIXED_LINE = "fixed since this run (relabelled or confirmed after it)"


def entity_page():
    at = page_as("label_errors", "ana")
    at.radio(key="errors_field").set_value("entity").run()
    assert not at.exception, at.exception
    return at


def listed(at) -> list[tuple]:
    table = at.dataframe[0].value
    return [tuple(r) for r in table[["turn_id", "span_text", "given", "suggested"]].values.tolist()]


def test_a_span_relabelled_to_the_models_counts_as_fixed(app_db):
    _label_spans(app_db, "x10", [span(21, 29, CITY)])          # the run types it a date
    _entity_run(app_db, held_out=["x10", "x11", "x12"])         # and finds a city nobody labelled on x12
    at = entity_page()
    assert listed(at) == [("x10", "order 10", CITY, DATE), ("x12", "order 12", "O", CITY)]
    at.button(key="errors_fix_relabel").click().run()           # x10: city -> date, as the run predicts
    assert not at.exception, at.exception
    assert [s["label"] for s in analysis.current_labels(app_db, "default", ["x10"])["x10"]["entities"]] == [DATE]
    assert listed(at) == [("x12", "order 12", "O", CITY)]
    assert f"1 {FIXED_LINE}: hidden from the list" in texts(at)
    at.checkbox(key="errors_run_entity_show_fixed").check().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table[["turn_id", "given", "suggested", "fixed"]].values.tolist() == [
        ["x10", CITY, DATE, True], ["x12", "O", CITY, False]]          # as the run listed it, score first
    assert "Already fixed (relabelled to date) since this run" in texts(at)


def test_missed_entities_accepted_and_a_span_the_model_does_not_see_removed_count_as_fixed(app_db):
    _label_spans(app_db, "x11", [span(0, 4, DATE)])             # the run finds nothing there
    _entity_run(app_db, held_out=["x10", "x11", "x12"])         # and a date on x10, a city on x12, unlabelled
    at = entity_page()
    assert listed(at) == [("x10", "order 10", "O", DATE), ("x12", "order 12", "O", CITY), ("x11", "turn", DATE, "O")]
    for _ in range(3):                                          # the first row each time: accept the model's
        at.button(key="errors_fix_relabel").click().run()
        assert not at.exception, at.exception
    assert analysis.current_labels(app_db, "default", ["x11"])["x11"]["entities"] == []
    assert "No turns here." in texts(at) and f"3 {FIXED_LINE}: hidden from the list" in texts(at)
    at.checkbox(key="errors_run_entity_show_fixed").check().run()
    table = at.dataframe[0].value
    assert table[["turn_id", "given", "suggested", "fixed"]].values.tolist() == [
        ["x10", "O", DATE, True], ["x12", "O", CITY, True], ["x11", DATE, "O", True]]
    assert "Already fixed (relabelled to date) since this run" in texts(at)


def test_an_untouched_span_is_no_fixed_row(app_db):
    _label_spans(app_db, "x10", [span(21, 29, CITY)])
    _entity_run(app_db, held_out=["x10", "x11", "x12"])
    rows = analysis.fixed_to_agree(app_db, "default", field="entity", run_id=None,
                                   since=analysis.resolve_run(app_db, "default", None)["created_at"])
    assert rows.empty
    at = entity_page()
    assert FIXED_LINE not in texts(at) and "Already fixed" not in texts(at)


def test_an_audit_span_fixed_after_the_audit_started_leaves_its_list(app_db):
    _label_spans(app_db, "x10", [span(21, 29, CITY)])
    rows = [{"id": "x10", "field": "entity", "given": CITY, "suggested": DATE, "score": 0.9, "flagged": True,
             "start": 21, "end": 29, "span_text": "order 10"},
            {"id": "x12", "field": "entity", "given": "O", "suggested": CITY, "score": 0.8, "flagged": True,
             "start": 21, "end": 29, "span_text": "order 12"}]
    audits.record_audit(app_db, "default", audit_id="aud-e", state="done", n_labelled=20, started_at=time.time(),
                        version=audits.version_key(app_db, "default"), rows=rows)
    time.sleep(0.01)
    at = entity_page()
    at.radio(key="errors_source").set_value("audit").run()
    assert [r[0] for r in listed(at)] == ["x10", "x12"]
    at.button(key="errors_fix_relabel").click().run()
    assert not at.exception, at.exception
    assert [r[0] for r in listed(at)] == ["x12"] and "1 fixed since this audit" in texts(at)
