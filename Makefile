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
.PHONY: browser-deps bench bench-search bench-onboard bench-reports

# Browser tests: Debian's Chromium (no browser download) and axe-core vendored from npm.
CHROMIUM := /usr/bin/chromium
AXE_JS := static/vendor/axe.min.js
AXE_VERSION ?= 4

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
	-$(FLASK) faq import faq_content
	$(FLASK) search rebuild

# `make run` also starts the outbox worker and a local mail catcher (aiosmtpd) on MAIL_PORT;
# the caught e-mail is at http://$(HOST):$(PORT)/dev/mail. Ctrl-C stops all three.
MAIL_PORT ?= 8025
DEV_MAIL_DIR ?= instance/dev-mail
RUN_ENV := SUPPORTDESK_DEV_MAIL_DIR="$(DEV_MAIL_DIR)" \
	SUPPORTDESK_SMTP_URL="smtp://127.0.0.1:$(MAIL_PORT)" \
	SUPPORTDESK_BASE_URL="http://$(HOST):$(PORT)"

run: setup
	@$(FLASK) demo seed | sed -n '/Demo logins/,$$p'
	@echo
	@echo "supportdesk is running on http://$(HOST):$(PORT)  (Ctrl-C stops it, the worker and the mail catcher)"
	@echo "e-mail the app sends: http://$(HOST):$(PORT)/dev/mail"
	@export $(RUN_ENV); \
	  $(FLASK) devmail & catcher=$$!; \
	  for _ in $$(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$(MAIL_PORT)) 2>/dev/null && break; sleep 0.2; done; \
	  $(FLASK) worker & worker=$$!; \
	  trap 'kill $$catcher $$worker 2>/dev/null; wait $$catcher $$worker 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

# pytest-xdist: one worker per core; `serial` tests (the browser tests) share one group.
PYTEST_PARALLEL ?= -n auto --dist loadgroup

test: install translations browser-deps
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

browser-deps: $(CHROMIUM) $(AXE_JS)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
	  echo "Browser tests need Debian's chromium at $(CHROMIUM): run 'apt-get install chromium' as root." >&2; \
	  exit 1; \
	fi

$(AXE_JS):
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to vendor axe-core: apt-get install npm" >&2; exit 1; }
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && \
	  tarball=$$(npm pack --silent --pack-destination "$$tmp" axe-core@$(AXE_VERSION) | tail -n 1) && \
	  tar -xzf "$$tmp/$$tarball" -C "$$tmp" package/axe.min.js package/LICENSE && \
	  cp "$$tmp/package/axe.min.js" $@.tmp && cp "$$tmp/package/LICENSE" $(@D)/axe.LICENSE && \
	  mv $@.tmp $@ && rm -rf "$$tmp" && echo "vendored axe-core ($$tarball) to $@"

# Benchmarks (not part of `make test`): see bench/README.md.
bench-search: install
	$(BIN)/python -m bench.search_bench $(BENCH_ARGS)

# Onboarding: four waves of 25 municipalities imported on SQLite and PostgreSQL, then the
# wave overview at 105 municipalities (bench/onboard_bench.py, about 10 minutes).
bench-onboard: install
	$(BIN)/python -m bench.onboard_bench $(BENCH_ARGS)

# Reports: 1,000,000 tickets generated in SQL on the local PostgreSQL, then the
# municipality and whole-rollout reports timed (bench/report_bench.py, a few minutes).
bench-reports: install
	$(BIN)/python -m bench.report_bench $(BENCH_ARGS)

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check supportdesk tests bench wsgi.py
	$(BIN)/ruff format --check supportdesk tests bench wsgi.py

format: install
	$(BIN)/ruff format supportdesk tests bench wsgi.py
	$(BIN)/ruff check --fix supportdesk tests bench wsgi.py

clean:
	rm -rf instance test-artifacts .pytest_cache
