"""Export page for analysts: pick a format and filters, write a curated set with its manifest, download it.

The browser twin of ``concord export`` (same filters). Each export goes to a new folder unless the
analyst names one, so exporting twice in a row just works. Exports live beside the database file,
in ``<db stem>-exports/`` (shown on the page): the server's working directory is wherever
``concord serve`` happened to be started, so exports there were hard to find and mixed across
databases; a typed folder stays inside it unless the user is an admin (``output_folder``). The export
just made and every earlier export still on disk can be downloaded as a zip.
Nothing from dialog text is shown here (counts, label names, paths and the manifest only); the
manifest is rendered with ``st.code``, never as Markdown. Each export shows its version identity (the
start of its label fingerprint, when and by whom), so exports of different data states can be told apart.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from store import labels, users
from store.export import LABEL_SOURCES, MANIFEST, ExportFilters, export, list_exports
from store.export_manifest import version_identity
from store.formats import EXPORTERS, ExportOptions
from workbench import runtime

LAST_EXPORT_KEY = "export_last"
MODEL_AGREEMENT = {"any": "any", "agree": "the model agrees", "disagree": "the model disagrees"}
OUT_LABEL = ("Output folder on the server: a folder name inside the exports folder above (empty = a new "
             "folder there for each export)")
OUT_LABEL_ADMIN = ("Output folder on the server (empty = a new folder in the exports folder above for each "
                   "export; a relative path goes inside that folder, an absolute one anywhere: admins only)")


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zip_file:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zip_file.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def exports_root(db_path) -> Path:
    """Where the page writes exports: ``<db stem>-exports`` beside the database file, so they travel with
    it and two databases served from one folder keep theirs apart (an in-memory store: ./exports)."""
    if str(db_path) == ":memory:":
        return Path("exports").resolve()
    database = Path(db_path).resolve()
    return database.with_name(f"{database.stem}-exports")


def output_folder(typed: str, root: Path, *, any_folder: bool = False) -> Path:
    """The folder a user typed, inside the exports folder (not the server's working directory, which the
    user cannot see). Only with ``any_folder`` (admins) may it be an absolute path, taken as is: the
    server writes as its own machine user, so an analyst's absolute path (or a '..' out of the exports
    folder) wrote wherever that user may, e.g. into another project's data. ``concord export`` runs as
    the person's own machine user and is not restricted. Raises ValueError saying what to type instead."""
    if any_folder:
        folder = Path(typed).expanduser()
        return folder if folder.is_absolute() else root / folder
    return folder_inside(typed, root)


def folder_inside(typed: str, root: Path) -> Path:
    """``root / typed`` when that is a folder strictly inside ``root`` (symbolic links resolved), else ValueError."""
    folder, hint = Path(typed), (f"type a folder name inside the exports folder {root} (e.g. for-review), "
                                 "or leave the field empty for a new folder")
    if folder.is_absolute() or typed.startswith("~"):
        raise ValueError(f"{typed!r} is a path outside the exports folder: only an admin may export to another "
                         f"folder on the server; {hint}.")
    if ".." in folder.parts:
        raise ValueError(f"{typed!r} uses '..' to leave the exports folder, which only an admin may do; {hint}.")
    inside, real_root = (root / folder).resolve(), root.resolve()
    if real_root not in inside.parents:
        raise ValueError(f"{typed!r} is not a folder inside the exports folder; {hint}.")
    return inside


def new_folder(project: str, fmt: str, *, root: Path, now: datetime | None = None) -> Path:
    """A folder no export uses yet: <root>/<project>-<format>-<UTC time>, with -2, -3... if that exists
    (two exports within a second). An export refuses a non-empty folder, so a fixed default failed twice."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%SZ")
    base = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', project)}-{fmt}-{stamp}"
    folder, n = root / base, 1
    while folder.exists():
        n += 1
        folder = root / f"{base}-{n}"
    return folder


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _more_filters(db) -> dict:
    """The CLI's other filters (``concord export --help``), all off unless set."""
    with st.expander("More filters"):
        names = [u["username"] for u in users.list_users(db)]
        annotators = st.multiselect("Only turns labelled by (none = anyone; type a name to add one)", names,
                                    accept_new_options=True)
        since = st.date_input("Labelled on or after (empty = any time)", value=None)
        until = st.date_input("Labelled on or before (empty = any time)", value=None)
        agreement = st.selectbox("Latest model run's intents vs the labels", list(MODEL_AGREEMENT),
                                 format_func=MODEL_AGREEMENT.get)
        low = st.number_input("Minimum alignment score, latest model run (empty = none)", 0.0, 1.0, value=None,
                              step=0.05)
        high = st.number_input("Maximum alignment score, latest model run (empty = none)", 0.0, 1.0, value=None,
                               step=0.05)
    return {"annotators": tuple(a.strip() for a in annotators if a.strip()), "since": _iso(since),
            "until": _iso(until), "model_agreement": None if agreement == "any" else agreement,
            "min_alignment_score": low, "max_alignment_score": high}


