"""The browser's label-error audit as a child process: records in, ranked rows out, through files.

``python -m pipeline.audit_run --records R.jsonl --out RESULT.json --progress PROGRESS.json``

Why a process of its own: the audit trains the fast heads k times on the encoder's embeddings (torch),
and the app process must never load torch nor let minutes of training hold its GIL while pages render.
It is not a worker job either: the worker runs one job at a time, and an analyst's audit should not
wait behind a full fine-tune, nor need a run record. Like the worker it never opens the database: the
app writes the labelled records, this writes ``{"stage", "fraction"}`` progress and then the outcome
(``{"state": "done", "rows": [...]}`` or ``{"state": "failed", "error": "..."}``, the error's first line a
summary and the rest its traceback), each by atomic rename.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from store.jobfiles import write_json_atomic  # noqa: E402

AUDIT_FIELDS = ("intent", "sentiment", "entity")


def read_records(path: Path) -> list[dict]:
    """The app's snapshot: one JSON record per line (it wrote them, so a bad line is a bug: fail loudly)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def failure_text(exc: BaseException) -> str:
    """The outcome's ``error``: a first line the page shows as is (the exception's type and the first line of
    its message), then the traceback, which the page keeps in an expander."""
    message = str(exc).strip().splitlines()
    summary = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return f"{summary}\n{traceback.format_exc().strip()}"


def run_audit(records_path: Path, out_path: Path, progress_path: Path, *, encoder: str | None = None) -> int:
    """Rank the label errors of the records at ``records_path``; 0 when ``out_path`` holds rows, else 1."""
    def progress(stage: str, fraction: float) -> None:
        write_json_atomic(progress_path, {"stage": stage, "fraction": float(fraction or 0.0)})

    try:
        progress("loading the model code", 0.0)
        from pipeline.encoder_choice import choose_encoder
        from pipeline.encoders import configure_threads
        from pipeline.label_errors import rank_label_errors

        configure_threads()
        records = read_records(records_path)
        progress("choosing and loading the encoder", 0.0)
        encoder = choose_encoder(encoder, [r["text"] for r in records]).name   # as the worker chooses
        rows = rank_label_errors(records, encoder=encoder, fields=AUDIT_FIELDS, progress=progress)
    except Exception as exc:  # the app shows the first line, the traceback under it; it also goes to the log
        write_json_atomic(out_path, {"state": "failed", "error": failure_text(exc)})
        raise
    write_json_atomic(out_path, {"state": "done", "rows": rows})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--progress", required=True, type=Path)
    parser.add_argument("--encoder", default=None, help="encoder name or local path (default: auto -- the packaged MiniLM, or the multilingual encoder when the turns need it)")
    args = parser.parse_args(argv)
    return run_audit(args.records, args.out, args.progress, encoder=args.encoder)


if __name__ == "__main__":
    sys.exit(main())
