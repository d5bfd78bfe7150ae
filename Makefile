# `make demo` and `make test` each create .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# The browser tests (tests/web/test_browser.py) drive Debian's chromium; a fresh machine (CI)
# has only Python, so `make test` installs it first. Never `playwright install`: no downloads.
CHROMIUM ?= /usr/bin/chromium
APT = DEBIAN_FRONTEND=noninteractive apt-get -qq -o=Dpkg::Use-Pty=0

.PHONY: demo test lint format bench clean

$(BIN)/aggregator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres,redis,web,deploy,index]"
	touch $@

demo: $(BIN)/aggregator
	$(BIN)/aggregator --db demo.db demo --site fixtures/site

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then $(APT) update && $(APT) install -y chromium >/dev/null; \
	elif sudo -n true 2>/dev/null; then sudo $(APT) update && sudo $(APT) install -y chromium >/dev/null; \
	else echo "make: cannot install chromium (not root, no sudo): browser tests will be skipped"; fi

test: $(BIN)/aggregator $(CHROMIUM)
	$(BIN)/python -m pytest

lint: $(BIN)/aggregator
	$(BIN)/ruff check aggregator spiders tests benchmarks fixtures
	$(BIN)/ruff format --check aggregator spiders tests benchmarks fixtures
	$(BIN)/mypy

format: $(BIN)/aggregator
	$(BIN)/ruff format aggregator spiders tests benchmarks fixtures
	$(BIN)/ruff check --fix aggregator spiders tests benchmarks fixtures

bench: $(BIN)/aggregator
	$(BIN)/python benchmarks/extraction.py

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm .pytest_cache .mypy_cache .ruff_cache
