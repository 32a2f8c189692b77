"""A process that owns the store and works under load until it is killed (used by test_crash.py).

It prints ``READY`` once open, ``ACK <annotation_id>`` after each submit returns (i.e. committed),
and ``IMPORT <import_id> <n>`` after each import returns.
"""
import json
import sys
import uuid
from pathlib import Path

from store import Store, annotations, importer, queue


def main(db_path: str, workdir: str, threshold: str) -> None:
    db = Store(db_path, checkpoint_threshold=threshold or None)
    print("READY", flush=True)
    who = f"ann-{uuid.uuid4().hex[:6]}"
    for step in range(10**9):
        if step % 10 == 0:
            path = Path(workdir) / f"batch-{uuid.uuid4().hex}.jsonl"
            path.write_text("".join(json.dumps({"text": f"{path.stem} turn {i} 订单 🙂", "intents": ["x"]},
                                               ensure_ascii=False) + "\n" for i in range(50)), encoding="utf-8")
            report = importer.import_files(db, [path], labels="suggestions")
            print(f"IMPORT {report.import_id} {report.n_turns}", flush=True)
        turn = queue.claim_next(db, "default", who)
        if turn is None:
            continue
        annotation_id = uuid.uuid4().hex
        annotations.submit(db, annotation_id=annotation_id, turn_id=turn["turn_id"], project="default",
                           annotator=who, intents=["x"], entities=[{"start": 0, "end": 1, "label": "e"}])
        print(f"ACK {annotation_id}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
