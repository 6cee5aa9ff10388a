# The commands the README names. PYTHON may point at a virtualenv's python.
PYTHON ?= python3
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: install up down test test-unit lint format schemas bench kafka-start kafka-stop

install:
	$(PYTHON) -m pip install $(PIP_FLAGS) -e '.[dev]'

## Bring the whole system up locally (fetches and starts a local Kafka on first run).
up: install
	$(PYTHON) -m libs.common.cli.main dev up

down:
	$(PYTHON) -m libs.common.cli.main dev down

## The full test suite: unit, integration (real Kafka, Dovecot, PostgreSQL, SMTP) and e2e.
test: install
	$(PYTHON) -m pytest

test-unit:
	$(PYTHON) -m pytest tests/unit

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

schemas:
	$(PYTHON) -m libs.common.cli.main schema export

bench:
	$(PYTHON) -m bench.run_all

kafka-start:
	$(PYTHON) -m libs.common.cli.main kafka start

kafka-stop:
	$(PYTHON) -m libs.common.cli.main kafka stop
