"""The pipeline page: what the background worker is doing, how each model run went, "Retrain now".

Reads only ``store.runs`` (the run table and the jobs folder); never imports torch. The status block
is a fragment that refreshes itself every few seconds, so progress moves without a click; when it sees
a run finish that the rest of the page does not show yet, it reruns the whole page, so the model
summary, metrics, learning curve and history follow a retrain without a reload (a fragment alone
redraws only itself: the page once kept "Model v2" under a ticking clock after v3 was ingested).
Texts that may carry user-derived strings (error messages, reasons) go through st.code / st.dataframe only.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from store import jobfiles, runs
from workbench import auth, background, runtime
from workbench.components.analysis import percent, percent_table

ROLES = ("analyst", "admin")
STATE_LABELS = {
    "training": ("Training", "⏳"),
    "queued": ("Job waiting for the worker", "🕒"),
    "idle": ("Idle: the model is up to date", "✅"),
    "behind": ("Idle: labels changed since the last run", "🕒"),      # idle, but not up to date
    "failed": ("The last run failed", "❌"),
    "offline": ("No worker is running", "⚠️"),
}
# Every score here is the run's held-out one (turns it did not train on, labels of that time), named so:
# the Model health page also shows an agreement with today's labels, a different number.
METRICS = (("intent_accuracy", "Held-out intent accuracy"), ("intent_macro_f1", "Held-out intent macro-F1"),
           ("entity_f1", "Held-out entity F1"), ("sentiment_macro_f1", "Held-out sentiment macro-F1"))


def finished_run_key(run: dict | None) -> tuple | None:
    """What identifies the newest finished run a page shows: a new key means the page is out of date."""
    return None if run is None else (run["run_id"], run["status"])


def newest_finished(history: list[dict]) -> dict | None:
    """The run ``worker_state`` calls ``last`` (same order: newest first), read from the page's history."""
    return next((run for run in history if run["status"] in ("done", "failed")), None)


def labels_since_last_run(db, project: str) -> tuple[dict | None, int]:
    """The run the retrain trigger counts from (the newest live fast run, as ``background.due_jobs``) and
    how many labels changed since its snapshot (submits, adjudications, undos: what the trigger counts)."""
    last = runs.latest_run(db, project, kind="fast", statuses=background.LIVE)
    return last, runs.label_activity_since(db, project, last["created_at"] if last else None)


def next_run_line(db, project: str, last: dict | None, changed: int) -> str | None:
    """'5 labelling action(s) (...) since run v7; the next run starts at 20 ...': idle is not up to date when the
    labels moved on, and the retrain only starts after ``every_labels`` of them (or on Retrain now)."""
    if last is None or not changed:
        return None
    # actions, not turns: an edit or an undo moves the trigger too, so "17 turns" would not add up to its 20
    since = (f"{changed} labelling action(s) (submits, edits, undos, fixes) since run "
             f"{last.get('model_version') or last['run_id']}")
    loop = background.owner_loop_for(db, project)
    if loop is None:
        return f"{since}; background retraining is off in this process: press Retrain now to train on them."
    every = loop.triggers.every_labels
    when = f"{every - changed} more to go" if changed < every else "due now"
    return f"{since}; the next run starts at {every} ({when}), or press Retrain now."


def render_state(state: dict, db, jobs_dir, project: str) -> None:
    last_fast, changed = labels_since_last_run(db, project)
    shown = "behind" if state["state"] == "idle" and changed and last_fast is not None else state["state"]
    title, icon = STATE_LABELS[shown]
    st.subheader(f"{icon} {title}", anchor=False)  # md-safe: a fixed state label
    line = next_run_line(db, project, last_fast, changed)
    if line:
        st.text(line)
    for job in state["running"]:
        elapsed = background.seconds_since(job.get("at"))
        st.progress(min(1.0, float(job.get("progress") or 0.0)),
                    text=f"{job['kind']} run · stage: {job.get('stage') or 'starting'}")
        st.caption(f"run {job['run_id']} · last heartbeat {elapsed or 0:.0f} s ago")  # md-safe: minted run id, a number
        if (job.get("attempt") or 1) > 1:       # the only trace of a worker that died mid-run was worker.log
            st.text(f"Attempt {job['attempt']} of {jobfiles.MAX_ATTEMPTS}: the worker running it stopped "
                    "(killed or crashed), and a new one took the run over from the start.")
    if state["pending"]:
        st.caption(f"Waiting: {', '.join(state['pending'])}")  # md-safe: run ids minted by new_run_id
    if state["state"] == "offline":
        st.warning("Jobs are written but no worker picks them up. `concord serve` starts one; or run:")
        st.code(f"concord worker --jobs {jobs_dir}", language="bash")
    last = state["last"]
    if last is not None and last["status"] == "failed":
        st.error("The newest finished run failed with this error:")
        st.code(last.get("error") or "no error message", language=None, wrap_lines=True)
    loop = background.owner_loop_for(db, project)
    if loop is not None and loop.last_error:
        st.warning("The background loop hit an error (it keeps retrying):")
        st.code(loop.last_error, language=None, wrap_lines=True)
    st.caption(f"Updated {time.strftime('%H:%M:%S')}")  # md-safe: a clock time


