# `make demo` and `make test` each create .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint format bench clean

$(BIN)/aggregator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres,redis]"
	touch $@

demo: $(BIN)/aggregator
	$(BIN)/aggregator --db demo.db demo --site fixtures/site

test: $(BIN)/aggregator
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
