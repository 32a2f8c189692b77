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

from workbench import auth, background, runtime
from workbench.components import sign_in

ANNOTATE = ("annotator", "analyst", "admin")
ANALYSE = ("analyst", "admin")
ADMIN = ("admin",)
# Where analysts and admins land: a page that claims nothing. The Label page leases a turn as soon
# as it is drawn, so a team lead signing in there took a turn from the annotators' "Left for me".
LEAD_HOME = "pipeline"


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
    PageSpec("Label", "label", ANNOTATE, "✍️", path="views/label.py"),
    PageSpec("Export", "export", ANALYSE, "📦", module="workbench.views.export"),
    PageSpec("Model health", "health", ANALYSE, "🩺", module="workbench.views.health"),
    PageSpec("Label errors", "label-errors", ANALYSE, "🔎", module="workbench.views.label_errors"),
    PageSpec("Misalignment", "misalignment", ANALYSE, "🧭", module="workbench.views.misalignment"),
    PageSpec("Browse", "browse", ANALYSE, "🗃️", module="workbench.views.browse"),
    PageSpec("Agreement", "agreement", ANALYSE, "🤝", module="workbench.views.agreement"),
    PageSpec("Pipeline", "pipeline", ANALYSE, "⚙️", module="workbench.views.pipeline"),
    PageSpec("Schema", "schema", ADMIN, "🗂️", path="views/admin_schema.py"),
    PageSpec("Users", "users", ADMIN, "👥", path="views/admin_users.py"),
    PageSpec("Import", "import", ADMIN, "📥", path="views/admin_import.py"),
    PageSpec("Backup", "backup", ADMIN, "💾", path="views/admin_backup.py"),
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


def audience(roles: tuple[str, ...]) -> str:
    """Who a page is for, in words ("analysts and admins"), for the refusal a role sees."""
    names = [f"{role}s" for role in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def refusal_page(spec: PageSpec, user: auth.User, home):
    """A hidden page under a URL the user's role may not open: it says who the page is for, where
    Streamlit would show its generic "page not found" dialog and run the first page instead."""
    def draw() -> None:
        auth.render_account(user)
        st.error(f"This page is for {audience(spec.roles)}; you are signed in as {user.role}.")  # md-safe: constants
        st.page_link(home, label=f"Go to the {home.title} page", icon=home.icon or None)  # md-safe: a page title

    draw.__name__ = f"refused_{spec.url_path.replace('-', '_')}"
    return st.Page(draw, title=spec.title, url_path=spec.url_path, visibility="hidden")


def landing_page(first):
    """The app root. Streamlit serves its default page at "/" only (its url_path is dropped), so the
    home page is not the default: it keeps its URL (/label, /pipeline), and "/" forwards to it."""
    def home() -> None:
        st.switch_page(first)

    return st.Page(home, title=first.title, url_path="", default=True, visibility="hidden")


def home_of(user: auth.User, pages: list):
    """The page a role lands on: the Pipeline page for analysts and admins (it claims no turn; they
    label from the menu when they mean to), the first page (Label) for everyone else."""
    if user.can(*ANALYSE):
        lead_home = next((page for page in pages if page.url_path == LEAD_HOME), None)
        if lead_home is not None:
            return lead_home
    return pages[0]


def pages_for(user: auth.User, db) -> list:
    """The role's pages (in the menu), "/" forwarding to the role's home, and a refusal under every other page's URL."""
    pages, refused = [], []
    for spec in PAGES:
        if not user.can(*spec.roles):
            refused.append(spec)
            continue
        target = spec.path or module_page(spec, db)
        if target is not None:
            pages.append(st.Page(target, title=spec.title, url_path=spec.url_path, icon=spec.icon))
    if not pages:
        return []
    home = home_of(user, pages)
    return [*pages, landing_page(home), *(refusal_page(spec, user, home) for spec in refused)]


def sign_in_page() -> None:
    sign_in.render_sign_in(runtime.get_store(runtime.parse_settings().db_path))


def sign_in_pages() -> list:
    """The sign-in form under its own URL and under every page's URL (nothing else is reachable)."""
    def placeholder(spec: PageSpec):
        def draw() -> None:
            sign_in_page()
        draw.__name__ = f"sign_in_{spec.url_path.replace('-', '_')}"
        return st.Page(draw, title=spec.title, url_path=spec.url_path)

    return [st.Page(sign_in_page, title="Sign in", url_path="sign-in", icon="🔑", default=True),
            *(placeholder(spec) for spec in PAGES)]


def main() -> None:
    st.set_page_config(page_title="Concord", layout="wide")  # no page_icon: material icons load from a CDN
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    background.start_for_app(db, settings.project)   # retrain-as-you-label loop (only under concord serve)
    user = auth.current_user(db)
    if user is None:
        # Every page URL resolves (to the sign-in form), so a bookmarked page shows no "not found";
        # after signing in, the rerun lands on the page that URL names.
        st.navigation(sign_in_pages(), position="hidden")
        sign_in_page()
        return
    pages = pages_for(user, db)
    if not pages:
        st.error(f"No pages are available for the role {user.role!r}.")  # md-safe: role names are constants
        return
    st.navigation(pages).run()


main()
