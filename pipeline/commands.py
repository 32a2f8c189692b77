"""Model sub-commands: ``concord train``, ``concord evaluate``, ``concord predict``.

Each command is one ``_add_<name>`` (arguments) plus one ``run_<name>`` (handler); to add a command,
append a pair and call the adder from ``register``. Handlers import torch-backed modules lazily, so
``concord --help`` stays instant. Input files are read with ``store.readers.read_files``; every
problem is reported as file:line: field: message and the command exits with status 2.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

MAX_PROBLEMS_SHOWN = 20


def register(subparsers) -> None:
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_predict(subparsers)


# -- shared helpers -----------------------------------------------------------------------------------------
def read_records(paths: list[str], what: str) -> list[dict]:
    """Native turn records from JSONL / conversation JSONL / CSV / Parquet, or a CommandError listing problems."""
    from store.readers import read_files
    from workbench.cli import CommandError

    result = read_files(paths)
    if result.problems:
        shown = "\n  ".join(str(p) for p in result.problems[:MAX_PROBLEMS_SHOWN])
        more = len(result.problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise CommandError(f"{what}: {len(result.problems)} problem(s) in the input:\n  {shown}{tail}")
    return result.records


def load_model(path: str):
    from workbench.cli import CommandError

    from pipeline.model import ConcordModel

    try:
        return ConcordModel.load(path)
    except (ValueError, OSError) as exc:
        raise CommandError(f"--model: {exc}") from None


def jsonable(obj):
    """Metrics as strict JSON: numpy values to Python, NaN/inf to null."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _stderr(quiet: bool):
    if quiet:
        return None
    return lambda stage, fraction: print(f"[{stage}] {100 * float(fraction or 0):.0f}%", file=sys.stderr, flush=True)


# -- concord train ------------------------------------------------------------------------------------------
def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train the extractor and the alignment model on labelled turns",
        description="Train the intent/entity/sentiment extractor, the response alignment model and the "
                    "fusion weight on labelled native turns, and save them as one versioned model directory.")
    p.add_argument("--data", required=True, nargs="+", metavar="TRAIN", help="labelled turns (JSONL/CSV/Parquet)")
    p.add_argument("--valid", nargs="+", metavar="VALID", default=None,
                   help="held-out turns for calibration, early stopping and fusion (default: 20%% of conversations)")
    p.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--mode", choices=("fast", "full"), default="fast",
                   help="fast: frozen encoder, light heads (seconds); full: fine-tune the encoder (minutes)")
    p.add_argument("--encoder", default=None, metavar="E",
                   help="encoder name or local path; 'multilingual' for Chinese (default: packaged MiniLM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-alignment", action="store_true", help="train the extractor only")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=run_train)


def run_train(args) -> int:
    from workbench.cli import CommandError

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "model.json").is_file())):
        raise CommandError(f"--out: {out} exists and is not an empty directory or a Concord model; choose another path")
    records = read_records(args.data, "--data")
    valid = read_records(args.valid, "--valid") if args.valid else None
    from pipeline.model import ConcordModel

    try:
        model = ConcordModel.train(records, mode=args.mode, encoder=args.encoder, valid=valid, seed=args.seed,
                                   progress=_stderr(args.quiet), alignment=not args.no_alignment)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    model.save(out)
    alignment = model.report.get("alignment") or {}
    print(f"saved {out}  ({len(records)} turns, mode {args.mode}, encoder {model.encoder_identity})")
    if "rank" in alignment:
        print(f"alignment: rank {alignment['rank']} (common divisor), representation {alignment['representation']}, "
              f"{alignment['aligned_pairs']} aligned pairs; fusion weight {model.fusion_weight:.2f}")
    elif alignment.get("skipped"):
        print(f"alignment: not trained ({alignment['skipped']})")
    return 0


# -- concord evaluate ---------------------------------------------------------------------------------------
def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a trained model on labelled turns",
        description="Intent accuracy and macro-F1 (fused and text-only), entity exact-span F1 (per type too), "
                    "sentiment macro-F1, alignment ROC-AUC where verdicts exist, and confusion data.")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", required=True, nargs="+", metavar="TEST")
    p.add_argument("--json", action="store_true", help="print one JSON object (null where the data lacks a label)")
    p.set_defaults(handler=run_evaluate)


SUMMARY_KEYS = ("n", "intent_accuracy", "intent_macro_f1", "intent_accuracy_text_only", "entity_f1",
                "sentiment_macro_f1", "alignment_roc_auc", "alignment_swap_roc_auc")


def run_evaluate(args) -> int:
    model = load_model(args.model)
    records = read_records(args.data, "--data")
    metrics = jsonable(model.evaluate(records))
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
        return 0
    for key in SUMMARY_KEYS:
        value = metrics.get(key)
        shown = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        print(f"{key:<28} {shown}")
    for label, f1 in sorted((metrics.get("entity_f1_per_type") or {}).items()):
        print(f"  entity {label:<19} {f1:.4f}")
    return 0


# -- concord predict ----------------------------------------------------------------------------------------
def _add_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="write the model's suggestions and alignment scores for turns",
        description="One JSON line per turn: id, intents, intent_probs, entities (code-point spans with label "
                    "and score), sentiment, sentiment_probs, alignment_score (null without a response), "
                    "misalignment_prob.")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", required=True, nargs="+", metavar="X")
    p.add_argument("--out", required=True, metavar="P.jsonl")
    p.set_defaults(handler=run_predict)


def run_predict(args) -> int:
    model = load_model(args.model)
    records = read_records(args.data, "--data")
    rows = model.predict(records)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} predictions to {out}")
    return 0
