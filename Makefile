# Uskalla — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen --all-packages
PYTEST_ARGS ?=

.PHONY: help install dev up down test test-e2e test-faults test-browser lint fmt typecheck importlint migrate bench check-deploy catalogs

help: ## List the targets
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

install: ## Install the pinned dependencies from uv.lock into .venv (fast when already there)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv
	@$(UV) sync --frozen --all-packages --quiet

dev: install ## Run the whole system locally: gateway on http://127.0.0.1:8080, mail at :8025
	@$(RUN) uskalla-dev

up: ## The production-like stack with docker-compose (gateway on :8080, mail on :8025)
	docker-compose up --build

down: ## Stop the docker-compose stack
	docker-compose down

TEST_WORKERS ?= 2
test: install ## The whole test suite (finds or starts PostgreSQL and Redis itself)
	@# Two pytest-xdist workers: the tests that use the Docker engine run one after another on
	@# one of them (the "processes" group), the rest beside them.
	@$(RUN) pytest -m "not faults" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-browser: install ## Only the browser journey (Playwright with Debian's /usr/bin/chromium)
	@$(RUN) pytest -m browser -s tests/browser $(PYTEST_ARGS)

test-faults: install ## The fault suite: 2,000 sign-ups under kills and a Redis restart
	@$(RUN) pytest -m faults -s tests/faults $(PYTEST_ARGS)

test-e2e: install ## Only the end-to-end tests
	@$(RUN) pytest -m e2e $(PYTEST_ARGS)

lint: install ## ruff lint and format check, import boundaries
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) lint-imports

fmt: install ## Format and fix what ruff can
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

typecheck: install ## mypy (strict) on every src tree
	@$(RUN) mypy packages/*/src services/*/src gateway/src bench

importlint: install ## Services never import each other; leaf packages import no service
	@$(RUN) lint-imports

migrate: install ## Migrate every service's database (uses *_DATABASE_URL)
	@for s in members experiments notifications; do $(RUN) $$s migrate || exit 1; done

bench: install ## Benchmarks: figures and ratios measured side by side
	@for b in bench/bench_*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

check-deploy: install ## Offline checks of the Kubernetes manifests
	@bash deploy/check.sh

catalogs: install ## Notifications' e-mail wording: strings of the templates into the .pot, then the fi/sv/en .po
	@cd services/notifications && $(RUN) pybabel -q extract -F babel.cfg -c Translators: \
	  --no-location --no-wrap --sort-output --project=notifications \
	  --copyright-holder="Association of Finnish Municipalities" \
	  -o src/notifications/translations/messages.pot . \
	 && $(RUN) pybabel -q update --no-wrap -i src/notifications/translations/messages.pot \
	  -d src/notifications/translations
