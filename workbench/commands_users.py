"""``concord user add|list|disable|enable``: who may sign in to the workbench, with which role.

Passwords come from a prompt (typed twice), from stdin (``--password-stdin``, for scripts) or from
an environment variable (``--password-env VAR``); never from a plain argument, which would land in
shell history and the process list.
"""
from __future__ import annotations

import os
import sys

from workbench.cli import CommandError

DB_HELP = "the DuckDB file (default: ./concord.duckdb)"
ROLES = ("annotator", "analyst", "admin")    # kept equal to store.users.ROLES (checked in tests)


def register(subparsers) -> None:
    p = subparsers.add_parser("user", help="add, list, disable or enable workbench users",
                              description="Manage who may sign in to the workbench.")
    actions = p.add_subparsers(dest="user_command", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="add a user (or --reset an existing one)",
                             description="Add a user; the password is hashed with Argon2id.")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--db", default="concord.duckdb", help=DB_HELP)
    source = add.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password from stdin (first line)")
    source.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    add.add_argument("--reset", action="store_true", help="replace the role and password of an existing user")
    add.set_defaults(handler=run_add)

    listing = actions.add_parser("list", help="list users and their roles")
    listing.add_argument("--db", default="concord.duckdb", help=DB_HELP)
    listing.set_defaults(handler=run_list)

    for name, active in (("disable", False), ("enable", True)):
        q = actions.add_parser(name, help=f"{name} sign-in for a user")
        q.add_argument("name", metavar="NAME")
        q.add_argument("--db", default="concord.duckdb", help=DB_HELP)
        q.set_defaults(handler=run_set_active, active=active)


def _open(path: str):
    from store import Store

    try:
        return Store(path)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None


def read_password(args, *, stdin=None, environ=None) -> str:
    """The new password from the chosen source; a prompt asks twice."""
    stdin = sys.stdin if stdin is None else stdin
    environ = os.environ if environ is None else environ
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    if args.password_env:
        if args.password_env not in environ:
            raise CommandError(f"environment variable {args.password_env} is not set")
        return environ[args.password_env]
    if not stdin.isatty():
        raise CommandError("no terminal to prompt on: pass --password-stdin or --password-env VAR")
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def run_add(args) -> int:
    from store import users

    password = read_password(args)
    with _open(args.db) as db:
        try:
            users.add_user(db, args.name, args.role, password, replace=args.reset)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    print(f"{args.db}: user {args.name!r} {'reset' if args.reset else 'added'} as {args.role}")
    return 0


def run_list(args) -> int:
    from store import users

    with _open(args.db) as db:
        rows = users.list_users(db)
    for row in rows:
        state = "" if row["active"] else "  (disabled)"
        print(f"{row['username']}\t{row['role']}{state}")
    if not rows:
        print("no users yet: concord user add NAME --role admin")
    return 0


def run_set_active(args) -> int:
    from store import users

    with _open(args.db) as db:
        try:
            users.set_active(db, args.name, args.active)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    print(f"{args.db}: user {args.name!r} {'enabled' if args.active else 'disabled'}")
    return 0
