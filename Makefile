# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export VIGPARENT_DATA_DIR ?= $(CURDIR)/instance

.PHONY: run test lint install worker serve clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

run: install
	$(BIN)/alembic upgrade head
	$(BIN)/flask --app vigparent vig demo
	$(BIN)/python -m vigparent.serve

# Starts a throw-away PostgreSQL (when its server is installed) for the PostgreSQL path tests.
test: install lint
	@set +e; eval "$$(scripts/postgres.sh start 2>/dev/null)"; \
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS); rc=$$?; \
	scripts/postgres.sh stop; exit $$rc

lint: install
	$(BIN)/ruff format --check vigparent tests bench
	$(BIN)/ruff check vigparent tests bench
	$(BIN)/mypy
	node_modules/.bin/eslint --max-warnings 0 .
	node_modules/.bin/tsc -p tsconfig.json

worker: install
	$(BIN)/huey_consumer vigparent.jobs.huey

clean-data:
	rm -rf instance
