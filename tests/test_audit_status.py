"""The Label errors page while the out-of-fold audit runs and when it fails. The page stayed on "stage:
starting" for minutes and showed the failure only after a manual Refresh: the running status is now a
fragment the browser reruns by itself. A failure read as a raw exception dump: it is now one line (the
exception's type and message) with the child's traceback in an expander."""
from __future__ import annotations

import json
import time

from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from app_testkit import texts
from pipeline.audit_run import run_audit
from store import audits
import test_analysis_pages
from test_analysis_pages import page_as
from workbench.components import audit

app_db = test_analysis_pages.app_db

ERROR = "ValueError: pred_probs[67]: expected probabilities in [0, 1], got values in [1.48e-10, 1.0000000064]"
TRACEBACK = 'Traceback (most recent call last):\n  File "pipeline/label_errors.py", line 50, in _check_probs\n' + ERROR


def auto_reruns(monkeypatch) -> list[float]:
    """The intervals of the auto-rerun timers a page asks the browser for (``st.fragment(run_every=...)``)."""
    intervals: list[float] = []
    enqueue = ForwardMsgQueue.enqueue

    def recording(queue, msg):
        if msg.WhichOneof("type") == "auto_rerun":
            intervals.append(msg.auto_rerun.interval)
        return enqueue(queue, msg)
    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    return intervals


def audit_page(at_source="audit"):
    at = page_as("label_errors", "ana")
    return at.radio(key="errors_source").set_value(at_source).run()


def test_a_running_audit_redraws_its_progress_by_itself(app_db, monkeypatch):
    running = {"state": "running", "stage": "fold 2/5", "fraction": 0.2, "n": 20, "started": time.time(),
               "version": "v", "audit_id": "a-run"}
    monkeypatch.setitem(audit._audits, (app_db.path, "default"), running)
    intervals = auto_reruns(monkeypatch)
    at = audit_page()
    assert not at.exception, at.exception
    assert "20 labelled turns; stage: fold 2/5" in texts(at)
    assert intervals and 0 < intervals[-1] <= 5, intervals


def test_a_failed_audit_reads_as_one_line_with_the_traceback_in_an_expander(app_db):
    audits.record_audit(app_db, "default", audit_id="aud-f", state="failed", version="v", n_labelled=20,
                        started_at=time.time(), error=f"{ERROR}\n{TRACEBACK}")
    at = audit_page()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["The audit failed."]
    shown = [t.value for t in at.text]
    assert ERROR in shown and not any("Traceback" in t for t in shown)
    assert at.expander[0].label == "Details" and at.expander[0].code[0].value == TRACEBACK


def test_the_audit_process_reports_a_one_line_error_then_its_traceback(tmp_path):
    out, progress = tmp_path / "out.json", tmp_path / "progress.json"
    try:
        run_audit(tmp_path / "missing.jsonl", out, progress)
    except FileNotFoundError:
        pass
    outcome = json.loads(out.read_text(encoding="utf-8"))
    summary, _, detail = outcome["error"].partition("\n")
    assert outcome["state"] == "failed"
    assert summary.startswith("FileNotFoundError: [Errno 2] No such file or directory") and "missing.jsonl" in summary
    assert detail.startswith("Traceback (most recent call last):") and "read_records" in detail
    assert json.loads(progress.read_text(encoding="utf-8"))["stage"] == "loading the model code"
