"""Shared fixtures: a fresh store per test, the repo root, and the optional ../shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CONCORD_SHARED_DATA") or REPO.parent / "shared" / "data")   # empty = unset, as bench/datasets.py


@pytest.fixture
def db(tmp_path):
    from store import Store

    with Store(tmp_path / "test.duckdb") as store:
        yield store


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (it is not part of a user's clone)")
    return SHARED_DATA
