# The commands the README names. They create and use a virtualenv in .venv: Debian's
# own python3 refuses `pip install` into the system (externally-managed-environment).
# BOOTSTRAP_PYTHON makes the virtualenv; PYTEST_ARGS narrows `make test` (e.g. tests/unit).
BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
PIP_FLAGS ?= --quiet --disable-pip-version-check
PYTEST_ARGS ?=
PREREQS = $(BOOTSTRAP_PYTHON) tools/cli/prereqs.py

.PHONY: install up down test test-fast test-unit test-integration test-e2e test-faults test-security test-browser lint format schemas bench kafka-start kafka-stop validate compose-smoke compose-env

$(VENV)/bin/python:
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

# Re-installed when pyproject.toml changes.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PYTHON) -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@
	@echo "installed into $(VENV); to get \`omnidesk\` on your PATH: . $(VENV)/bin/activate"

install: $(VENV)/.installed

## Bring the whole system up locally (fetches and starts a local Kafka on first run).
up:
	@$(PREREQS) up
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m tools.cli.main dev up

## Stop what `make up` started; the broker keeps running (`omnidesk dev down --broker` stops it too).
down:
	$(PYTHON) -m tools.cli.main dev down

## The full test suite, every tier below (what .ci/run runs).
test:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# The tiers (README "Tests"). A test that needs a server is marked integration or e2e
# (tests/conftest.py refuses one that is not), so the fast tier starts none.
FAST = not integration and not e2e and not browser

## Everything that needs no server: tests/unit and the pure tests of security/, fuzz/, faults/.
test-fast: install
	$(PYTHON) -m pytest -q -m "$(FAST)" $(PYTEST_ARGS)

## The same selection under its tier's name.
test-unit: test-fast

## Adapters against real servers (Kafka, Dovecot, PostgreSQL, SMTP, provider fixtures).
test-integration:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest -m "integration and not e2e" tests/integration $(PYTEST_ARGS)

## The whole system as processes or in one loop, through its public interfaces.
test-e2e:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest -m "not browser" tests/e2e $(PYTEST_ARGS)

## Kill each service, the broker, PostgreSQL, SMTP and IMAP under load; check the topics.
test-faults:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest tests/faults $(PYTEST_ARGS)

## Signatures, body limits, log hygiene, auth, TLS, and the property and OpenAPI fuzzers.
test-security:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest tests/security tests/fuzz $(PYTEST_ARGS)

## The console in Debian's chromium (skipped when chromium is not installed).
test-browser:
	@$(PREREQS) test
	@$(MAKE) --no-print-directory install
	$(PYTHON) -m pytest tests/browser $(PYTEST_ARGS)

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: install
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

schemas: install
	$(PYTHON) -m tools.cli.main schema export

bench: install
	$(PYTHON) -m bench.run_all

kafka-start: install
	$(PYTHON) -m tools.cli.main kafka start

kafka-stop: install
	$(PYTHON) -m tools.cli.main kafka stop

## deploy/.env for docker compose: .env.example with generated secrets (kept if set).
compose-env:
	sh deploy/init-env.sh

## Compose, kustomize and Helm definitions against their schemas (builds the tools once).
validate: install
	PYTHON=$(abspath $(PYTHON)) bash deploy/validate.sh

## Build the image and run the compose stack for real, with its smoke test (needs root).
compose-smoke: install
	PYTHON=$(abspath $(PYTHON)) bash .ci/compose-smoke.sh
