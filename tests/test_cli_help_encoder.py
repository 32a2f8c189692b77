"""`concord serve --help` states the share of unreadable turns at which the worker switches to the
multilingual encoder, read from the rule itself (``pipeline.encoder_choice.MULTILINGUAL_SHARE``): the help
once said 5% while the worker and the Pipeline page said 50%. Building the help must not load torch or
transformers (the workbench side stays light)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import encoder_choice
from workbench import cli

REPO = Path(__file__).resolve().parents[1]
HELP_SCRIPT = """
import contextlib, io, json, sys
from workbench import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        cli.main(["serve", "--help"])
    except SystemExit:
        pass
print(json.dumps({"help": out.getvalue(), "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


def serve_help(capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    return " ".join(capsys.readouterr().out.split())       # argparse wraps lines: compare on words


def test_serve_help_states_the_share_the_worker_switches_at(capsys):
    words = serve_help(capsys)
    assert f"when {encoder_choice.MULTILINGUAL_SHARE:.0%} or more of the turns are unreadable" in words, words
    assert "when 50% or more" in words           # the value the Pipeline page and the worker use today


def test_serve_help_follows_the_constant_when_it_changes(capsys, monkeypatch):
    monkeypatch.setattr(encoder_choice, "MULTILINGUAL_SHARE", 0.3)
    assert "when 30% or more of the turns are unreadable" in serve_help(capsys)


def test_serve_help_loads_neither_torch_nor_transformers():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", HELP_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [] and "when 50% or more" in " ".join(result["help"].split())
