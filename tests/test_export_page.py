"""The Export page: each export goes to a new folder (a second export used to fail on the fixed
exports/<project> folder), the export just made and earlier ones still on disk can be downloaded,
and the CLI's filters are on the page."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

import test_export
from store.export import list_exports
from workbench.views.export import new_folder

filled = test_export.filled      # the store fixture: gold imports, human labels, one disputed turn, a model run


@pytest.fixture
def page(filled, tmp_path, monkeypatch):
    """The page as an analyst sees it, run in ``tmp_path`` (exports go to test-exports/ beside test.duckdb)."""
    from streamlit.testing.v1 import AppTest

    from workbench import runtime

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(runtime.ENV_PROJECT, raising=False)
    monkeypatch.setitem(runtime._stores, str(tmp_path / "page.duckdb"), filled)
    script = ("from types import SimpleNamespace\nfrom workbench import runtime\n"
              "from workbench.views.export import render\n"
              f"render(runtime.get_store({str(tmp_path / 'page.duckdb')!r}), SimpleNamespace(username='ana'))\n")
    return AppTest.from_string(script, default_timeout=60).run()


def export_now(at):
    at.button(key="FormSubmitter:export-Export").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [c.value for c in at.code]
    return at


def ids_in(folder: Path) -> set[str]:
    return {json.loads(line)["id"] for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()}


def test_two_exports_in_a_row_go_to_two_new_folders(page, filled, tmp_path):
    at = page
    at.selectbox[0].set_value("native")
    export_now(at)
    export_now(at)
    recorded = list_exports(filled, "default")
    folders = {Path(r["out_path"]) for r in recorded}
    assert len(recorded) == 2 and len(folders) == 2
    for folder in folders:
        assert folder.parent == (tmp_path / "test-exports").resolve() and (folder / "manifest.json").is_file()
        assert folder.name.startswith("default-native-")
    assert "Exported 5 turns." in [s.value for s in at.success]


def test_the_export_just_made_and_earlier_ones_can_be_downloaded(page, filled, tmp_path):
    at = export_now(page)
    first = Path(list_exports(filled, "default")[0]["out_path"])
    export_now(at)
    keys = [b.proto.id for b in at.get("download_button")]
    assert any("download_last" in k for k in keys) and any("download_earlier" in k for k in keys)
    assert len(at.selectbox(key="export_earlier").options) == 2
    shutil.rmtree(first)                          # gone from disk: no longer offered
    at.run()
    assert len(at.selectbox(key="export_earlier").options) == 1
    table = next(d.value for d in at.dataframe if "on_disk" in d.value.columns)
    assert sorted(table["on_disk"].tolist()) == [False, True]


def test_the_zip_holds_the_exported_files(tmp_path):
    from workbench.views.export import _zip

    (tmp_path / "set" / "sub").mkdir(parents=True)
    (tmp_path / "set" / "manifest.json").write_text("{}")
    (tmp_path / "set" / "sub" / "train.jsonl").write_text("x")
    names = zipfile.ZipFile(io.BytesIO(_zip(tmp_path / "set"))).namelist()
    assert sorted(names) == ["manifest.json", "sub/train.jsonl"]


def test_the_clis_filters_are_on_the_page(page, filled):
    at = page
    at.selectbox[0].set_value("native")
    next(c for c in at.checkbox if c.label.startswith("Split")).set_value(False)    # one data.jsonl
    annotators = next(m for m in at.multiselect if m.label.startswith("Only turns labelled by"))
    annotators.set_value(["ann"])
    export_now(at)
    newest = list_exports(filled, "default")[0]
    assert ids_in(Path(newest["out_path"])) == {"c2:0"}
    next(m for m in at.multiselect if m.label.startswith("Only turns labelled by")).set_value([])
    next(s for s in at.selectbox if s.label.startswith("Latest model run")).set_value("agree")
    export_now(at)
    newest = list_exports(filled, "default")[0]
    assert ids_in(Path(newest["out_path"])) == {"c1:1", "c4:0"}
    manifest = json.loads((Path(newest["out_path"]) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["filters"]["model_agreement"] == "agree" and manifest["filters"]["annotators"] == []


def test_a_bad_filter_says_why_and_writes_nothing(page, filled):
    at = page
    next(n for n in at.number_input if n.label.startswith("Minimum alignment")).set_value(0.4)
    filled.write(lambda con: con.execute("DELETE FROM predictions"))
    at.button(key="FormSubmitter:export-Export").click()
    at.run()
    assert at.error and "needs a finished model run" in " ".join(c.value for c in at.code)
    assert list_exports(filled, "default") == []


def test_new_folders_never_collide(tmp_path):
    moment = datetime(2024, 5, 1, 12, 0, 0)
    first = new_folder("my project/x", "hf", root=tmp_path, now=moment)
    assert first == tmp_path / "my_project_x-hf-20240501-120000Z"
    first.mkdir()
    second = new_folder("my project/x", "hf", root=tmp_path, now=moment)
    assert second == tmp_path / "my_project_x-hf-20240501-120000Z-2"
