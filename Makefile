# `make serve` starts the App, `make test` runs the tests, `make register` creates the App.
# Each creates .venv and installs the project (pinned in pyproject.toml) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint bench browser register

$(STAMP): pyproject.toml requirements/engine.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements/engine.txt
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) browser

# The browser tests (tests/app/web) drive Debian's chromium through chromium-driver. As root
# (CI, the dev container) install them when missing; otherwise those tests skip and say why.
browser:
	@if ! command -v chromedriver >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium + chromium-driver for the browser tests"; \
		(apt-get install -y -q chromium chromium-driver fonts-noto-color-emoji >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && \
		  apt-get install -y -q chromium chromium-driver fonts-noto-color-emoji >/dev/null)) || \
		echo "could not install chromium: the browser tests will skip"; \
	fi

# With no GitHub App configured (no APP_ID and no .env), serve against the bundled
# GitHub emulator: a local playground that needs no GitHub account.
serve: $(STAMP)
	@if [ -z "$$APP_ID" ] && [ ! -f .env ]; then \
		exec $(BIN)/python -m tests.playground; \
	else \
		exec $(BIN)/shipcrew serve; \
	fi

# Register the GitHub App by GitHub's manifest flow: `make register URL=https://your-host`
# (ORG=acme for an organization). Writes .env; then `make serve`.
register: $(STAMP)
	$(BIN)/shipcrew register $(if $(URL),--url $(URL)) $(if $(ORG),--org $(ORG))

lint: $(STAMP)
	$(BIN)/ruff check app jobs tests bench
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest

bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || echo "no wrk: bench/ingress.py falls back to its Python load generator"
	$(BIN)/python bench/ingress.py
