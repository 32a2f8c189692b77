"""``concord backup`` and ``concord restore``: the whole database to a folder and back to a new file
(restore also takes the Backup page's zip directly).

``concord export`` writes a training set (labelled turns only, no users, history or model runs); a
backup keeps everything, so an admin can rebuild the database as it was. The work is in ``store.backup``
(imported inside the handlers, so ``concord --help`` stays fast).
"""
from __future__ import annotations

from workbench.cli import CommandError

RUNNING_HINT = " For a backup while it runs, download one from the workbench's Backup page (admins)."


def register(subparsers) -> None:
    p = subparsers.add_parser("backup", help="back up the whole database to a new folder (Parquet + manifest.json)",
                              description="Write every table (turns, annotations with their history, users, label "
                                          "schema and renames, model runs...) to OUT_DIR with DuckDB's EXPORT "
                                          "DATABASE, plus manifest.json (versions, row counts). "
                                          "`concord restore` reads it back.")
    p.add_argument("out_dir", metavar="OUT_DIR", help="a folder that does not exist yet (or is empty)")
    p.add_argument("--db", default="concord.duckdb", help="the DuckDB file (default: ./concord.duckdb)")
    p.set_defaults(handler=run_backup)

    p = subparsers.add_parser("restore", help="create a new database file from a `concord backup` folder or a "
                                              "backup zip",
                              description="Create the database --db (which must not exist) from BACKUP, check "
                                          "every table's row count against the backup's manifest, and bring an "
                                          "older backup up to this Concord's schema.")
    p.add_argument("backup_dir", metavar="BACKUP", help="a folder written by `concord backup`, or the .zip the "
                                                        "workbench's Backup page downloads (as is, or unpacked)")
    p.add_argument("--db", required=True, help="the NEW DuckDB file to create (never overwritten)")
    p.set_defaults(handler=run_restore)


def _open_existing(path: str):
    """The database to back up; a lock held by a running workbench gets the way round it."""
    from workbench.commands_data import open_db

    try:
        return open_db(path, must_exist=True)
    except CommandError as exc:
        if "open in another process" in str(exc):
            raise CommandError(f"{exc}{RUNNING_HINT}") from None
        raise


def run_backup(args) -> int:
    from store.backup import backup

    with _open_existing(args.db) as db:
        try:
            manifest = backup(db, args.out_dir)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    tables = manifest["tables"]
    print(f"backed up {args.db} (schema version {manifest['schema_version']}) to {args.out_dir}: "
          f"{len(tables)} tables, {sum(tables.values())} rows")
    for name in ("turns", "annotations", "users", "model_runs"):
        if name in tables:
            print(f"  {name}: {tables[name]}")
    return 0


def run_restore(args) -> int:
    from store.backup import restore

    try:
        result = restore(args.backup_dir, args.db)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    manifest, tables = result["manifest"], result["tables"]
    upgraded = (f", upgraded from schema version {manifest['schema_version']}"
                if result["schema_version"] != manifest["schema_version"] else "")
    print(f"restored {args.db} from {args.backup_dir} (made {manifest.get('created_at', '?')} by Concord "
          f"{manifest.get('concord_version', '?')}{upgraded}): {len(tables)} tables, {sum(tables.values())} rows, "
          "row counts match the manifest")
    return 0
