"""Admin page: import turn files in the browser while the workbench runs.

DuckDB lets one process hold the database file, so ``concord import`` cannot open it while the
workbench serves it; this page imports through the app's own ``Store`` instead, with the CLI's
options and the same all-or-nothing ``store.importer.import_files``. Uploads are written to a
temporary folder under their original names (one sub-folder each, so two files of the same name do
not overwrite each other), imported, and the folder removed; the report is then rewritten to name
the uploaded files, not the temporary paths, so a problem reads ``dialogs.jsonl:2: ...``.
File contents and label names are shown only through st.text / st.dataframe / escaped notices.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from store import jobfiles
from store.formats import READERS
from store.importer import ImportReport, import_files
from workbench import auth, background, runtime
from workbench.components.notice import notice

# Each file is read whole (and held by Streamlit while uploaded): below Streamlit's 200 MB server
# default, so no server option changes; bigger files go through ``concord import`` with the app stopped.
MAX_UPLOAD_MB = 100
FORMATS = ("auto", "jsonl", "csv", "parquet", *sorted(READERS))
FORMAT_TITLES = {"auto": "auto (by file extension)", "labelstudio": "labelstudio (Label Studio JSON export)",
                 "hf": "hf (Hugging Face dataset file)"}
LABEL_ROLES = {"gold": "gold: they count as labels",
               "suggestions": "suggestions: pre-filled for annotators to confirm",
               "ignore": "ignore: kept aside, not used"}
SCHEMA_MODES = {"add": False, "strict": True, "extend": "extend"}   # -> import_files(strict_schema=...)
SCHEMA_TITLES = {"add": "add new labels, refuse likely typos of known ones",
                 "strict": "strict: refuse every label not in the schema",
                 "extend": "extend: add every new label, even look-alikes"}
# The importer words its advice for the command line; here the same choice is a widget.
CLI_ADVICE = {"pass --extend-schema": "choose extend under Label schema", "pass --format": "choose it under Format",
              "(--strict-schema)": "(strict)"}
OUTCOME_KEY = "import_outcome"
MAX_PROBLEM_LINES = 50      # shown as text; the table beneath holds every problem
UPLOADER_ROUND_KEY = "import_uploader_round"   # a new key empties the uploader after an import


def upload_name(name: str, index: int) -> str:
    """The uploaded file's own name, without any folder a browser might send (never a path outside the folder)."""
    base = Path(name.replace("\\", "/")).name
    return base if base not in ("", ".", "..") else f"upload-{index + 1}"


def with_upload_names(report: ImportReport, names: dict[str, str]) -> ImportReport:
    """``report`` naming each file as uploaded: temporary paths (keys) replaced by the uploaded names,
    and the command-line advice in messages by this page's options."""
    def rename(text: str) -> str:
        for old, new in [*names.items(), *CLI_ADVICE.items()]:
            text = text.replace(old, new)
        return text

    problems = [dataclasses.replace(p, file=rename(p.file), message=rename(p.message)) for p in report.problems]
    return dataclasses.replace(report, files=[rename(f) for f in report.files], problems=problems,
                               duplicates=[rename(d) for d in report.duplicates],
                               relabelled=[rename(r) for r in report.relabelled],
                               warnings=[rename(str(w)) for w in report.warnings])


def import_uploads(db, uploads: list[tuple[str, bytes]], *, project: str, fmt: str = "auto", labels: str = "gold",
                   schema_mode: str = "add", imported_by: str | None = None) -> ImportReport:
    """Import ``(file name, bytes)`` pairs as ``concord import`` imports files: all or nothing.

    Raises ValueError for options the importer refuses (as the CLI does)."""
    with tempfile.TemporaryDirectory(prefix="concord-import-") as folder:
        names, paths = {}, []
        for index, (name, data) in enumerate(uploads):
            path = Path(folder) / str(index) / upload_name(name, index)
            path.parent.mkdir()
            path.write_bytes(data)
            names[str(path)] = path.name
            paths.append(path)
        report = import_files(db, paths, project=project, fmt=fmt, labels=labels,
                              strict_schema=SCHEMA_MODES[schema_mode], imported_by=imported_by)
    return with_upload_names(report, names)


def gold_labels_imported(db, report: ImportReport) -> int:
    """How many turns this import gave gold labels (new turns and updated ones): what a retrain would learn."""
    row = db.query_one("SELECT count(*) FROM imported_labels WHERE import_id = ? AND role = 'gold'",
                       [report.import_id])
    return row[0] if row else 0


def queue_retrain(db, project: str, user: auth.User, report: ImportReport) -> str:
    """After an import that brought gold labels: a fast job as the Schema page writes after a rename,
    since imported labels do not count towards the every-N-labels trigger. Returns what to tell the admin."""
    labelled = gold_labels_imported(db, report)
    if not labelled:
        return ""
    try:
        run_id = background.request_retrain(db, jobfiles.default_jobs_dir(db.path), project, kind="fast",
                                            reason=f"import {report.import_id} ({user.username}): "
                                                   f"{labelled} turn(s) with gold labels")
    except (OSError, ValueError) as exc:
        return f"Queuing a retrain failed ({exc}): use Retrain now on the Pipeline page."
    return f"A retrain is queued ({run_id}): suggestions learn the imported labels once the worker has run it."


