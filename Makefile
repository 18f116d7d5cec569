# supportdesk — `make run` sets everything up and serves the demo; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: install run setup test lint format translations translations-extract clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

translations: install
	@$(BIN)/python -m supportdesk.i18n compile

translations-extract: install
	@$(BIN)/python -m supportdesk.i18n check

setup: install translations
	$(FLASK) db upgrade
	$(FLASK) demo seed --quiet

run: setup
	@$(FLASK) demo seed | sed -n '/Demo logins/,$$p'
	@echo
	@echo "supportdesk is running on http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check supportdesk tests bench wsgi.py
	$(BIN)/ruff format --check supportdesk tests bench wsgi.py

format: install
	$(BIN)/ruff format supportdesk tests bench wsgi.py
	$(BIN)/ruff check --fix supportdesk tests bench wsgi.py

clean:
	rm -rf instance test-artifacts .pytest_cache
