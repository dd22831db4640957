# zhiku — the two set-up commands are `make run` and `make test`; both start with `make install`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
KB     ?= data/kb
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test browser bench clean

install: $(STAMP)

# Re-runs only when pyproject.toml changes. torch is installed first and pinned: a bare requirement
# would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/zhiku ingest corpus/policies corpus/cases --kb $(KB)
	@echo "zhiku is serving on http://$(HOST):$(PORT)/"
	$(BIN)/zhiku serve --kb $(KB) --host $(HOST) --port $(PORT)

# The browser test drives Debian's Chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data build *.egg-info
