"""Admin page: the project's label schema (add / rename / merge), its guidelines and overlap.

Everything goes through ``store.labels``: renames and merges are recorded in the rename history and
applied when labels are read, so earlier annotations keep what the annotator chose and still count
under today's name. A rename or merge also queues a fast retrain (what the Pipeline page's "Retrain
now" writes): suggestions come from the newest model run, trained under the old names, and otherwise
kept offering them until enough new labels triggered the next run.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from store import jobfiles, labels
from workbench import auth, background, runtime
from workbench.components.notice import notice

KIND_TITLES = {"intent": "Intents", "entity": "Entity types", "sentiment": "Sentiment classes"}
SCHEMA_KEYS = {"intent": "intents", "entity": "entities", "sentiment": "sentiments"}


def run_change(action, *args, done: str, **kwargs) -> bool:
    """Apply one schema change; report the outcome on the next run (expected-vs-actual errors kept).
    Returns whether it was applied."""
    try:
        action(*args, **kwargs)
    except ValueError as exc:
        st.session_state["schema_flash"] = ("error", str(exc))
        return False
    runtime.forget()          # label pages re-read the schema and guidelines on their next run
    st.session_state["schema_flash"] = ("success", done)
    return True


def queue_retrain(db, project: str, user: auth.User, change: str) -> None:
    """After a rename or merge: write a fast job as "Retrain now" does, so suggestions take the new names
    at the next run instead of after the next 20 labels; the outcome is added to the page's message."""
    kind, message = st.session_state.get("schema_flash", ("success", ""))
    try:
        run_id = background.request_retrain(db, jobfiles.default_jobs_dir(db.path), project, kind="fast",
                                            reason=f"label schema changed ({user.username}): {change}")
    except (OSError, ValueError) as exc:
        note = f" Queuing a retrain failed ({exc}): use Retrain now on the Pipeline page."
    else:
        note = f" A retrain is queued ({run_id}): suggestions use the new names once the worker has run it."
    st.session_state["schema_flash"] = (kind, message + note)


def quoted(names) -> str:
    return ", ".join(repr(name) for name in names)


def render_flash() -> None:
    kind, message = st.session_state.pop("schema_flash", (None, None))
    if message:
        notice(kind, message)      # quotes label names, which imports may have brought in: escaped


def render_kind(db, project: str, kind: str, user: auth.User, schema: dict) -> None:
    names = schema[SCHEMA_KEYS[kind]]
    descriptions = schema["descriptions"]
    table = pd.DataFrame({"name": names, "description": [descriptions.get(f"{kind}:{n}", "") for n in names]})
    st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(names) + 1), 320))
    add, rename, merge = st.columns(3)
    with add.form(f"add-{kind}", clear_on_submit=True):
        st.markdown("**Add**")
        name = st.text_input("Name", key=f"add-name-{kind}")
        description = st.text_input("Description (optional)", key=f"add-desc-{kind}")
        if st.form_submit_button("Add"):
            run_change(labels.add_label, db, project, kind, name, description=description,
                       done=f"Added {kind} {name.strip()!r}.")
            st.rerun()
    with rename.form(f"rename-{kind}", clear_on_submit=True):
        st.markdown("**Rename** (history kept)")
        old = st.selectbox("Label", names, key=f"rename-old-{kind}", index=None)
        new = st.text_input("New name", key=f"rename-new-{kind}")
        if st.form_submit_button("Rename") and old:
            if run_change(labels.rename_label, db, project, kind, old, new.strip(), by=user.username,
                          done=f"Renamed {old!r} to {new.strip()!r}; earlier labels now read as the new name."):
                queue_retrain(db, project, user, f"{kind} {old!r} renamed to {new.strip()!r}")
            st.rerun()
    with merge.form(f"merge-{kind}", clear_on_submit=True):
        st.markdown("**Merge**")
        sources = st.multiselect("Fold these", names, key=f"merge-src-{kind}", select_all=False)  # no fold-everything slip
        target = st.selectbox("Into", names, key=f"merge-dst-{kind}", index=None, accept_new_options=True)
        if st.form_submit_button("Merge") and sources and target:
            folded = [s for s in sources if s != target]
            if run_change(labels.merge_labels, db, project, kind, folded, target, by=user.username,
                          done=f"Merged {sources} into {target!r}."):
                queue_retrain(db, project, user, f"{kind} {quoted(folded)} merged into {target!r}")
            st.rerun()


def render_project_settings(db, project: str) -> None:
    info = labels.get_project(db, project) or {"guidelines": "", "overlap": 1}
    with st.form("guidelines"):
        text = st.text_area("Guidelines (Markdown, shown to annotators beside the label form)",
                            value=info.get("guidelines") or "", height=220)
        overlap = st.number_input("Annotators per turn (overlap)", min_value=1, max_value=10,
                                  value=int(info.get("overlap") or 1))
        if st.form_submit_button("Save", type="primary"):
            labels.set_guidelines(db, project, text)
            run_change(labels.set_overlap, db, project, int(overlap), done="Saved guidelines and overlap.")
            st.rerun()
    with st.expander("Preview guidelines"):
        st.markdown(info.get("guidelines") or "_(empty)_")  # md-safe: admin-written guidelines


def render_history(db, project: str) -> None:
    rows = db.query_df("SELECT kind, old_name, new_name, renamed_by, renamed_at FROM label_renames "
                       "WHERE project = ? ORDER BY renamed_at DESC", [project])
    if rows.empty:
        st.caption("No renames or merges yet.")
    else:
        st.dataframe(rows, hide_index=True, width="stretch")


def main() -> None:
    settings = runtime.parse_settings()
    db = runtime.get_store(settings.db_path)
    user = auth.require_role(db, ("admin",))
    projects = labels.list_projects(db) or [settings.project]
    project = st.sidebar.selectbox("Project", projects, key="schema_project",
                                   index=projects.index(settings.project) if settings.project in projects else 0)
    st.header("Label schema")
    st.text(f"Project: {project}")
    render_flash()
    schema = labels.get_schema(db, project)
    tabs = st.tabs([*KIND_TITLES.values(), "Guidelines & overlap", "Rename history"])  # md-safe: constants
    for tab, kind in zip(tabs, KIND_TITLES):
        with tab:
            render_kind(db, project, kind, user, schema)
    with tabs[3]:
        render_project_settings(db, project)
    with tabs[4]:
        render_history(db, project)


if __name__ == "__main__":
    main()
