# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export VIGPARENT_DATA_DIR ?= $(CURDIR)/instance

PIP := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: run test lint install install-run assets secrets worker clean-data translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What running needs (requirements.lock); the tools for tests and lint come on top.
$(VENV)/.installed-run: $(BIN)/python requirements.lock pyproject.toml
	$(PIP) -r requirements.lock
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-run requirements-dev.lock
	$(PIP) -r requirements-dev.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install-run: $(VENV)/.installed-run node_modules/.installed

install: $(VENV)/.installed node_modules/.installed

# The page bundles, built into vigparent/static/gen, and the compiled language catalogues
# (vigparent/translations/*/LC_MESSAGES/messages.mo): a wheel built after this carries both.
assets: install-run
	$(BIN)/python -m vigparent.build_assets

# After marking or changing words (README "Adding or changing words"): extract them into the
# template (.pot), merge it into each language's .po, then compile (make assets does too).
POT := vigparent/translations/messages.pot
translations: install-run
	$(BIN)/pybabel -q extract -F babel.cfg -k t -k lazy_gettext --sort-by-file \
		--no-wrap --omit-header -o $(POT) vigparent
	$(BIN)/pybabel -q update -i $(POT) -d vigparent/translations --no-wrap \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/python -m vigparent.build_assets

# The one step that writes secrets: reading settings never does (vigparent/config.py).
secrets: install-run
	$(BIN)/vig-init-secrets

run: install-run assets secrets
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

worker: install-run secrets
	$(BIN)/huey_consumer vigparent.worker.huey

clean-data:
	rm -rf instance
