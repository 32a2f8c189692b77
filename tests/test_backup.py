"""Backup and restore of the whole database (``store.backup``, ``concord backup|restore``, the admin Backup page).

``concord export`` is a training set: no unlabelled turns, no annotation history, users or model runs.
A backup must bring back every row of every table, with Chinese/emoji text and code-point spans intact,
create only a new database file, refuse a backup newer than this Concord, migrate an older one, and
notice a backup that does not hold what its manifest says.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from app_testkit import add_model_suggestion, make_template, open_copy, seed, signed_in, texts
from store import Store, annotations, labels, migrations, users
from store.backup import MANIFEST, backup, restore
from workbench import cli, runtime

KEY_TABLES = ("turns", "annotations", "imported_labels", "users", "label_schema", "label_renames", "model_runs",
              "predictions", "projects", "schema_version")
ZH_SPAN = {"start": 7, "end": 12, "label": "order_id"}      # "12345" in "退款 🙂 订单12345" (code points)
EMOJI_SPAN = {"start": 9, "end": 12, "label": "order_id"}   # "777" in "😤😤 order 777 never came"


def label_everything(db) -> None:
    """Human labels with spans, an undo, a flag, a skip, an adjudication, a rename and a model run."""
    common = dict(project="default")
    annotations.submit(db, annotation_id="a-zh", turn_id="t-zh", annotator="ann", intents=["return_item"],
                       entities=[ZH_SPAN], sentiment="neutral", aligned=True, corrected_response="好的 🙂 已退款",
                       duration_ms=1234, **common)
    annotations.submit(db, annotation_id="a-emoji", turn_id="t-emoji", annotator="ann", intents=["track_order"],
                       entities=[EMOJI_SPAN], sentiment="negative", aligned=False, **common)
    annotations.undo_last(db, annotation_id="u-emoji", annotator="ann", **common)
    annotations.flag(db, annotation_id="f-en", turn_id="t-en", annotator="ana", note="不确定 🤔", **common)
    annotations.skip(db, annotation_id="s-en", turn_id="t-en", annotator="ann", **common)
    annotations.adjudicate(db, annotation_id="adj-sug", turn_id="t-sug", reviewer="boss", intents=["cancel_order"],
                           entities=[{"start": 13, "end": 15, "label": "order_id"}], note="resolved ✅", **common)
    labels.rename_label(db, "default", "intent", "greeting", "salutation", by="boss")
    add_model_suggestion(db, "t-zh", intents=["return_item"], probs={"return_item": 0.8}, entities=[ZH_SPAN],
                         entity_scores=[0.9])
    users.set_active(db, "ana", False)


@pytest.fixture
def source(tmp_path):
    with Store(tmp_path / "source.duckdb") as db:
        seed(db, tmp_path)
        label_everything(db)
        yield db


def tables_of(db) -> list[str]:
    return [r[0] for r in db.query("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1")]


def rows(db, table: str) -> list[tuple]:
    return db.query(f'SELECT * FROM "{table}" ORDER BY ALL')


def assert_same_database(original, restored) -> None:
    """Every table of ``original`` is in ``restored`` with exactly the same rows."""
    assert tables_of(restored) == tables_of(original)
    for table in tables_of(original):
        assert rows(restored, table) == rows(original, table), table


def test_backup_then_restore_gives_back_every_row_of_every_table(source, tmp_path):
    manifest = backup(source, tmp_path / "bk")
    assert manifest["schema_version"] == migrations.LATEST and manifest["concord_version"]
    assert all(manifest["tables"][t] > 0 for t in KEY_TABLES), manifest["tables"]
    assert json.loads((tmp_path / "bk" / MANIFEST).read_text(encoding="utf-8")) == manifest
    result = restore(tmp_path / "bk", tmp_path / "restored.duckdb")
    assert result["schema_version"] == migrations.LATEST
    with Store(tmp_path / "restored.duckdb") as restored:
        assert_same_database(source, restored)
        texts_by_id = dict(restored.query("SELECT turn_id, text FROM turns"))
        assert texts_by_id["t-zh"] == "退款 🙂 订单12345" and texts_by_id["t-emoji"] == "😤😤 order 777 never came"
        span = restored.query_one("SELECT entities FROM annotations WHERE annotation_id = 'a-emoji'")[0][0]
        assert texts_by_id["t-emoji"][span["start"]:span["end"]] == "777"
        assert restored.query_one("SELECT undoes FROM annotations WHERE annotation_id = 'u-emoji'") == ("a-emoji",)
        assert restored.query_one("SELECT note FROM annotations WHERE action = 'adjudicate'") == ("resolved ✅",)
        assert labels.rename_map(restored, "default", "intent") == {"greeting": "salutation"}
        assert users.verify_password(restored, "boss", "admin-pass!") == "admin"
        assert users.verify_password(restored, "ana", "analyst-pass") is None      # still disabled


def test_a_restored_database_orders_new_annotations_after_the_old_ones(source, tmp_path):
    """annotation_seq must resume past the backed-up value, even from a backup whose schema.sql restarts it
    (what a DuckDB that exported no sequence position would write)."""
    backup(source, tmp_path / "bk")
    schema_sql = tmp_path / "bk" / "schema.sql"
    text = schema_sql.read_text(encoding="utf-8")
    assert "CREATE SEQUENCE annotation_seq" in text
    schema_sql.write_text(re.sub(r"(annotation_seq[^;]*?START )\d+", r"\g<1>1", text), encoding="utf-8")
    restore(tmp_path / "bk", tmp_path / "restored.duckdb")
    with Store(tmp_path / "restored.duckdb") as restored:
        before = restored.query_one("SELECT max(seq) FROM annotations")[0]
        annotations.submit(restored, annotation_id="after", turn_id="t-en", project="default", annotator="boss",
                           intents=["track_order"])
        assert restored.query_one("SELECT seq FROM annotations WHERE annotation_id = 'after'")[0] > before


def test_restore_refuses_an_existing_database_file(source, tmp_path, capsys):
    backup(source, tmp_path / "bk")
    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="existing.duckdb exists"):
        restore(tmp_path / "bk", existing)
    assert existing.read_bytes() == b"precious"
    assert cli.main(["restore", str(tmp_path / "bk"), "--db", str(existing)]) == 2
    assert "concord: error: " in capsys.readouterr().err and existing.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir() if "restoring" in p.name] == []


def test_restore_refuses_a_backup_from_a_newer_concord(source, tmp_path, capsys):
    backup(source, tmp_path / "bk")
    manifest_path = tmp_path / "bk" / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps(dict(manifest, schema_version=migrations.LATEST + 1)), encoding="utf-8")
    with pytest.raises(ValueError, match=f"schema version {migrations.LATEST + 1}, newer than this Concord"):
        restore(tmp_path / "bk", tmp_path / "new.duckdb")
    assert cli.main(["restore", str(tmp_path / "bk"), "--db", str(tmp_path / "new.duckdb")]) == 2
    assert "newer than this Concord" in capsys.readouterr().err
    assert not (tmp_path / "new.duckdb").exists()


def test_restore_migrates_a_backup_from_an_older_concord(tmp_path, monkeypatch):
    with monkeypatch.context() as older:          # a Concord that knew only the first two migrations
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        older.setattr(migrations, "LATEST", 2)
        with Store(tmp_path / "old.duckdb") as db:
            seed(db, tmp_path)
            manifest = backup(db, tmp_path / "bk")
    assert manifest["schema_version"] == 2
    assert restore(tmp_path / "bk", tmp_path / "new.duckdb")["schema_version"] == migrations.LATEST
    with Store(tmp_path / "new.duckdb") as db:
        assert db.query_one("SELECT max(version) FROM schema_version") == (migrations.LATEST,)
        assert db.query_one("SELECT count(*) FROM turns") == (manifest["tables"]["turns"],)
        assert "encoder_reads" in [r[0] for r in db.query("DESCRIBE predictions")]


def test_restore_refuses_a_backup_that_does_not_hold_what_its_manifest_says(source, tmp_path):
    backup(source, tmp_path / "bk")
    load_sql = tmp_path / "bk" / "load.sql"
    lines = load_sql.read_text(encoding="utf-8").splitlines()
    load_sql.write_text("\n".join(line for line in lines if "users.parquet" not in line), encoding="utf-8")
    with pytest.raises(ValueError, match="users: 3 rows in the backup, 0 restored"):
        restore(tmp_path / "bk", tmp_path / "new.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir() if "new.duckdb" in p.name) == []


def test_concord_backup_and_restore_on_the_command_line(source, tmp_path, capsys):
    path = source.path
    source.close()                                 # the CLI opens the file itself
    out, new = tmp_path / "cli-bk", tmp_path / "cli.duckdb"
    assert cli.main(["backup", str(out), "--db", path]) == 0
    assert cli.main(["backup", str(out), "--db", path]) == 2
    assert "concord: error: " in capsys.readouterr().err
    assert cli.main(["restore", str(out), "--db", str(new)]) == 0
    assert "row counts match the manifest" in capsys.readouterr().out
    with Store(path) as original, Store(new) as restored:
        assert_same_database(original, restored)


# -- the admin page ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("backup-template"))


@pytest.fixture
def app_db(template, tmp_path, monkeypatch):
    db = open_copy(template, tmp_path, monkeypatch)
    label_everything(db)
    yield db
    runtime.close_stores()


@pytest.fixture
def served_files(monkeypatch) -> list[tuple[bytes, str | None]]:
    """Every file a download button hands to Streamlit's media storage (what the browser would download)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: list = []
    real = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        served.append((path_or_data, filename))
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return served


def test_the_admin_backup_button_gives_a_zip_that_restores(app_db, served_files, tmp_path):
    at = signed_in("boss").switch_page("views/admin_backup.py").run()
    assert not at.exception and "Backup" in texts(at)
    at.button(key="backup_create").click()
    at.run()
    assert not at.exception, at.exception
    assert [b.proto.id for b in at.get("download_button") if "backup_download" in b.proto.id]
    zips = [(data, name) for data, name in served_files if name and name.endswith(".zip")]
    assert zips, served_files
    data, name = zips[-1]
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / Path(name).stem
    assert (folder / MANIFEST).is_file()
    restore(folder, tmp_path / "from-page.duckdb")
    with Store(tmp_path / "from-page.duckdb") as restored:
        assert_same_database(app_db, restored)
        assert restored.query_one("SELECT count(*) FROM annotations")[0] == 6


def test_the_backup_page_is_for_admins_only(app_db, monkeypatch):
    from test_app_urls import opened_at

    at = opened_at(signed_in("ann"), "backup", monkeypatch)     # ana is disabled here
    assert not at.exception
    assert "This page is for admins" in texts(at)
    assert [b for b in at.button if b.key == "backup_create"] == []
