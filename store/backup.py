"""A whole-database backup and its restore, as opposed to ``concord export`` (a curated training set).

An export leaves out unlabelled turns, who labelled what, imported-vs-human, adjudications, users,
schema renames and model runs; an admin who loses the database file needs all of it back. So a backup
is DuckDB's own ``EXPORT DATABASE`` (schema.sql, load.sql and one Parquet file per table: every table,
index, sequence, view and macro) plus ``manifest.json`` saying which Concord and which schema version
wrote it and how many rows each table held.

DuckDB specifics this relies on:
- one process holds a database file, so a running workbench backs up through its own ``Store``: the
  export runs on a read cursor of the store's connection, in one transaction, so the row counts and
  the files are the same snapshot while the writer thread goes on committing;
- ``annotation_seq`` orders every annotation; the export writes each sequence with ``START`` past its
  last value, and restore checks that (and moves a sequence on if a DuckDB ever wrote it otherwise),
  so a restored database never hands out a ``seq`` that orders a new annotation before an old one;
- ``IMPORT DATABASE`` reads the Parquet files from the folder it is given (the folder may be moved,
  e.g. downloaded as a zip and unpacked elsewhere). Restore also takes that zip as is: it is unpacked
  into a temporary folder first, refusing any member that would land outside it (an absolute path or
  a ".." part: "zip slip"), since a zip may come from anywhere.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from store.migrations import LATEST, current_version, migrate

MANIFEST = "manifest.json"
KIND = "concord-backup"
DUCKDB_FILES = ("schema.sql", "load.sql")


def _literal(path: Path) -> str:
    """A path as an SQL string literal (EXPORT/IMPORT DATABASE take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(con) -> dict[str, int]:
    """Rows of every table of the database (``schema.table`` outside ``main``), by name."""
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                         "current_database() AND NOT temporary ORDER BY schema_name, table_name").fetchall()
    counts = {}
    for schema, table in tables:
        name = table if schema == "main" else f"{schema}.{table}"
        counts[name] = con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}").fetchone()[0]
    return counts


def sequence_values(con) -> dict[str, int | None]:
    """The last value each sequence handed out (None: never used)."""
    return dict(con.execute("SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = "
                            "current_database() AND NOT temporary ORDER BY sequence_name").fetchall())


def _snapshot_export(db, out: Path) -> tuple[dict, dict, int]:
    """EXPORT DATABASE and the counts in one transaction on a read cursor: the same snapshot, no writer blocked."""
    cur = db._cursor()                 # same package as Store: a read cursor of the store's own connection
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            counts, sequences, version = table_counts(cur), sequence_values(cur), current_version(cur)
            cur.execute(f"EXPORT DATABASE {_literal(out.resolve())} (FORMAT PARQUET)")
        finally:
            cur.execute("ROLLBACK")    # read-only: nothing to commit
    finally:
        cur.close()
    return counts, sequences, version


def backup(db, out_dir: str | Path) -> dict:
    """Write the whole database behind ``db`` (a ``Store``) to the new folder ``out_dir``; return the manifest.

    ``out_dir`` must not exist or be empty: a backup never mixes with another one's files.
    """
    from store.export import code_version

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: a backup goes to a new folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        try:
            counts, sequences, version = _snapshot_export(db, out)
        except duckdb.Error as exc:
            raise OSError(f"cannot write the backup to {out}: {exc}") from None
        manifest = {"kind": KIND, "concord_version": code_version(), "schema_version": version,
                    "duckdb_version": duckdb.__version__,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "tables": counts, "sequences": sequences}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except BaseException:
        _empty(out, remove_folder=created)
        raise
    return manifest


