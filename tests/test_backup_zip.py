"""`concord restore` takes the zip the admin Backup page downloads, as is: an admin who got
``concord-backup-....zip`` from the page and ran ``concord restore /tmp/x/backup.zip --db new.duckdb``
was told "no such backup folder". The zip is unpacked into a temporary folder first; a member that would
land outside that folder (absolute path, "..": zip slip) is refused before anything is written.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import test_backup
from app_testkit import signed_in, texts
from store import Store
from store.backup import MANIFEST
from test_backup import assert_same_database
from workbench import cli


# the Backup page's fixtures: a labelled app database, and every file a download button hands the browser
template, app_db, served_files = test_backup.template, test_backup.app_db, test_backup.served_files


def test_the_zip_the_backup_page_downloads_restores_on_the_command_line(app_db, served_files, tmp_path, capsys):
    at = signed_in("boss").switch_page("views/admin_backup.py").run()
    at.button(key="backup_create").click()
    at.run()
    assert not at.exception, at.exception
    data, name = [(data, name) for data, name in served_files if name and name.endswith(".zip")][-1]
    assert f"concord restore {name} --db NEW.duckdb" in texts(at)     # the page's hint names the zip itself
    downloaded = tmp_path / "x" / "backup.zip"                        # renamed by the browser: still a backup
    downloaded.parent.mkdir()
    downloaded.write_bytes(data)
    new = tmp_path / "new.duckdb"
    assert cli.main(["restore", str(downloaded), "--db", str(new)]) == 0, capsys.readouterr().err
    assert "row counts match the manifest" in capsys.readouterr().out
    assert sorted(p.name for p in downloaded.parent.iterdir()) == ["backup.zip"]   # unpacked elsewhere, removed
    with Store(new) as restored:
        assert_same_database(app_db, restored)


def slip_zip(path: Path, member: str) -> Path:
    """A zip that looks like a backup but carries one member aimed outside the folder it is unpacked into."""
    manifest = {"kind": "concord-backup", "schema_version": 1, "tables": {}}
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr(f"bk/{MANIFEST}", json.dumps(manifest))
        zipped.writestr("bk/schema.sql", "")
        zipped.writestr("bk/load.sql", "")
        zipped.writestr(member, "pwned")
    return path


def test_restore_refuses_a_zip_whose_members_would_escape_the_folder(tmp_path, capsys):
    victim = tmp_path / "outside" / "evil.txt"
    for member in ("bk/../../outside/evil.txt", str(victim), "..\\outside\\evil.txt"):
        archive = slip_zip(tmp_path / "slip.zip", member)
        assert cli.main(["restore", str(archive), "--db", str(tmp_path / "new.duckdb")]) == 2
        err = capsys.readouterr().err
        assert "members would be written outside the restore folder" in err and repr(member) in err, err
        assert not victim.exists() and not (tmp_path / "new.duckdb").exists()
        archive.unlink()


def test_restore_names_a_zip_that_holds_no_backup(tmp_path, capsys):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a/cat.jpg", "meow")
    assert cli.main(["restore", str(archive), "--db", str(tmp_path / "new.duckdb")]) == 2
    assert "is not a Concord backup zip" in capsys.readouterr().err
