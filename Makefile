# zhiku — the two set-up commands are `make run` and `make test`; both start with `make install`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
KB     ?= data/kb
HOST   ?= 127.0.0.1
PORT   ?= 8000

# Debian packages for the legacy office formats (.doc .wps .rtf .xls .et .ppt .dps, converted by LibreOffice
# headless) and a CJK font (OCR test pages, browser screenshots). Without them zhiku still runs: such files are
# skipped with the package to install named in the ingest report.
DEBIAN_PACKAGES := libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui fonts-wqy-zenhei

.PHONY: install system run test browser bench clean

install: $(STAMP) system

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
	$(BIN)/zhiku serve --kb $(KB) --host $(HOST) --port $(PORT)

# Installs what is missing when run as root with apt-get; otherwise names it and carries on.
system:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "zhiku: missing Debian packages:" $$missing "- .doc/.wps/.rtf/.xls/.et/.ppt/.dps files will be skipped;" \
		     "install them with: sudo apt-get install" $$missing; \
	fi

# The browser test drives Debian's Chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data build *.egg-info