def run_import(db, project: str, user: auth.User, uploader_key: str) -> None:
    """The Import button's callback: import the uploaded files, keep the outcome for the next run."""
    files = st.session_state.get(uploader_key) or []
    too_big = [f.name for f in files if f.size > MAX_UPLOAD_MB * 1024 * 1024]
    if too_big:
        st.session_state[OUTCOME_KEY] = {"error": f"Over {MAX_UPLOAD_MB} MB, nothing was imported: "
                                                  f"{', '.join(too_big)}. Use concord import with the workbench stopped."}
        return
    try:
        report = import_uploads(db, [(f.name, f.getvalue()) for f in files], project=project,
                                fmt=st.session_state["import_format"], labels=st.session_state["import_labels"],
                                schema_mode=st.session_state["import_schema"], imported_by=user.username)
    except (OSError, ValueError) as exc:
        st.session_state[OUTCOME_KEY] = {"error": f"Nothing was imported: {exc}"}
        return
    outcome = {"report": report, "retrain": ""}
    if report.ok:
        runtime.forget()      # label pages re-read the schema (new labels) and the project list now
        outcome["retrain"] = queue_retrain(db, project, user, report)
        st.session_state[UPLOADER_ROUND_KEY] = st.session_state.get(UPLOADER_ROUND_KEY, 0) + 1
    st.session_state[OUTCOME_KEY] = outcome


def forget_outcome() -> None:
    """Other files chosen: the last import's outcome no longer describes what the uploader shows."""
    st.session_state.pop(OUTCOME_KEY, None)


def problems_table(report: ImportReport) -> pd.DataFrame:
    return pd.DataFrame([{"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                         for p in report.problems], columns=["file", "line", "field", "message"])


def problem_lines(report: ImportReport, *, limit: int = MAX_PROBLEM_LINES) -> str:
    """Each problem as one line ``file:line: field: message`` (the CLI's wording), at most ``limit``.

    Lines, not only a table: a table cell cut the messages off, and the end of one (what to do about
    it) is the part the admin needs. ``st.text`` wraps them and shows the characters as they are."""
    lines = [str(p) for p in report.problems[:limit]]
    if len(report.problems) > limit:
        lines.append(f"... and {len(report.problems) - limit} more (all of them in the table below)")
    return "\n".join(lines)


def render_failure(report: ImportReport) -> None:
    # the files stay in the uploader after a failure (it is emptied only after an import): say so
    notice("error", f"Nothing was imported: {len(report.problems)} problem(s) in {len(report.files)} file(s). "
                    "Fix them in your copy of the files, then replace the files in the uploader above "
                    "with the fixed ones (remove a file with its x) and press Import again.")
    st.text(problem_lines(report))
    with st.expander("Problems as a table"):
        st.dataframe(problems_table(report), hide_index=True, width="stretch")


def render_success(report: ImportReport, retrain: str) -> None:
    notice("success", report.summary())
    counts = {"new turns": report.n_turns, "existing turns with updated labels": report.n_relabelled,
              "duplicates skipped": report.n_duplicates, "records read": report.n_read}
    st.dataframe(pd.DataFrame({"what": list(counts), "count": list(counts.values())}), hide_index=True, width="content")
    new_labels = [{"kind": kind, "label": name} for kind, names in report.new_labels.items() for name in names]
    if new_labels:
        st.caption("New labels added to the schema")
        st.dataframe(pd.DataFrame(new_labels), hide_index=True, width="content")
    details = [f"labels updated: {r}" for r in report.relabelled[:5]] + [f"duplicate: {d}" for d in report.duplicates[:5]]
    if details:
        st.text("\n".join(details))
    if retrain:
        notice("info", retrain)


def render_outcome(outcome: dict) -> None:
    """What the last import did: warnings, then the summary or the problem list."""
    if "error" in outcome:
        notice("error", outcome["error"])
        return
    report = outcome["report"]
    for warning in report.warnings:
        notice("warning", f"warning: {warning}")
    if report.ok:
        render_success(report, outcome["retrain"])
    else:
        render_failure(report)


def render_options() -> None:
    left, middle, right = st.columns(3)
    left.selectbox("Format", FORMATS, key="import_format", format_func=lambda f: FORMAT_TITLES.get(f, f))
    middle.radio("Labels in the files", list(LABEL_ROLES), key="import_labels", format_func=LABEL_ROLES.get)
    right.radio("Label schema", list(SCHEMA_MODES), key="import_schema", format_func=SCHEMA_TITLES.get)


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    user = auth.require_role(db, ("admin",))
    st.header("Import")
    st.caption("Add turns (and their labels) while the workbench runs, as concord import does: every file is "
               "checked first, and any problem means nothing is imported. Formats: JSONL, CSV, Parquet, "
               "Label Studio JSON, doccano JSONL, Rasa YAML, CoNLL, Hugging Face files, spaCy JSONL, intent CSV. "
               f"Up to {MAX_UPLOAD_MB} MB a file; bigger files: concord import with the workbench stopped.")  # md-safe: constants
    st.text(f"Project: {settings.project}")
    uploader_key = f"import_files_{st.session_state.get(UPLOADER_ROUND_KEY, 0)}"
    files = st.file_uploader("Files to import", accept_multiple_files=True, key=uploader_key,
                             max_upload_size=MAX_UPLOAD_MB, on_change=forget_outcome)
    render_options()
    st.button("Import", key="import_run", type="primary", disabled=not files, on_click=run_import,
              args=(db, settings.project, user, uploader_key))
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome:
        render_outcome(outcome)


if __name__ == "__main__":
    main()
