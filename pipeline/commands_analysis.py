"""``concord find-errors``: the analyst view's label-error ranking as a batch audit of a labelled file.

Heavy libraries (torch via the encoder, cleanlab) are imported inside the handler, so ``concord
--help`` stays instant.
"""
from __future__ import annotations

import json
import sys

FIELDS = ("intent", "sentiment", "entity")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "find-errors", help="rank likely label errors in a labelled file (confident learning, out-of-fold)",
        description="Train the fast extractor heads out-of-fold on a labelled file and rank the turns whose "
                    "given labels the held-out model most confidently disagrees with (cleanlab).")
    p.add_argument("--data", required=True, nargs="+", metavar="LABELLED", help="labelled JSONL / CSV / Parquet file(s)")
    p.add_argument("--top", type=int, default=None, metavar="K", help="print only the K most likely errors")
    p.add_argument("--json", action="store_true",
                   help='print a JSON list, most likely error first: [{"id", "field", "given", "suggested", "score", "flagged"}]')
    p.add_argument("--encoder", default=None, help="encoder name or local path (default: the packaged MiniLM)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=0, help="fold assignment and training seed (default 0)")
    p.add_argument("--fields", default=",".join(FIELDS), help=f"comma-separated subset of {','.join(FIELDS)}")
    p.add_argument("--flagged-only", action="store_true",
                   help="list only what confident learning's noise-rate filter flags (default: every out-of-fold "
                        "disagreement, ranked; the filter is conservative)")
    p.set_defaults(handler=run_find_errors)


def _read_labelled(paths: list[str]) -> list[dict]:
    from store.readers import read_files
    from workbench.cli import CommandError

    result = read_files(paths)
    if result.problems:
        shown = "\n  ".join(str(p) for p in result.problems[:20])
        more = f"\n  ... and {len(result.problems) - 20} more" if len(result.problems) > 20 else ""
        raise CommandError(f"{len(result.problems)} problem(s) in the input:\n  {shown}{more}")
    return result.records


def _fields(text: str) -> tuple[str, ...]:
    from workbench.cli import CommandError

    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown or not fields:
        raise CommandError(f"--fields: expected a comma-separated subset of {','.join(FIELDS)}, got {text!r}")
    return fields


def _progress(stage: str, fraction: float) -> None:
    print(f"[find-errors] {stage}", file=sys.stderr, flush=True)


def run_find_errors(args) -> int:
    from workbench.cli import CommandError

    fields = _fields(args.fields)
    if args.top is not None and args.top < 1:
        raise CommandError(f"--top: expected a positive number, got {args.top}")
    records = _read_labelled(args.data)
    from pipeline.label_errors import rank_label_errors

    try:
        rows = rank_label_errors(records, encoder=args.encoder, folds=args.folds, top=args.top, seed=args.seed,
                                 fields=fields, only_flagged=args.flagged_only,
                                 progress=None if args.json else _progress)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    _print_table(rows, records)
    return 0


def _print_table(rows: list[dict], records: list[dict]) -> None:
    texts = {r.get("id"): r.get("text", "") for r in records}
    print(f"{len(rows)} likely label error(s), most likely first")
    print(f"{'score':>6}  {'field':<9}  {'id':<20}  {'given':<24}  {'suggested':<24}  text")
    for row in rows:
        given, suggested = _label(row["given"]), _label(row["suggested"])
        text = row.get("span_text") or texts.get(row["id"], "")
        text = text.replace("\n", " ")
        print(f"{row['score']:6.3f}  {row['field']:<9}  {str(row['id'])[:20]:<20}  {given[:24]:<24}  "
              f"{suggested[:24]:<24}  {text[:60]}")


def _label(value) -> str:
    return "+".join(value) if isinstance(value, list) else str(value)
