# The two commands a new user needs: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp

JS := tests/js
BIOME := $(JS)/node_modules/.bin/biome
# Node runs the front end's checks: skipped without it (a laptop), required when CI is set.
NODE_OR_SKIP = if ! command -v node >/dev/null; then \
	  if [ -n "$$CI" ]; then echo "$@: node is required in CI (CI is set)" >&2; exit 1; fi; \
	  echo "$@: skipped, node is not installed (.ci/run installs it)"; exit 0; fi;
# Ours, not the vendored files under vendor/.
STATIC := $(wildcard django_streaming/static/django_streaming/*.js django_streaming/static/django_streaming/*.css)

.PHONY: install lock lock-upgrade messages demo test lint lint-js types docs js pytest bench bench-capacity bench-channels bench-hostile bench-agents bench-metrics bench-widget bench-durability bench-cluster soak matrix test-latest screenshots clean

# Every version the tests, the linters and the demo run on is locked in $(LOCK) (all Pythons from
# 3.10, by `make lock`), so a release elsewhere cannot break a fresh clone; `tox -e latest` runs
# on the newest releases instead, to see such breaks coming.
LOCK := requirements/dev.txt
# Every extra: the tests run each agent framework and model SDK.
EXTRAS := redis,pydantic-ai,openai-agents,langgraph,openai,anthropic,prometheus,otel
PIP_INSTALL := $(BIN)/python -m pip install --quiet --constraint $(LOCK)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The demo's needs only: the package, Redis's client and the example project's (no toolchain).
$(DEMO_STAMP): pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PIP_INSTALL) pip
	$(PIP_INSTALL) -e ".[redis]" --group demo
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PIP_INSTALL) pip
	$(PIP_INSTALL) -e ".[$(EXTRAS)]" --group dev
	touch $(STAMP) $(DEMO_STAMP)

# Resolve pyproject.toml into $(LOCK) again, keeping every pin that still fits (after adding a
# dependency); `make lock-upgrade` takes the newest releases instead. Then run make test and commit.
LOCK_FLAGS ?=
lock: | $(VENV)/bin/python
	$(PIP_INSTALL) uv
	$(BIN)/uv pip compile --quiet $(LOCK_FLAGS) --universal --python-version 3.10 \
	  --all-extras --group dev pyproject.toml requirements/tools.in -o $(LOCK)
	grep -v '^django==' $(LOCK) > requirements/tox.txt

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

# The package's translations (the widget's, the admin page's): each locale's django.po compiled
# into the django.mo beside it, by Babel (from the locked toolchain: no system gettext needed).
# Run after editing a .po and commit both; tests/test_widget_strings.py fails when a committed
# .mo does not match its .po.
LOCALE := django_streaming/locale
messages: $(STAMP)
	$(BIN)/pybabel compile --domain django --directory $(LOCALE) --statistics

# Biome, for the front end (pinned in tests/js/package.json; no lock file, as tests/interop).
$(BIOME): $(JS)/package.json
	@$(NODE_OR_SKIP) cd $(JS) && npm install --no-package-lock --no-audit --no-fund --loglevel=error \
	  && touch node_modules/.bin/biome

install: $(STAMP) $(BIOME)

# Background jobs: with REDIS_URL, a db_worker process beside the server (as in production);
# without, the server runs the worker in a thread of its own (channels in its memory).
demo: $(DEMO_STAMP)
	cd example_project && ../$(BIN)/python manage.py migrate --noinput
	@echo "Serving the example project at http://127.0.0.1:8000/  (Ctrl+C stops it)"
	cd example_project && trap 'kill 0' EXIT && \
	  if [ -n "$$REDIS_URL" ]; then ../$(BIN)/python manage.py db_worker --no-reload & fi && \
	  DJANGO_DEBUG=1 ../$(BIN)/uvicorn example_project.asgi:application --host 127.0.0.1 --port 8000 \
	    --timeout-graceful-shutdown 1

lint: $(STAMP) $(BIOME)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell
	$(BIN)/pre-commit validate-config .pre-commit-config.yaml
	@$(MAKE) -s lint-js

lint-js: $(BIOME)
	@$(NODE_OR_SKIP) cd $(JS) && node_modules/.bin/biome check $(addprefix ../../,$(STATIC)) *.mjs \
	  biome.json package.json

types: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html -q docs docs/_build/html

# The docs' pictures, in Chromium: docs/chat.png and docs/images/widget-*.png (commit them).
screenshots: $(STAMP)
	$(BIN)/python docs/screenshot.py

# The front end's parser and protocol reader, on the cases and recordings the Python tests share.
js:
	@$(NODE_OR_SKIP) node --test --test-reporter=dot $(JS)/*.test.mjs

# The benchmarks' smoke runs (subprocesses: no coverage to give) and the slowest browser suites
# (the rest covers every line without them) run in `make matrix` instead, to keep `make test`
# within 15 minutes on 2 cores.
PYTEST_ARGS ?= -m "not bench and not slow"
pytest: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint types docs js pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.request_cost
	$(BIN)/python -m benchmarks.capacity
	$(BIN)/python -m benchmarks.channels
	$(BIN)/python -m benchmarks.hostile
	$(BIN)/python -m benchmarks.agents
	PYTHONPATH=example_project $(BIN)/python -m benchmarks.cluster
	$(BIN)/python -m benchmarks.metrics

# A Redis cluster beside one master: publishes/s, appends/s, and the keys' share per master.
bench-cluster: $(STAMP)
	PYTHONPATH=example_project $(BIN)/python -m benchmarks.cluster

# What the metrics cost: S1 and the channel fan-out with metrics on and off (needs Redis).
bench-metrics: $(STAMP)
	$(BIN)/python -m benchmarks.metrics

# Server CPU per token through each agent adapter, beside each framework alone.
bench-agents: $(STAMP)
	$(BIN)/python -m benchmarks.agents

# Hostile chat bodies: the event loop's worst stall while they are posted.
bench-hostile: $(STAMP)
	$(BIN)/python -m benchmarks.hostile

# Idle capacity, PostgreSQL connections and a reconnect storm (needs PostgreSQL, as the tests).
bench-capacity: $(STAMP)
	$(BIN)/python -m benchmarks.capacity

# Channels: fan-out from a publisher process, beside django-eventstream (needs Redis).
bench-channels: $(STAMP)
	$(BIN)/python -m benchmarks.channels

# What WAIT costs: publish() per second on a Sentinel group, with and without WAIT 1.
bench-durability: $(STAMP)
	PYTHONPATH=example_project $(BIN)/python -m benchmarks.durability

soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak --streams 1000 --seconds 120

bench-widget: $(STAMP)
	$(BIN)/python -m benchmarks.widget

matrix: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -m slow
	$(BIN)/tox run -e py310-django52,py312-django60,py313-django6,valkey

# Everything at its newest release (tox.ini's latest env); allowed to fail in CI.
test-latest: $(STAMP)
	$(BIN)/tox run -e latest

clean:
	rm -rf $(VENV) .venv-latest $(JS)/node_modules tests/browser/react/node_modules tests/browser/react/dist \
	  tests/interop/fixture-ai7/node_modules docs/_build .tox .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache
