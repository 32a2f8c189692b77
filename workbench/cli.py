"""The ``concord`` command line: one parser, sub-commands registered by each area's module.

Command modules import heavy libraries (torch, streamlit) inside their handlers, so ``--help`` is
instant. Errors a user can fix are raised as ``CommandError`` and printed as one clear line.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that define ``register(subparsers)``; each adds its own sub-commands.
COMMAND_MODULES = (
    "workbench.commands_data",     # init, import, stats, user
    "workbench.commands_serve",    # serve
    "workbench.commands_users",    # user add|list|disable|enable
    "workbench.commands_export",   # export
    "workbench.commands_backup",   # backup, restore
    "pipeline.commands",           # train, evaluate, predict, simulate, worker
    "pipeline.commands_analysis",  # find-errors
    "pipeline.commands_simulate",  # simulate
    "pipeline.commands_worker",    # worker
)


class CommandError(Exception):
    """A problem the user can fix; printed as ``concord: error: <message>`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="concord",
        description="Label dialog turns and curate them for intent alignment.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an area that is not built yet
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except CommandError as exc:
        print(f"concord: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("concord: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    # `python -m workbench.cli`: run the imported module's main, so CommandError is the one class
    # the command modules raise (this file also runs as __main__, a second copy of the module).
    from workbench.cli import main as imported_main

    sys.exit(imported_main())
