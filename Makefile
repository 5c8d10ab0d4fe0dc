# The two set-up commands are `make run` and `make test`; each works on a fresh Debian machine.
SHELL := /bin/bash
# Debian's own Python 3.11 where there is one: it is built with profile-guided and link-time
# optimisation, and runs this project 13-21 % faster than a Python 3.11 built from source with
# the defaults (pyenv's), measured in bench/README.md.
PYTHON ?= $(or $(wildcard /usr/bin/python3.11),python3.11)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian packages: venv for Debian's Python, WeasyPrint's Pango and HarfBuzz (subset makes PDFs 4x
# faster), fonts for the letters; a C compiler and Python's headers to build gunicorn_h1c (published
# as source only); Chromium for the browser tests.
APT_PACKAGES := python3.11-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
	gcc libc6-dev python3.11-dev
APT_TEST_PACKAGES := chromium postgresql redis-server

.PHONY: run test faults install install-dev system-deps system-test-deps services bench graph lint clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

# axe-core, injected into pages by the browser tests (from the npm registry, never a CDN).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || scripts/apt-ensure npm
	npm ci --no-audit --no-fund --silent
	@touch $@

install: system-deps $(VENV)/.installed
install-dev: system-deps system-test-deps $(VENV)/.installed-dev node_modules/.installed

system-deps:
	@scripts/apt-ensure $(APT_PACKAGES)

system-test-deps:
	@scripts/apt-ensure $(APT_TEST_PACKAGES)

## make run: the embedded demo (SQLite, filesystem broker), web + worker + beat on 127.0.0.1:8000.
run: install
	@scripts/run-embedded

## make test: the whole suite on the real PostgreSQL and Redis on 127.0.0.1.
test: install-dev services
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

## make faults: outages and kills on private PostgreSQL, Redis, gunicorn and Celery (tests/faults/).
faults: install-dev
	$(PY) -m pytest -m faults tests/faults

services:
	@scripts/ensure-services

## make bench: every benchmark under bench/, printing its figures (N=50000 for a quick run).
BENCH_N ?= 1000000
bench: install-dev services
	$(PY) bench/bench_calendar.py
	DEBUG=true $(PY) bench/bench_letters.py
	$(PY) bench/bench_sweeps.py --n $(BENCH_N)
	$(PY) bench/bench_pages.py --n $(BENCH_N)
	$(PY) bench/bench_filing.py

## make graph: the complaint's state machine as a Graphviz file (and a PNG where `dot` is installed).
graph: install
	DEBUG=true $(PY) manage.py graph_transitions --skip-checks complaints.Complaint > docs/transitions.dot
	@if command -v dot >/dev/null; then dot -Tpng -Gdpi=110 docs/transitions.dot -o docs/transitions.png; fi
	@echo "wrote docs/transitions.dot (and docs/transitions.png where Graphviz is installed)"

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
