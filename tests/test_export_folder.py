"""The Export page writes beside the database, in ``<db stem>-exports/``, and says where.

Exports used to land in ``exports/`` under the server process's working directory (wherever
``concord serve`` was started, e.g. /tmp/uxr4/code/exports/...), away from the database they came from.
The server here runs in one folder and the database lives in another; a typed relative folder goes
inside the exports folder too, an absolute one is taken as is.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import test_export
from store import Store
from store.export import list_exports

filled = test_export.filled      # the store fixture: gold imports, human labels, one disputed turn, a model run


@pytest.fixture
def db(tmp_path):
    """The database in its own folder, not the one the server runs in."""
    with Store(tmp_path / "data" / "support-bot.duckdb") as store:
        yield store


@pytest.fixture
def page(filled, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench import runtime

    server_cwd = tmp_path / "server-cwd"
    server_cwd.mkdir()
    monkeypatch.chdir(server_cwd)
    monkeypatch.delenv(runtime.ENV_PROJECT, raising=False)
    monkeypatch.setitem(runtime._stores, str(Path(filled.path).resolve()), filled)
    script = ("from types import SimpleNamespace\nfrom workbench import runtime\n"
              "from workbench.views.export import render\n"
              f"render(runtime.get_store({filled.path!r}), SimpleNamespace(username='ana', role='admin'))\n")
    return AppTest.from_string(script, default_timeout=60).run()


def export_to(at, store, typed: str = "") -> Path:
    """Export with the output folder ``typed`` (empty: a new one); the folder the export was recorded in."""
    at.text_input[0].set_value(typed)
    at.button(key="FormSubmitter:export-Export").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [c.value for c in at.code]
    return Path(list_exports(store, "default")[0]["out_path"])


def test_exports_go_beside_the_database_and_the_page_says_where(page, filled, tmp_path):
    beside = (tmp_path / "data" / "support-bot-exports").resolve()
    assert f"Exports are written to {beside}" in [t.value for t in page.text]
    assert page.text_input[0].label.startswith("Output folder on the server")
    made = export_to(page, filled)
    assert made.parent == beside and (made / "manifest.json").is_file()
    assert f"Folder: {made}" in [t.value for t in page.text]
    named = export_to(page, filled, "for-review")
    assert named == beside / "for-review" and (named / "manifest.json").is_file()
    elsewhere = export_to(page, filled, str(tmp_path / "elsewhere"))
    assert elsewhere == tmp_path / "elsewhere" and (elsewhere / "manifest.json").is_file()
    assert list((tmp_path / "server-cwd").iterdir()) == []       # nothing in the server's working directory