def _empty(folder: Path, *, remove_folder: bool) -> None:
    """Undo a failed backup: no half-written backup may pass for a whole one."""
    if remove_folder:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def read_manifest(backup_dir: str | Path) -> dict:
    """The backup's manifest, refused when the folder is no Concord backup or is newer than this Concord."""
    folder = Path(backup_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such backup folder or zip")
    missing = [name for name in (MANIFEST, *DUCKDB_FILES) if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder} is not a Concord backup: {', '.join(missing)} missing")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder / MANIFEST}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND or not isinstance(manifest.get("tables"), dict):
        raise ValueError(f"{folder / MANIFEST} is not a Concord backup manifest (kind {KIND!r} and tables expected)")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 0:
        raise ValueError(f"{folder / MANIFEST}: schema_version must be a whole number, got {version!r}")
    if version > LATEST:
        raise ValueError(f"the backup is at schema version {version}, newer than this Concord knows ({LATEST}); "
                         f"restore it with Concord {manifest.get('concord_version', '?')} or newer")
    return manifest


def check_counts(con, expected: dict[str, int]) -> None:
    """Every table of the manifest restored with its row count (expected vs actual on a mismatch)."""
    actual = table_counts(con)
    wrong = [f"{name}: {rows} rows in the backup, {actual.get(name, 'no table')} restored"
             for name, rows in sorted(expected.items()) if actual.get(name) != rows]
    if wrong:
        raise ValueError("the restored database does not match the backup's manifest: " + "; ".join(wrong))


def resume_sequences(con, backed_up: dict[str, int | None]) -> None:
    """Move each sequence past the value it had handed out when backed up (EXPORT writes START past it;
    this is the guard for a DuckDB that does not), so new rows keep ordering after the restored ones."""
    for name, last in (backed_up or {}).items():
        if last is None:
            continue
        row = con.execute("SELECT coalesce(last_value, start_value - increment_by), increment_by "
                          "FROM duckdb_sequences() WHERE sequence_name = ?", [name]).fetchone()
        if row is None:
            raise ValueError(f"the restored database has no sequence {name!r}, which the backup lists")
        current, step = row
        behind = (last - current) // step if step > 0 else 0
        if behind > 0:
            con.execute(f"SELECT count(nextval({_literal(name)})) FROM range(?)", [behind])


def _fill(staging: Path, source: Path, manifest: dict) -> int:
    """IMPORT DATABASE into the fresh file ``staging``, check it, and migrate it; the schema version reached."""
    con = duckdb.connect(str(staging))
    try:
        try:
            con.execute(f"IMPORT DATABASE {_literal(source.resolve())}")
        except duckdb.Error as exc:
            raise ValueError(f"cannot import the backup {source}: {exc}") from None
        check_counts(con, manifest["tables"])
        resume_sequences(con, manifest.get("sequences"))
        version = migrate(con)         # an older backup's schema is brought up to this Concord's
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return version


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        if leftover.exists():
            leftover.unlink()


def unsafe_member(name: str) -> bool:
    """A zip member that would be written outside the folder it is unpacked into (absolute, a drive, or "..")."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts


def unpack_zip(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into the folder ``into`` (refusing zip slip) and return the backup folder inside:
    ``into`` itself when manifest.json is at the top, else the one top folder holding it (the page's zip)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            unsafe = [name for name in zipped.namelist() if unsafe_member(name)]
            if unsafe:
                raise ValueError(f"{archive}: refused, members would be written outside the restore folder: "
                                 + ", ".join(repr(name) for name in unsafe[:5]))
            zipped.extractall(into)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{archive}: not a readable zip ({exc})") from None
    if (into / MANIFEST).is_file():
        return into
    holding = [folder for folder in into.iterdir() if (folder / MANIFEST).is_file()]
    if len(holding) != 1:
        raise ValueError(f"{archive} is not a Concord backup zip: expected {MANIFEST} at the top or in one folder, "
                         f"found it in {len(holding)}")
    return holding[0]


@contextmanager
def backup_folder(backup: str | Path):
    """The backup folder ``backup`` names: a folder as is, or a zip (the Backup page's download) unpacked
    into a temporary folder that is removed afterwards."""
    source = Path(backup)
    if not (source.is_file() and zipfile.is_zipfile(source)):
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="concord-restore-") as tmp:
        yield unpack_zip(source, Path(tmp))


def _refuse_existing(target: Path) -> None:
    for existing in (target, target.with_name(target.name + ".wal")):
        if existing.exists():
            raise FileExistsError(f"{existing} exists: restore only creates a new database file "
                                  "(move the old one aside or pick another --db)")


def restore(backup: str | Path, db_path: str | Path) -> dict:
    """Create the NEW database file ``db_path`` from a backup folder or its zip; return the manifest and the
    version reached.

    The restore is built under a hidden name beside ``db_path`` and renamed into place only once every
    table's row count matches the manifest, so a failed restore leaves no half-filled database behind.
    """
    target = Path(db_path)
    _refuse_existing(target)
    with backup_folder(backup) as source:
        manifest = read_manifest(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.restoring-{os.getpid()}")
        _remove(staging)
        try:
            version = _fill(staging, source, manifest)
            if target.exists():
                raise FileExistsError(f"{target} appeared while restoring: not overwritten")
            os.rename(staging, target)
        finally:
            _remove(staging)
    return {"manifest": manifest, "schema_version": version, "tables": manifest["tables"]}
