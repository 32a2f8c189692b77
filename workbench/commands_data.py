"""``concord init``, ``concord import`` and ``concord stats``: getting data in and seeing what is there."""
from __future__ import annotations

import json

from workbench.cli import CommandError

DB_HELP = "the DuckDB file (default: ./concord.duckdb)"


def register(subparsers) -> None:
    p = subparsers.add_parser("init", help="create a database, optionally with a label schema",
                              description="Create (or upgrade) a Concord database and load a label schema.")
    p.add_argument("--db", default="concord.duckdb", help=DB_HELP)
    p.add_argument("--project", default="default", help="project name (default: default)")
    p.add_argument("--schema", help="a YAML label schema: intents, entities, sentiments (names or {name, description})")
    p.add_argument("--guidelines", help="a Markdown file of annotation guidelines shown beside the label form")
    p.add_argument("--overlap", type=int, default=None, help="how many annotators label each turn (default 1)")
    p.set_defaults(handler=run_init)

    p = subparsers.add_parser("import", help="import turns (and their labels) from files",
                              description="Import turn files all or nothing: any problem and nothing changes.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="JSONL / CSV / Parquet files (or another tool's format)")
    p.add_argument("--db", default="concord.duckdb", help=DB_HELP)
    p.add_argument("--project", default="default", help="project name (default: default)")
    p.add_argument("--format", default="auto",
                   help="auto|jsonl|csv|parquet, or labelstudio|doccano|rasa|conll|hf (default: auto, by extension)")
    p.add_argument("--labels", default="gold", choices=["gold", "suggestions", "ignore"],
                   help="how to treat labels in the files (default: gold)")
    schema = p.add_mutually_exclusive_group()
    schema.add_argument("--strict-schema", action="store_true", help="reject labels that are not in the label schema")
    schema.add_argument("--extend-schema", action="store_true",
                        help="add unknown labels even when they look like typos of known ones (default: refuse those)")
    p.add_argument("--max-errors", type=int, default=20, help="problems to list before counting the rest (default 20)")
    p.set_defaults(handler=run_import)

    p = subparsers.add_parser("stats", help="counts by label, labelled/unlabelled, per annotator",
                              description="Show what a project holds and who labelled it.")
    p.add_argument("--db", default="concord.duckdb", help=DB_HELP)
    p.add_argument("--project", default="default", help="project name (default: default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_stats)


def open_db(path: str, *, must_exist: bool = False):
    from pathlib import Path

    from store import Store

    if must_exist and not Path(path).exists():
        raise CommandError(f"{path}: no such database (run `concord init --db {path}` or `concord import`)")
    try:
        return Store(path)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None


def run_init(args) -> int:
    from store import labels

    with open_db(args.db) as db:
        labels.create_project(db, args.project) if labels.get_project(db, args.project) is None else None
        if args.overlap is not None:
            labels.set_overlap(db, args.project, args.overlap)
        if args.schema:
            try:
                schema = labels.load_schema_yaml(db, args.project, args.schema)
            except (OSError, ValueError) as exc:
                raise CommandError(str(exc)) from None
            print(f"label schema: {len(schema['intents'])} intents, {len(schema['entities'])} entity types, "
                  f"{len(schema['sentiments'])} sentiment classes")
        if args.guidelines:
            try:
                labels.set_guidelines(db, args.project, open(args.guidelines, encoding="utf-8").read())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{args.guidelines}: {exc}") from None
        print(f"{args.db}: project {args.project!r} ready (schema version {db.schema_version})")
    return 0


def run_import(args) -> int:
    from store import importer

    with open_db(args.db) as db:
        try:
            report = importer.import_files(db, args.paths, project=args.project, fmt=args.format,
                                           labels=args.labels,
                                           strict_schema="extend" if args.extend_schema else args.strict_schema)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        print(report.summary(max_problems=args.max_errors))
        return 1
    print(report.summary())
    for what in report.relabelled[:5]:
        print(f"  labels updated: {what}")
    for why in report.duplicates[:5]:
        print(f"  duplicate: {why}")
    for kind, names in report.new_labels.items():
        print(f"  new {kind} labels: {', '.join(names[:15])}{' ...' if len(names) > 15 else ''}")
    return 0


def run_stats(args) -> int:
    from store.stats import project_stats

    with open_db(args.db, must_exist=True) as db:
        stats = project_stats(db, args.project)
    if args.json:
        print(json.dumps(stats, default=str, ensure_ascii=False, indent=2))
        return 0
    print(f"project {stats['project']}: {stats['turns']} turns in {stats['conversations']} conversations, "
          f"{stats['labelled']} labelled, {stats['unlabelled']} unlabelled, {stats['with_response']} with a response")
    for title in ("intents", "entities", "sentiments", "aligned"):
        if stats[title]:
            items = ", ".join(f"{k} {v}" for k, v in list(stats[title].items())[:30])
            print(f"{title}: {items}")
    for a in stats["annotators"]:
        print(f"annotator {a['annotator']}: {a['submits']} submitted, {a['skips']} skipped, {a['undos']} undone, "
              f"{a['flags']} flagged")
    return 0
