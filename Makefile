# The two commands a new user needs: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

JS := tests/js
BIOME := $(JS)/node_modules/.bin/biome
# Ours, not the vendored files under vendor/.
STATIC := $(wildcard django_streaming/static/django_streaming/*.js django_streaming/static/django_streaming/*.css)

.PHONY: install demo test lint types docs js pytest bench bench-capacity bench-widget soak matrix clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[redis]" --group dev
	touch $(STAMP)

# Biome, for the front end (pinned in tests/js/package.json; no lock file, as tests/interop).
$(BIOME): $(JS)/package.json
	cd $(JS) && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	touch $(BIOME)

install: $(STAMP) $(BIOME)

demo: $(STAMP)
	cd example_project && ../$(BIN)/python manage.py migrate --noinput
	@echo "Serving the example project at http://127.0.0.1:8000/  (Ctrl+C stops it)"
	cd example_project && exec ../$(BIN)/uvicorn example_project.asgi:application --host 127.0.0.1 --port 8000 --timeout-graceful-shutdown 1

lint: $(STAMP) $(BIOME)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell
	cd $(JS) && node_modules/.bin/biome check $(addprefix ../../,$(STATIC)) *.mjs biome.json package.json

types: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html -q docs docs/_build/html

# The front end's parser and protocol reader, on the cases and recordings the Python tests share.
js:
	node --test $(JS)/*.test.mjs

pytest: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint types docs js pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.capacity

# Idle capacity, PostgreSQL connections and a reconnect storm (needs PostgreSQL, as the tests).
bench-capacity: $(STAMP)
	$(BIN)/python -m benchmarks.capacity

soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak --streams 1000 --seconds 120

bench-widget: $(STAMP)
	$(BIN)/python -m benchmarks.widget

matrix: $(STAMP)
	$(BIN)/tox run -e py310-django52,py312-django60,py313-django6

clean:
	rm -rf $(VENV) $(JS)/node_modules docs/_build .tox .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache
