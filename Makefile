# Carepath: two commands are all a fresh machine needs (Python 3.11+, make, gcc, PyPI).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit bench chaos clean graph contract
.PHONY: test-browser screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/carepath dev

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pytest

# The browser tests alone (tests/browser: Playwright driving Debian's chromium, /usr/bin/chromium,
# or CAREPATH_CHROMIUM); `make test` runs them too, and skips them when there is no Chromium.
test-browser: $(STAMP)
	CAREPATH_BROWSER_REQUIRED=1 $(BIN)/pytest tests/browser

# The web app's screenshots in docs/web/ (docs/web.md), taken by the browser tests.
screenshots: $(STAMP)
	CAREPATH_BROWSER_REQUIRED=1 CAREPATH_SCREENSHOTS=1 $(BIN)/pytest tests/browser

contract: $(STAMP)
	CAREPATH_SCHEMATHESIS_COVERAGE=1 CAREPATH_SCHEMATHESIS_EXAMPLES=100 \
		$(BIN)/pytest tests/api/test_schemathesis.py

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	$(BIN)/python -m chaos

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

graph: $(STAMP)
	$(BIN)/python -m devstack.importgraph
