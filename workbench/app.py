"""Concord's Streamlit entry point: sign-in, then the pages the user's role may see.

Run by ``concord serve`` (``streamlit run workbench/app.py -- --db PATH --project P``). Visitors who
are not signed in get only the sign-in page. ``st.navigation`` hides pages a role may not use, and
each page checks the role again on the server (``auth.require_role``) because hiding a link is not
access control.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import streamlit as st

from store import users
from workbench import auth, runtime

ANNOTATE = ("annotator", "analyst", "admin")
ANALYSE = ("analyst", "admin")
ADMIN = ("admin",)


@dataclass(frozen=True)
class PageSpec:
    """A page: a script under workbench/ (``path``) or a module exposing ``render(db, user)``."""

    title: str
    url_path: str
    roles: tuple[str, ...]
    icon: str
    path: str | None = None
    module: str | None = None


# Add pages here. Module pages are skipped while their module does not exist yet.
PAGES = (
    PageSpec("Label", "label", ANNOTATE, ":material/edit_note:", path="pages/label.py"),
    PageSpec("Export", "export", ANALYSE, ":material/download:", module="workbench.pages.export"),
    PageSpec("Schema", "schema", ADMIN, ":material/category:", path="pages/admin_schema.py"),
    PageSpec("Users", "users", ADMIN, ":material/group:", path="pages/admin_users.py"),
)


def module_page(spec: PageSpec, db):
    """A navigation callable for a ``render(db, user)`` module, or None if it is not built yet."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name != spec.module:
            raise
        return None

    def run() -> None:
        user = auth.require_role(db, spec.roles)
        module.render(db, user)

    run.__name__ = f"page_{spec.url_path}"
    return run


def pages_for(user: auth.User, db) -> list:
    pages = []
    for spec in PAGES:
        if not user.can(*spec.roles):
            continue
        target = spec.path or module_page(spec, db)
        if target is not None:
            pages.append(st.Page(target, title=spec.title, url_path=spec.url_path, icon=spec.icon))
    return pages


def sign_in_page() -> None:
    db = runtime.get_store(runtime.parse_settings().db_path)
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Concord")
        st.caption("Label dialog turns: intents, entity spans, sentiment and response fit.")
        notice = auth.pop_notice()
        if notice:
            st.info(notice)
        with st.form("sign_in"):
            username = st.text_input("User name", key="sign_in_user", autocomplete="username")
            password = st.text_input("Password", type="password", key="sign_in_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            try_sign_in(db, username, password)
        if users.count_users(db) == 0:
            st.info("No users yet. Create the first admin on the server:")
            st.code("concord user add NAME --role admin", language="bash")


def try_sign_in(db, username: str, password: str) -> None:
    try:
        user = auth.sign_in(db, username, password)
    except PermissionError as exc:
        st.error(str(exc))
        return
    if user is None:
        st.error("Unknown user name or wrong password.")
        return
    st.rerun()


def render_account(user: auth.User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.username}** ({user.role})")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            auth.sign_out("You signed out.")
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="Concord", page_icon=":material/forum:", layout="wide")
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    user = auth.current_user(db)
    if user is None:
        st.navigation([st.Page(sign_in_page, title="Sign in", url_path="sign-in", icon=":material/login:")],
                      position="hidden").run()
        return
    render_account(user)
    pages = pages_for(user, db)
    if not pages:
        st.error(f"No pages are available for the role {user.role!r}.")
        return
    st.navigation(pages).run()


main()
