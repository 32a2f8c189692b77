"""The ``worker`` sub-command: ``concord worker --jobs DIR [--once]`` (see ``pipeline.worker``).

``concord serve`` starts and supervises one worker itself; run this by hand to use another machine's
cores on a shared jobs folder, or with ``--once`` from cron / CI.
"""
from __future__ import annotations


def register(subparsers) -> None:
    from pipeline.worker import add_arguments  # light: the worker imports torch only when a job runs

    p = subparsers.add_parser("worker", help="run the background training worker on a jobs folder",
                              description="Claim training jobs from a jobs folder, retrain, rescore the pool "
                                          "and publish results for the workbench to ingest. Never opens the database.")
    add_arguments(p)
    p.set_defaults(handler=run_worker)


def run_worker(args) -> int:
    from pipeline.worker import run_from_args
    from workbench.cli import CommandError

    try:
        return run_from_args(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
