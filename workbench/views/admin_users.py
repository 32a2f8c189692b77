"""Admin page: who may sign in, and with which role (the browser twin of ``concord user add``)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from store import users
from workbench import auth, runtime
from workbench.components.notice import notice


def save_new_user(db) -> None:
    """Runs as the Save button's callback, before the page is drawn, so that on success it may empty
    the form's widgets. A refused save leaves them as typed (a too-short password should not cost
    the admin the user name too): the form does not clear itself on submit."""
    state = st.session_state
    name = state["add_user_name"].strip()
    try:
        users.add_user(db, name, state["add_user_role"], state["add_user_password"], replace=state["add_user_replace"])
    except ValueError as exc:
        state["users_flash"] = ("error", str(exc))
        return
    state["users_flash"] = ("success", f"Saved {name!r} as {state['add_user_role']}.")
    state.update(add_user_name="", add_user_role=users.ROLES[0], add_user_password="", add_user_replace=False)


def render_add(db) -> None:
    with st.form("add_user", clear_on_submit=False):
        st.markdown("**Add or reset a user**")
        st.text_input("User name", key="add_user_name")
        st.selectbox("Role", users.ROLES, key="add_user_role")
        st.text_input("Password", type="password", key="add_user_password",
                      help=f"At least {users.MIN_PASSWORD_LENGTH} characters.")
        st.checkbox("Reset if the user exists", key="add_user_replace")
        st.form_submit_button("Save", type="primary", on_click=save_new_user, args=(db,))


def changes(stored: dict, role: str, active: bool) -> list[str]:
    """What Apply would change, in words; empty when the form still shows the stored values."""
    out = []
    if role != stored["role"]:
        out.append(f"role {stored['role']} -> {role}")
    if bool(active) != bool(stored["active"]):
        out.append("may sign in again" if active else "disabled")
    return out


def render_edit(db, me: auth.User, listing: list[dict]) -> None:
    """Role and sign-in switch of one user, starting from that user's stored values. The picker sits
    outside the form so that picking a user redraws the form; the widgets are keyed by user and stored
    values, so Streamlit never carries one user's choices over to another (or keeps stale ones)."""
    others = {u["username"]: u for u in listing if u["username"] != me.username}
    if not others:
        return
    st.markdown("**Change a user** (you cannot lock yourself out here)")
    name = st.selectbox("User", list(others), key="edit_user_name")
    stored = others[name]
    state = f"{name}:{stored['role']}:{bool(stored['active'])}"
    with st.form("edit_user"):
        role = st.selectbox("Role", users.ROLES, index=users.ROLES.index(stored["role"]), key=f"edit_role:{state}")
        active = st.toggle("May sign in", value=bool(stored["active"]), key=f"edit_active:{state}")
        if st.form_submit_button("Apply"):
            apply_edit(db, name, stored, role, active)


def apply_edit(db, name: str, stored: dict, role: str, active: bool) -> None:
    """Write only what differs from the stored user, and say what that was."""
    done = changes(stored, role, active)
    if role != stored["role"]:
        users.set_role(db, name, role)
    if bool(active) != bool(stored["active"]):
        users.set_active(db, name, active)
    st.session_state["users_flash"] = ("success", f"{name!r}: {', '.join(done)}.") if done else \
        ("info", f"{name!r}: nothing to change ({stored['role']}, {'active' if stored['active'] else 'disabled'}).")
    st.rerun()


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    me = auth.require_role(db, ("admin",))
    st.header("Users")
    kind, message = st.session_state.pop("users_flash", (None, None))
    if message:
        notice(kind, message)
    listing = users.list_users(db)
    st.dataframe(pd.DataFrame(listing), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left:
        render_add(db)
    with right:
        render_edit(db, me, listing)


if __name__ == "__main__":
    main()
