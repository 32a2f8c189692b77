# Two commands for a fresh machine (see README):  make run   and   make test
# Each installs what it needs into .venv first (idempotent; re-runs only when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
DB ?= concord.duckdb
PORT ?= 8501
BIN = $(VENV)/bin
CONCORD = $(BIN)/concord
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: run test test-slow test-browser install install-dev browser-deps bench clean

run: $(VENV)/.installed
	$(CONCORD) init --db $(DB) --schema sample_data/schema.yaml --guidelines sample_data/guidelines.md
	$(CONCORD) import sample_data/dialogs.jsonl --db $(DB)
	$(CONCORD) serve --db $(DB) --port $(PORT) --demo-users

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m slow

test-browser: $(VENV)/.installed-dev browser-deps
	$(BIN)/python -m pytest -q -m browser

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# torch first, pinned to the CPU build, so nothing later pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Debian's chromium for the Playwright browser tests (Playwright cannot download its own browser here),
# with CJK and emoji fonts so screenshots of Chinese and emoji turns show glyphs, not boxes.
browser-deps:
	@command -v chromium >/dev/null && fc-list | grep -qi "noto sans cjk" || \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk fonts-noto-color-emoji)

bench: $(VENV)/.installed-dev
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
