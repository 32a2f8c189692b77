"""The Store itself: migrations on open, one writer, reads that don't wait, clean close."""
import threading

import duckdb
import pytest

from store import Store, StoreClosed
from store.migrations import LATEST, MIGRATIONS, current_version, migrate


def test_new_database_is_migrated_to_the_latest_version(tmp_path):
    with Store(tmp_path / "a.duckdb") as db:
        assert db.schema_version == LATEST
        tables = {r[0] for r in db.query("SELECT table_name FROM information_schema.tables")}
    assert {"turns", "annotations", "imported_labels", "label_schema", "leases", "users", "model_runs",
            "predictions", "queue_rank", "exports", "projects", "imports"} <= tables


def test_reopening_applies_nothing_twice_and_keeps_data(tmp_path):
    path = tmp_path / "a.duckdb"
    with Store(path) as db:
        db.write(lambda con: con.execute("INSERT INTO projects (project) VALUES ('p')"))
    with Store(path) as db:
        assert db.query("SELECT version FROM schema_version") == [(v,) for v in range(1, LATEST + 1)]
        assert db.query("SELECT project FROM projects") == [("p",)]


def test_a_database_from_a_newer_concord_is_refused(tmp_path):
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    migrate(con)
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [LATEST + 1])
    con.close()
    with pytest.raises(RuntimeError, match="newer than this Concord"):
        Store(tmp_path / "new.duckdb")


def test_a_failing_migration_leaves_the_previous_version(monkeypatch):
    con = duckdb.connect()
    monkeypatch.setattr("store.migrations.MIGRATIONS", MIGRATIONS + [["CREATE TABLE z (a INT)", "NOT SQL"]])
    monkeypatch.setattr("store.migrations.LATEST", LATEST + 1)
    with pytest.raises(duckdb.Error):
        migrate(con)
    assert current_version(con) == LATEST
    assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'z'").fetchone()[0]


def test_failed_write_rolls_back_and_the_writer_survives(db):
    def half_then_fail(con):
        con.execute("INSERT INTO projects (project) VALUES ('half')")
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        db.write(half_then_fail)
    assert db.query("SELECT count(*) FROM projects WHERE project = 'half'") == [(0,)]
    db.write(lambda con: con.execute("INSERT INTO projects (project) VALUES ('ok')"))
    assert db.query("SELECT project FROM projects") == [("ok",)]


def test_writes_from_many_threads_are_serialised_without_conflicts(db):
    def add(i):
        db.write(lambda con: con.execute("INSERT INTO projects (project) VALUES (?)", [f"p{i}"]))
    threads = [threading.Thread(target=add, args=(i,)) for i in range(40)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert db.query_one("SELECT count(*) FROM projects")[0] == 40


def test_closed_store_refuses_work_and_releases_the_file(tmp_path):
    path = tmp_path / "a.duckdb"
    db = Store(path)
    db.close()
    with pytest.raises(StoreClosed):
        db.query("SELECT 1")
    with pytest.raises(StoreClosed):
        db.write(lambda con: None)
    with Store(path) as again:  # the lock is gone: it opens again
        assert again.query("SELECT 1") == [(1,)]
    assert not [t for t in threading.enumerate() if t.name.startswith("concord-writer")]


def test_reads_come_back_as_rows_dicts_frames_and_arrow(db):
    db.write(lambda con: con.execute("INSERT INTO projects (project) VALUES ('p')"))
    sql = "SELECT project, overlap FROM projects"
    assert db.query(sql) == [("p", 1)]
    assert db.query_dicts(sql) == [{"project": "p", "overlap": 1}]
    assert db.query_df(sql).to_dict("records") == [{"project": "p", "overlap": 1}]
    assert db.query_arrow(sql).to_pylist() == [{"project": "p", "overlap": 1}]
    assert db.query_one("SELECT overlap FROM projects WHERE project = $p", {"p": "p"}) == (1,)
