"""20 annotator sessions x 100 labels over 500 turns through the store's API: nothing lost, nothing doubled."""
import json
import threading
import time
import uuid

import pytest

from store import annotations, importer, labels, queue
from store.queue import LIVE_LABELS
from tests.reliability.figures import percentile, report

SESSIONS, LABELS_EACH, TURNS = 20, 100, 500


def load_pool(db, tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": f"turn {i} 退款 🙂"}, ensure_ascii=False) + "\n"
                            for i in range(TURNS)), encoding="utf-8")
    assert importer.import_files(db, [path]).ok


def annotate(db, who, acked, errors, latencies):
    for _ in range(LABELS_EACH):
        try:
            turn = queue.claim_next(db, "default", who)
            if turn is None:
                return
            annotation_id = uuid.uuid4().hex
            started = time.perf_counter()
            stored = annotations.submit(db, annotation_id=annotation_id, turn_id=turn["turn_id"], project="default",
                                        annotator=who, intents=["x"], entities=[{"start": 0, "end": 4, "label": "t"}])
            latencies.append(time.perf_counter() - started)
            if stored:
                acked.append(annotation_id)
        except Exception as exc:  # counted, not raised: the figure is the point
            errors.append(repr(exc))


@pytest.mark.slow
@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_sessions_lose_nothing_and_never_exceed_overlap(db, tmp_path, overlap):
    load_pool(db, tmp_path)
    labels.set_overlap(db, "default", overlap)
    acked, errors, latencies = [], [], []
    threads = [threading.Thread(target=annotate, args=(db, f"ann{i}", acked, errors, latencies)) for i in range(SESSIONS)]
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    seconds = time.perf_counter() - started
    stored = {r[0] for r in db.query("SELECT annotation_id FROM annotations WHERE action = 'submit'")}
    lost = [a for a in acked if a not in stored]
    above = db.query(f"SELECT turn_id, count(DISTINCT annotator) n FROM ({LIVE_LABELS}) GROUP BY turn_id HAVING n > ?",
                     [overlap])
    twice = db.query(f"SELECT turn_id, annotator FROM ({LIVE_LABELS}) GROUP BY ALL HAVING count(*) > 1")
    report(f"store_concurrency_overlap{overlap}", sessions=SESSIONS, acked=len(acked), lost=len(lost),
           above_overlap=len(above), errors=len(errors), submit_p50_ms=round(percentile(latencies, 50) * 1000, 1),
           submit_p95_ms=round(percentile(latencies, 95) * 1000, 1), seconds=round(seconds, 1))
    assert errors == []
    assert lost == [] and above == [] and twice == []
    assert len(acked) == min(SESSIONS * LABELS_EACH, TURNS * overlap)