def _form(db, project: str, *, is_admin: bool) -> dict | None:
    schema = labels.get_schema(db, project)
    with st.form("export"):
        fmt = st.selectbox("Format", list(EXPORTERS), format_func=lambda n: f"{n}: {EXPORTERS[n].description}")
        sources = st.multiselect("Label sources", LABEL_SOURCES, default=list(LABEL_SOURCES))
        intents = st.multiselect("Only turns with these intents (none = all)", schema["intents"])
        min_agreement = st.slider("Minimum annotator agreement", 0.0, 1.0, 0.0, 0.05)
        include_disputed = st.checkbox("Include unresolved disagreements")
        more = _more_filters(db)
        split = st.checkbox("Split train/validation/test (by conversation, stratified by intent)", value=True)
        out = st.text_input(OUT_LABEL_ADMIN if is_admin else OUT_LABEL)  # md-safe: two fixed labels (constants)
        overwrite = st.checkbox("Replace the folder if it holds an earlier export")
        if not st.form_submit_button("Export", type="primary"):
            return None
    return {"fmt": fmt, "out": out.strip(), "split": split, "overwrite": overwrite, "filters": dict(
        sources=tuple(sources), intents=tuple(intents), min_agreement=min_agreement or None,
        include_disputed=include_disputed, **more)}


def is_admin(user) -> bool:
    """Admins may export to any folder on the server; everyone else only inside the exports folder."""
    return getattr(user, "role", None) == "admin"


def run_export(db, user, project: str, request: dict) -> None:
    """Write the export; on success remember it for the download panel, on failure say why."""
    root = exports_root(db.path)
    try:
        filters = ExportFilters(**request["filters"])
        out = (output_folder(request["out"], root, any_folder=is_admin(user)) if request["out"]
               else new_folder(project, request["fmt"], root=root))
        with st.spinner("Exporting..."):
            result = export(db, out, fmt=request["fmt"], project=project, filters=filters, split=request["split"],
                            options=ExportOptions(), exported_by=user.username, overwrite=request["overwrite"])
    except (ValueError, FileExistsError, ImportError) as exc:
        st.session_state.pop(LAST_EXPORT_KEY, None)
        st.error("The export failed:")
        st.code(str(exc), language=None)
        return
    st.session_state[LAST_EXPORT_KEY] = {"out": str(result.out), "manifest": result.manifest}


def render_last_export() -> None:
    """The export just made (kept across reruns, so downloading does not lose it)."""
    last = st.session_state.get(LAST_EXPORT_KEY)
    if not last:
        return
    folder, manifest = Path(last["out"]), last["manifest"]
    counts = pd.DataFrame({name: {"turns": c["turns"], "conversations": c["conversations"]}
                           for name, c in manifest["counts"].items()}).T
    st.success(f"Exported {int(counts['turns'].sum())} turns.")  # md-safe: a count
    st.text(f"Folder: {folder}")
    # which data state this is: an old export's labels can be told apart from today's by this line
    st.text(f"Version: {version_identity(manifest)}")
    st.dataframe(counts)
    st.code(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), language="json")
    if (folder / MANIFEST).is_file():
        st.download_button("Download this export (.zip)", data=lambda: _zip(folder), file_name=f"{folder.name}.zip",
                           mime="application/zip", key="download_last", on_click="ignore", type="primary")
    else:
        st.text("The folder is no longer on the server.")


def render_earlier(db, project: str) -> None:
    """Earlier exports, and a zip of any that is still on disk."""
    st.subheader("Earlier exports")
    rows = list_exports(db, project)
    for row in rows:
        row["on_disk"] = bool(row["out_path"]) and (Path(row["out_path"]) / MANIFEST).is_file()
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    present = {r["export_id"]: r for r in rows if r["on_disk"]}
    if not present:
        return
    choice = st.selectbox("Download an earlier export", list(present), key="export_earlier",
                          format_func=lambda i: f"{str(present[i]['exported_at'])[:16]}  {present[i]['format']}  "
                                                f"labels {present[i]['labels'] or '?'}  "
                                                f"{Path(present[i]['out_path']).name}")
    folder = Path(present[choice]["out_path"])
    st.download_button("Download the chosen export (.zip)", data=lambda: _zip(folder), file_name=f"{folder.name}.zip",
                       mime="application/zip", key="download_earlier", on_click="ignore")


def render(db, user) -> None:
    project = runtime.parse_settings().project
    st.header("Export")
    st.text(f"Exports are written to {exports_root(db.path)}")
    request = _form(db, project, is_admin=is_admin(user))
    if request is not None:
        run_export(db, user, project, request)
    render_last_export()
    render_earlier(db, project)
