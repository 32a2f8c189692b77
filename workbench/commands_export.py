"""``concord export``: a curated training set in one of the ecosystem's formats, with a manifest.

Heavy work happens in ``store.export`` (imported inside the handler, so ``concord --help`` stays fast).
"""
from __future__ import annotations

import argparse

from workbench.cli import CommandError

FORMATS = ("native", "intent-csv", "intent-jsonl", "hf", "conll", "spacy", "rasa", "labelstudio", "doccano", "chat",
           "dpo-trl", "dpo-openai")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export labelled turns as a training set (with manifest.json)",
        description="Write the labelled turns that pass the filters to --out in --format, with schema.yaml (for "
                    "`concord init --schema`) and a manifest: counts, filters, schema hash, model run, code version, "
                    "file sha256s, when and by whom, a fingerprint of the exported labels.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="output format")
    p.add_argument("--out", required=True, help="output folder (must be new or empty, or an earlier export with --force)")
    p.add_argument("--db", default="concord.duckdb", help="the DuckDB file")
    p.add_argument("--project", default="default", help="project name")
    p.add_argument("--split", action="store_true", help="train/validation/test files: by conversation, stratified by intent")
    p.add_argument("--seed", type=int, default=None, help="split seed (default: the project's seed)")
    p.add_argument("--ratios", default="0.8,0.1,0.1", help="train,validation,test shares")
    p.add_argument("--force", action="store_true", help="replace --out when it holds an earlier export")
    p.add_argument("--by", default=None, help="who exports (recorded with the export)")
    f = p.add_argument_group("filters")
    f.add_argument("--source", type=_csv, default=("adjudicated", "human", "imported"),
                   help="label sources to keep, comma-separated: adjudicated,human,imported")
    f.add_argument("--min-agreement", type=float, default=None, help="minimum share of annotators agreeing (0..1)")
    f.add_argument("--annotator", type=_csv, default=(), help="keep turns labelled by any of these (comma-separated)")
    f.add_argument("--since", default=None, help="labelled on or after this date (YYYY-MM-DD)")
    f.add_argument("--until", default=None, help="labelled on or before this date (YYYY-MM-DD)")
    f.add_argument("--intent", type=_csv, default=(), help="keep turns with any of these intents (comma-separated)")
    f.add_argument("--model-agreement", choices=("agree", "disagree"), default=None,
                   help="keep turns where the latest model run's intents agree / disagree with the labels")
    f.add_argument("--min-alignment-score", type=float, default=None, help="latest model run's alignment score >= this")
    f.add_argument("--max-alignment-score", type=float, default=None, help="latest model run's alignment score <= this")
    f.add_argument("--include-disputed", action="store_true", help="keep turns whose annotators disagree, unresolved")
    o = p.add_argument_group("format options")
    o.add_argument("--tokenizer", default=None,
                   help="tokenizer.json (or its folder) whose word boundaries conll/hf/spacy follow "
                        "(default: the packaged all-MiniLM-L6-v2)")
    o.add_argument("--align-threshold", type=float, default=None,
                   help="chat/dpo: also count unjudged responses the model scores >= this as aligned")
    o.add_argument("--system-prompt", default=None, help="chat/dpo: a system message to put first")
    o.add_argument("--hf-layout", choices=("auto", "disk", "parquet"), default="auto",
                   help="hf: save_to_disk (needs `datasets`) or Parquet; auto picks disk when datasets is installed")
    p.set_defaults(handler=run_export)


def _ratios(text: str) -> dict[str, float]:
    try:
        shares = [float(x) for x in text.split(",")]
    except ValueError:
        raise CommandError(f"--ratios: expected three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(shares) != 3:
        raise CommandError(f"--ratios: expected three shares (train,validation,test), got {len(shares)}")
    return dict(zip(("train", "validation", "test"), shares))


def run_export(args) -> int:
    from store.export import ExportFilters, export
    from store.export_manifest import version_identity
    from store.formats import ExportOptions
    from workbench.commands_data import open_db

    try:
        filters = ExportFilters(sources=args.source, min_agreement=args.min_agreement, annotators=args.annotator,
                                since=args.since, until=args.until, intents=args.intent,
                                model_agreement=args.model_agreement, min_alignment_score=args.min_alignment_score,
                                max_alignment_score=args.max_alignment_score, include_disputed=args.include_disputed)
        options = ExportOptions(tokenizer=args.tokenizer, align_threshold=args.align_threshold,
                                system_prompt=args.system_prompt, hf_layout=args.hf_layout)
        with open_db(args.db, must_exist=True) as db:
            result = export(db, args.out, fmt=args.fmt, project=args.project, filters=filters, split=args.split,
                            seed=args.seed, ratios=_ratios(args.ratios), options=options, exported_by=args.by,
                            overwrite=args.force)
    except FileExistsError as exc:
        raise CommandError(f"{exc} (--force replaces an earlier export)") from None
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    counts = {name: c["turns"] for name, c in result.manifest["counts"].items()}
    per_split = ", ".join(f"{name} {n}" for name, n in counts.items())
    rows = result.manifest["format_counts"].get("rows")
    written = "" if rows is None else f"; {rows} row(s) written"     # pair and chat formats: not one row per turn
    print(f"exported {sum(counts.values())} turns as {args.fmt} to {args.out} ({per_split}){written}")
    for key, value in sorted(result.manifest["format_counts"].items()):
        if key != "rows":
            print(f"  {key}: {value}")
    print(f"  version: {version_identity(result.manifest)}")
    print(f"  schema: {result.out / result.manifest['schema_file']}")
    print(f"  manifest: {result.out / 'manifest.json'}")
    return 0
