"""Demo sign-ins for ``make run``: one user per role with a random password, kept beside the database.

A fresh user of the sample data needs to sign in without reading the docs first, but a fixed
password would be a standing hole. So each demo user gets a random password, written once to
``<db>.demo-users.txt`` (readable by the owner only) and printed at every start. A database that
already has other users gets no demo users, and the start says so rather than printing nothing.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEMO_ROLES = ("admin", "analyst", "annotator")


def demo_users_file(db_path: str | Path) -> Path:
    return Path(f"{db_path}.demo-users.txt")


def ensure_demo_users(db, db_path: str | Path) -> list[tuple[str, str]]:
    """Create the demo users on first use; return (username, password) pairs for printing."""
    from store import users

    path = demo_users_file(db_path)
    if path.exists():
        pairs = [tuple(line.split(" ", 1)) for line in path.read_text().splitlines() if " " in line]
        if all(users.verify_password(db, name, password) for name, password in pairs) and pairs:
            return pairs
        path.unlink()   # left from a deleted database: its sign-ins would not work here
    if users.count_users(db):
        return []  # a real deployment: never add demo users beside real ones
    pairs = [(role, secrets.token_urlsafe(9)) for role in DEMO_ROLES]
    for name, password in pairs:
        users.add_user(db, name, name, password)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as users_file:
        users_file.write("".join(f"{name} {password}\n" for name, password in pairs))
    return pairs


def demo_sign_in_lines(db, db_path: str | Path) -> list[str]:
    """What ``serve --demo-users`` prints: the demo sign-ins and their file, or why there are none.

    Saying nothing when the database already has users left a ``make run`` user without a way in
    and without a hint why; the line names the way (existing users, or ``concord user add``).
    """
    pairs = ensure_demo_users(db, db_path)
    if not pairs:
        return [f"Demo users were not created: {db_path} already has users. Sign in as one of them, or add "
                f"one with `concord user add NAME --role admin --db {db_path}` (while the workbench is stopped)."]
    lines = [f"Demo sign-ins (also in {demo_users_file(db_path)}):"]
    return lines + [f"  {name:10s} password {password}" for name, password in pairs]
