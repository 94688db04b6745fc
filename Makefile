# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test lint format bench check clean

# The image installs requirements.txt only; every target here installs requirements-dev.txt (which includes it).
# `run` needs honcho, a development tool: production starts web, worker and beat as separate containers, so honcho
# stays out of the runtime file and `run` installs the development set like `test` and `lint`.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Start the site, a Celery worker and beat on the embedded default (SQLite, file broker, synthetic prices).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_demo
	$(VENV)/bin/honcho start -f Procfile.dev

## Run the whole test suite (SQLite unless DATABASE_URL says otherwise).
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## Ruff, the migrations check, and the layer contracts ([tool.importlinter] in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Benchmarks (need PostgreSQL: DATABASE_URL=postgres://...); they print figures, they do not pass or fail.
bench: install
	$(PY) bench/order_create.py
	$(PY) bench/matching.py
	$(PY) bench/testnet_sync_cost.py
	$(PY) bench/live_stream.py
	$(PY) bench/gateway_statements.py

check: install
	$(PY) manage.py check_balances

clean:
	rm -rf $(VENV) staticfiles var db.sqlite3*
