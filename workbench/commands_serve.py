"""``concord serve``: run the workbench (Streamlit, headless) on a port, against one database.

The Streamlit server is a child process started from ``build_streamlit_command``; the database path
and project reach the app both as script arguments and as environment variables (see
``workbench.runtime``). Worker supervision belongs in ``supervise`` (marked below): it runs while
the server runs and must stop its children when the server stops.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from workbench.cli import CommandError

APP_PATH = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501

# Streamlit options that make the workbench a quiet, local, self-contained server.
STREAMLIT_OPTIONS = {
    "server.headless": "true",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "false",
    "theme.base": "light",
    "theme.primaryColor": "#2563eb",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="run the workbench in the browser (and its training worker)",
                              description="Serve the labelling workbench on http://ADDRESS:PORT.")
    p.add_argument("--db", default="concord.duckdb", help="the DuckDB file (default: ./concord.duckdb)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--address", default="localhost",
                   help="interface to listen on (default localhost; 0.0.0.0 to share on the network)")
    p.add_argument("--project", default="default", help="the project annotators label (default: default)")
    p.add_argument("--no-worker", action="store_true", help="do not start the background training worker")
    p.add_argument("--encoder", default=None, help=encoder_help())
    p.add_argument("--demo-users", action="store_true",
                   help="create admin / analyst / annotator sign-ins with random passwords if the database has no "
                        "users, and print them (used by `make run`)")
    p.set_defaults(handler=run_serve)


def encoder_help() -> str:
    """The --encoder help, its threshold read from the rule the worker applies (the help once said 5%
    while the worker switched at 50%). ``pipeline.encoder_choice`` imports numpy only, no torch."""
    from pipeline.encoder_choice import MULTILINGUAL_SHARE

    share = f"{MULTILINGUAL_SHARE:.0%}".replace("%", "%%")     # argparse formats help with %
    return ("the encoder runs train on: auto (default: the packaged English all-MiniLM-L6-v2, or the multilingual "
            f"one when {share} or more of the turns are unreadable to it), multilingual, or a local model directory")


def build_streamlit_command(db: str | Path, *, port: int = DEFAULT_PORT, project: str = "default",
                            address: str = "localhost", python: str | None = None) -> list[str]:
    """The argv that runs the app: ``python -m streamlit run app.py --opts -- --db X --project P``."""
    options = {**STREAMLIT_OPTIONS, "server.port": str(port), "server.address": address}
    argv = [python or sys.executable, "-m", "streamlit", "run", str(APP_PATH)]
    argv += [f"--{name}={value}" for name, value in options.items()]
    return argv + ["--", "--db", str(db), "--project", project]


def streamlit_environment(db: str | Path, project: str, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env.update({"CONCORD_DB": str(db), "CONCORD_PROJECT": project, "TOKENIZERS_PARALLELISM": "false",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    from store.jobfiles import ENV_JOBS, default_jobs_dir  # the app's owner loop runs iff CONCORD_JOBS is set

    env[ENV_JOBS] = str(default_jobs_dir(db))
    return env


def supervise(args, server: subprocess.Popen) -> list[subprocess.Popen]:
    """Start helper processes that live as long as the server (returned so they can be stopped).

    Worker supervision goes here (pipeline engineer): start the worker unless ``args.no_worker``,
    restart it if it dies while ``server.poll() is None``, and return its Popen.
    """
    if args.no_worker:
        return []
    from store.jobfiles import default_jobs_dir
    from workbench.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor(default_jobs_dir(Path(args.db).resolve())).start()
    print(f"Training worker started (pid {supervisor.pid}; log {supervisor.log_path})", flush=True)
    return [supervisor]


def print_demo_users(db_path: Path) -> None:
    from store import Store
    from workbench.demo_users import demo_sign_in_lines

    with Store(db_path) as db:
        lines = demo_sign_in_lines(db, db_path)
    print("\n".join(lines), flush=True)


def run_serve(args) -> int:
    db = Path(args.db).resolve()
    if not db.exists():
        raise CommandError(f"{args.db}: no such database (run `concord init --db {args.db}` and `concord import`)")
    if args.demo_users:
        print_demo_users(db)
    command = build_streamlit_command(db, port=args.port, project=args.project, address=args.address)
    print(f"Concord workbench on http://{args.address}:{args.port}  (database {db}, project {args.project})",
          flush=True)
    env = streamlit_environment(db, args.project)
    if getattr(args, "encoder", None):
        from workbench.background import ENV_ENCODER

        env[ENV_ENCODER] = args.encoder
    server = subprocess.Popen(command, env=env)
    helpers = supervise(args, server)
    try:
        with stop_signals_interrupt():
            return server.wait()
    except KeyboardInterrupt:
        return stop_server(server)
    finally:
        stop_helpers(helpers)


class StopRequested(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the main thread waits, so it stops like Ctrl-C does."""


@contextmanager
def stop_signals_interrupt():
    """Turn SIGTERM and SIGHUP into ``StopRequested`` while the server runs: systemd, Docker and a plain
    ``kill`` send SIGTERM, and without a handler Python dies without its ``finally`` blocks, leaving the
    Streamlit child running and the database locked."""
    def interrupt(signum, frame):
        raise StopRequested(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_server(server: subprocess.Popen, *, timeout: float = 20) -> int:
    """Ask Streamlit to stop as on Ctrl-C; kill it if it has not exited after ``timeout`` seconds."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    try:
        return server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()


def stop_helpers(helpers: list) -> None:
    for child in helpers:
        if child.poll() is None:
            child.terminate()
    for child in helpers:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
