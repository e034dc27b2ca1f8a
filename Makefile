# make demo  - install and start ordertrail with realistic demo data
# make test  - install and run the whole suite (SQLite, and PostgreSQL when configured / in CI)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	ORDERTRAIL_DATABASE_URL=$${ORDERTRAIL_DATABASE_URL:-sqlite:///demo.db} $(BIN)/ordertrail demo

test: $(STAMP)
	PY=$(BIN)/python ./scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/ordertrail bench

clean:
	rm -rf $(VENV) build *.egg-info demo.db*
