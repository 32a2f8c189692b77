"""Export page for analysts: pick a format and filters, write a curated set with its manifest, download it.

The browser twin of ``concord export``. Nothing from dialog text is shown here (counts, label names
and the manifest only); the manifest is rendered with ``st.code``, never as Markdown.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from store import labels
from store.export import LABEL_SOURCES, ExportFilters, export, list_exports
from store.formats import EXPORTERS, ExportOptions
from workbench import runtime


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zip_file:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zip_file.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _form(db, project: str) -> dict | None:
    schema = labels.get_schema(db, project)
    with st.form("export"):
        fmt = st.selectbox("Format", list(EXPORTERS), format_func=lambda n: f"{n}: {EXPORTERS[n].description}")
        sources = st.multiselect("Label sources", LABEL_SOURCES, default=list(LABEL_SOURCES))
        intents = st.multiselect("Only turns with these intents (none = all)", schema["intents"])
        min_agreement = st.slider("Minimum annotator agreement", 0.0, 1.0, 0.0, 0.05)
        include_disputed = st.checkbox("Include unresolved disagreements")
        split = st.checkbox("Split train/validation/test (by conversation, stratified by intent)", value=True)
        out = st.text_input("Output folder on the server", value=f"exports/{project}")
        overwrite = st.checkbox("Replace the folder if it holds an earlier export")
        if not st.form_submit_button("Export", type="primary"):
            return None
    return {"fmt": fmt, "out": out, "split": split, "overwrite": overwrite, "filters": ExportFilters(
        sources=tuple(sources), intents=tuple(intents), min_agreement=min_agreement or None,
        include_disputed=include_disputed)}


def render(db, user) -> None:
    project = runtime.parse_settings().project
    st.header("Export")
    request = _form(db, project)
    if request is not None:
        try:
            with st.spinner("Exporting..."):
                result = export(db, request["out"], fmt=request["fmt"], project=project, filters=request["filters"],
                                split=request["split"], options=ExportOptions(), exported_by=user.username,
                                overwrite=request["overwrite"])
        except (ValueError, FileExistsError, ImportError) as exc:
            st.error("The export failed:")
            st.code(str(exc), language=None)
        else:
            counts = pd.DataFrame({name: {"turns": c["turns"], "conversations": c["conversations"]}
                                   for name, c in result.manifest["counts"].items()}).T
            st.success(f"Exported {int(counts['turns'].sum())} turns.")  # md-safe: a count
            st.dataframe(counts)
            st.code(json.dumps(result.manifest, ensure_ascii=False, indent=2, sort_keys=True), language="json")
            st.download_button("Download as .zip", _zip(result.out), file_name=f"{result.out.name}.zip")
    st.subheader("Earlier exports")
    st.dataframe(pd.DataFrame(list_exports(db, project)), hide_index=True)
