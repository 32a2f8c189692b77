"""Admin page: download a backup of the whole database while the workbench is running.

DuckDB lets one process hold the database file, so ``concord backup`` cannot open it while the
workbench serves it; this page backs up through the app's own ``Store`` instead (``store.backup``:
EXPORT DATABASE on a read cursor, one snapshot, writes go on). The backup is written to a temporary
folder, zipped, and the folder removed; the zip is kept in the session for the download button.
Only counts, versions and file names are shown here, never dialog text.
"""
from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from store.backup import backup
from workbench import auth, runtime
from workbench.components.notice import notice

LAST_BACKUP_KEY = "backup_last"


def zipped_backup(db, *, now: datetime | None = None) -> dict:
    """Back up ``db`` into a temporary folder and return the zip (one top folder, named like the zip) and manifest.

    The top folder means unzipping gives the folder ``concord restore`` takes, not files strewn in the cwd.
    """
    name = f"concord-backup-{(now or datetime.now(timezone.utc)).strftime('%Y%m%d-%H%M%SZ')}"
    with tempfile.TemporaryDirectory(prefix="concord-backup-") as tmp:
        manifest = backup(db, Path(tmp) / name)
        archive = shutil.make_archive(str(Path(tmp) / name), "zip", root_dir=tmp, base_dir=name)
        data = Path(archive).read_bytes()
    return {"zip": data, "file_name": f"{name}.zip", "folder": name, "manifest": manifest}


def create_backup(db) -> None:
    """The Create button's callback: a fresh backup replaces the one offered before (or says why it failed)."""
    st.session_state.pop(LAST_BACKUP_KEY, None)
    try:
        st.session_state[LAST_BACKUP_KEY] = zipped_backup(db)
    except (OSError, ValueError) as exc:
        st.session_state["backup_flash"] = ("error", f"The backup failed: {exc}")


def render_last(last: dict) -> None:
    manifest = last["manifest"]
    tables = manifest["tables"]
    notice("success", f"Backup made at {manifest['created_at']}: {len(tables)} tables, {sum(tables.values())} rows, "
                      f"schema version {manifest['schema_version']}, Concord {manifest['concord_version']}.")
    st.download_button("Download the backup (.zip)", data=last["zip"], file_name=last["file_name"],
                       mime="application/zip", key="backup_download", on_click="ignore", type="primary")
    st.text(f"To restore: run\n  concord restore {last['file_name']} --db NEW.duckdb\n"
            f"with the downloaded zip as is (or the folder {last['folder']} unzipped from it). Restore creates a new "
            "file and checks every table's row count against manifest.json.")
    counts = pd.DataFrame({"table": list(tables), "rows": list(tables.values())})
    st.dataframe(counts, hide_index=True, width="content")


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    auth.require_role(db, ("admin",))
    st.header("Backup")
    st.caption("The whole database, every project: all turns (labelled or not), every annotation with its "
               "annotator and history, imported labels, adjudications, users, the label schema and its renames, "
               "model runs. Unlike an export, which is a training set, a backup restores the workbench as it was.")
    kind, message = st.session_state.pop("backup_flash", (None, None))
    if message:
        notice(kind, message)
    st.button("Create backup", key="backup_create", on_click=create_backup, args=(db,))
    last = st.session_state.get(LAST_BACKUP_KEY)
    if last:
        render_last(last)


if __name__ == "__main__":
    main()