def render_retrain(db, jobs_dir, project: str, user: auth.User) -> None:
    left, right, _ = st.columns([1, 1, 3])
    if left.button("Retrain now", type="primary", key="pipeline_retrain"):
        run_id = background.request_retrain(db, jobs_dir, project, kind="fast", reason=f"on demand ({user.username})")
        st.toast(f"Queued a fast retrain: {run_id}")  # md-safe: a minted run id
    if right.button("Fine-tune now", key="pipeline_finetune",
                    help="A full fine-tune of the encoder: minutes, not seconds."):
        run_id = background.request_retrain(db, jobs_dir, project, kind="full", reason=f"on demand ({user.username})")
        st.toast(f"Queued a fine-tune: {run_id}")  # md-safe: a minted run id


def history_frame(history: list[dict]) -> pd.DataFrame:
    """One row per run for st.dataframe: held-out metrics, sizes and timings side by side."""
    rows = []
    for run in history:
        held = (run["metrics"] or {}).get("holdout") or {}
        timings = run["timings"] or {}
        rows.append({
            "version": run["model_version"], "kind": run["kind"], "status": run["status"],
            "reason": (run["metrics"] or {}).get("reason"), "labels": run["n_labels"],
            "held out": held.get("n"), **{name: held.get(key) for key, name in METRICS},
            "train s": timings.get("train_s"), "total s": timings.get("total_s"),
            "snapshot": run["snapshot_hash"], "created": run["created_at"], "finished": run["finished_at"],
            "error": run["error"], "run id": run["run_id"]})
    return pd.DataFrame(rows)


def encoder_line(metrics: dict) -> str:
    """Which encoder the run used and why (the worker picks the multilingual one when the turns need it)."""
    identity = str(metrics.get("encoder") or "unknown").split("@")[0]
    choice = metrics.get("encoder_choice") or {}
    return f"Encoder: {identity}" + (f" ({choice['reason']})" if choice.get("reason") else "")


def unreadable_warning(metrics: dict) -> str | None:
    """When the run kept the English encoder although some turns are unreadable to it: how many, and the way out.
    None when the worker routed them to the multilingual encoder (the encoder line's reason says how many)."""
    choice = metrics.get("encoder_choice") or {}
    unreadable = choice.get("unreadable_share") or 0.0      # measured only when the run chose its encoder
    if not unreadable or choice.get("requested") == "multilingual" or choice.get("routed"):
        return None
    return (f"{unreadable:.0%} of the turns are in a script the English encoder cannot read (mostly unknown "
            "tokens, e.g. Chinese): their suggestions are unreliable. `concord serve --encoder multilingual` "
            "reads them, at some cost on English turns.")


def render_latest_metrics(history: list[dict]) -> None:
    done = [r for r in history if r["status"] == "done"]
    if not done:
        st.info("No finished model yet: the queue is in cold-start order until the first run is ingested.")
        return
    latest = done[0]
    held = latest["metrics"].get("holdout") or {}
    st.caption(f"Model {latest['model_version']} · {latest['n_labels']} labels · held-out slice of "
               f"{held.get('n', 0)} turns (not trained on) · snapshot {latest['snapshot_hash']}")  # md-safe: version, counts, a hash
    for column, (key, name) in zip(st.columns(len(METRICS)), METRICS):
        column.metric(name, percent(held.get(key)))  # md-safe: fixed metric names from METRICS
    st.text(encoder_line(latest["metrics"]))
    warning = unreadable_warning(latest["metrics"] or {})
    if warning:
        st.warning(warning)  # md-safe: a percentage and fixed text
    frame = history_frame(done).dropna(subset=[METRICS[0][1]])
    if frame["labels"].nunique() > 1:                 # a learning curve needs more than one label count
        import plotly.express as px

        shown = [name for _, name in METRICS if frame[name].notna().any()]
        fig = px.line(frame.sort_values("labels"), x="labels", y=shown,
                      markers=True, labels={"value": "held-out score", "labels": "labels", "variable": ""})
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), yaxis_range=[0, 1], yaxis_tickformat=".0%")
        st.plotly_chart(fig, width="stretch")


def render(db, user: auth.User | None) -> None:
    """The page body. app.py checks the role on the server before calling; checked again here (the
    Retrain buttons write jobs) without drawing anything for a user who may not be here."""
    if user is None or not user.can(*ROLES):
        st.error(f"This page is for {', '.join(ROLES)} users.")  # md-safe: constant role names
        st.stop()
    project = runtime.parse_settings().project
    jobs_dir = jobfiles.default_jobs_dir(db.path)
    st.title("Pipeline", anchor=False)
    if background.owner_loop_for(db, project) is None:
        st.info("Background retraining is off in this process (start the workbench with `concord serve`). "
                "Retrain now still writes a job for a worker.")

    history = runs.run_history(db, project, limit=200)
    shown = finished_run_key(newest_finished(history))

    @st.fragment(run_every=3)
    def live_state():
        state = runs.worker_state(db, jobs_dir, project)
        if finished_run_key(state["last"]) != shown:
            st.rerun(scope="app")         # a run finished since the page was drawn: redraw all of it
        render_state(state, db, jobs_dir, project)

    live_state()
    render_retrain(db, jobs_dir, project, user)
    render_latest_metrics(history)
    st.subheader("Run history", anchor=False)
    if history:
        st.dataframe(percent_table(history_frame(history), [name for _, name in METRICS]), hide_index=True,
                     width="stretch", placeholder="")
    else:
        st.caption("No runs yet.")
