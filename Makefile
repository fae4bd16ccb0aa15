# Two commands: `make serve` starts the App, `make test` runs the tests.
# Both create .venv and install the project (pinned in pyproject.toml) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# With no GitHub App configured (no APP_ID and no .env), serve against the bundled
# GitHub emulator: a local playground that needs no GitHub account.
serve: $(STAMP)
	@if [ -z "$$APP_ID" ] && [ ! -f .env ]; then \
		exec $(BIN)/python -m tests.playground; \
	else \
		exec $(BIN)/shipcrew serve; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check app jobs tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || echo "no wrk: bench/ingress.py falls back to its Python load generator"
	$(BIN)/python bench/ingress.py
