"""`make run`'s demo sign-ins: created once with random passwords, readable only by the owner, never beside real users."""
import stat

from store import users
from workbench.demo_users import demo_users_file, ensure_demo_users


def test_demo_users_are_created_once_and_sign_in(db, tmp_path):
    path = tmp_path / "test.duckdb"
    first = ensure_demo_users(db, path)
    assert [name for name, _ in first] == ["admin", "analyst", "annotator"]
    assert len({password for _, password in first}) == 3
    for name, password in first:
        assert users.verify_password(db, name, password) == name
    assert ensure_demo_users(db, path) == first, "a second start prints the same sign-ins"
    assert stat.S_IMODE(demo_users_file(path).stat().st_mode) == 0o600


def test_no_demo_users_beside_real_ones(db, tmp_path):
    users.add_user(db, "alice", "admin", "a-long-password")
    assert ensure_demo_users(db, tmp_path / "test.duckdb") == []
    assert [u["username"] for u in users.list_users(db)] == ["alice"]


def test_a_file_left_from_a_deleted_database_is_replaced(db, tmp_path):
    """Deleting the database but not its password file used to print sign-ins that did not work."""
    path = tmp_path / "test.duckdb"
    demo_users_file(path).write_text("admin stale-password\nanalyst stale-password\n")
    pairs = ensure_demo_users(db, path)
    assert [name for name, _ in pairs] == ["admin", "analyst", "annotator"]
    for name, password in pairs:
        assert users.verify_password(db, name, password) == name
    assert "stale-password" not in demo_users_file(path).read_text()
