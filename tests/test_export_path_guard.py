"""Only admins may export outside the exports folder from the browser.

The Export page's "Output folder on the server" took any absolute path from an analyst and the server
wrote there (a reviewer exported into /tmp/rev7db/abs_test_export) as its own machine user. Non-admins
may now only name a folder inside ``<db stem>-exports/``: an absolute path, a '..' or a symbolic link
leading out is refused with a message saying what to type. ``concord export`` is not restricted.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import test_export
from store.export import list_exports
from workbench.views.export import exports_root, output_folder

filled = test_export.filled      # the store fixture: gold imports, human labels, one disputed turn, a model run


def export_page(store, role: str, monkeypatch, cwd: Path):
    from streamlit.testing.v1 import AppTest

    from workbench import runtime

    monkeypatch.chdir(cwd)
    monkeypatch.delenv(runtime.ENV_PROJECT, raising=False)
    monkeypatch.setitem(runtime._stores, str(Path(store.path).resolve()), store)
    script = ("from types import SimpleNamespace\nfrom workbench import runtime\n"
              "from workbench.views.export import render\n"
              f"render(runtime.get_store({store.path!r}), SimpleNamespace(username='ana', role={role!r}))\n")
    return AppTest.from_string(script, default_timeout=60).run()


def submit(at, typed: str):
    at.text_input[0].set_value(typed)
    at.button(key="FormSubmitter:export-Export").click()
    return at.run()


def test_an_analysts_absolute_or_dotdot_folder_is_refused_and_nothing_is_written(filled, tmp_path, monkeypatch):
    at = export_page(filled, "analyst", monkeypatch, tmp_path)
    outside = tmp_path / "abs_test_export"
    for typed in (str(outside), "../abs_test_export", "~/abs_test_export"):
        submit(at, typed)
        assert not at.exception, at.exception
        assert [e.value for e in at.error] == ["The export failed:"]
        message = at.code[0].value
        assert "only an admin" in message and "inside the exports folder" in message, message
    assert not outside.exists()
    assert list_exports(filled, "default") == []
    submit(at, "for-review/monday")                                   # a name inside it still works
    assert not at.error, [c.value for c in at.code]
    made = Path(list_exports(filled, "default")[0]["out_path"])
    assert made == exports_root(filled.path) / "for-review" / "monday" and (made / "manifest.json").is_file()


def test_an_admin_may_still_export_anywhere(filled, tmp_path, monkeypatch):
    at = export_page(filled, "admin", monkeypatch, tmp_path)
    submit(at, str(tmp_path / "elsewhere"))
    assert not at.error, [c.value for c in at.code]
    assert (tmp_path / "elsewhere" / "manifest.json").is_file()


@pytest.mark.parametrize("typed", [".", "a/../..", "link/out"])
def test_names_that_resolve_outside_or_to_the_folder_itself_are_refused(tmp_path, typed):
    root = tmp_path / "db-exports"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)                # a symbolic link inside leading out
    with pytest.raises(ValueError, match="exports folder"):
        output_folder(typed, root)
    assert output_folder("sub/set", root) == (root / "sub" / "set").resolve()
    assert output_folder(typed, root, any_folder=True) == root / typed   # admins: as typed, inside or not


def test_a_user_without_a_role_is_not_an_admin(tmp_path):
    from workbench.views.export import is_admin

    assert not is_admin(SimpleNamespace(username="ana"))
    assert is_admin(SimpleNamespace(username="root", role="admin"))
