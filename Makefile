# Everything a fresh clone needs, with only Python 3.11+ present.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# every benchmark script prints one JSON document; *_app.py are handler modules they load
BENCHMARKS := $(filter-out %_app.py,$(wildcard benchmarks/*.py))

.PHONY: install test lint typecheck unit integration providers acceptance security demo bench docs examples clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "spectral-deploy needs Python 3.11+, found " + sys.version.split()[0] + " (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

# The whole suite: static checks, then unit, integration (embedded PostgreSQL), providers (local
# servers that speak the vendor APIs) and acceptance tests. Two pytest-xdist workers, each with its
# own embedded PostgreSQL: the tests mostly wait on servers, so this halves the wall time.
# --dist worksteal: a worker that runs out of tests takes pending ones from the other.
TEST_WORKERS ?= 2
test: lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

providers: install
	$(BIN)/pytest tests/providers

acceptance: install
	$(BIN)/pytest tests/acceptance

# attacks and careless-operator cases of docs/security.md (also part of `make test`)
security: install
	$(BIN)/pytest tests/security

demo: install
	$(BIN)/spectral-deploy demo

# The example apps' own virtualenvs (examples/*/requirements.txt from the package index, plus
# this checkout), under .venv/example-apps/; the tests build them on first use too.
examples: install
	$(BIN)/python -m tests.example_apps

# docs/rules/ from the lint rules' docstrings (a test fails when it is stale).
docs: install
	$(BIN)/python -m spectral_deploy.lint.docs docs/rules

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@set -e; for script in $(BENCHMARKS); do echo "== $$script" >&2; $(BIN)/python $$script; done

clean:
	-$(BIN)/spectral-deploy db stop 2>/dev/null
	rm -rf $(VENV) .spectral .mypy_cache .ruff_cache .pytest_cache
