# Everyday commands. Each installs what it needs into .venv first (again after pyproject.toml
# changes); `make` alone lists them.
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help venv test lint fmt bench shots

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## a .venv with the app, its test tools and its lint tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $@

test: venv ## the suite; MariaDB and PostgreSQL too when WEBAPP_TEST_*_URL are set (ARGS=...)
	$(BIN)/pytest $(ARGS)

lint: venv ## ruff (lint, format check) and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: venv ## format, and fix what ruff can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv ## the benchmark: needs wrk and MariaDB (ARGS=--smoke for a short run)
	$(BIN)/python bench/run.py $(ARGS)

shots: venv ## the README's screenshots of a running server (URL=http://127.0.0.1:8080)
	$(BIN)/python docs/screenshots.py $(URL)
