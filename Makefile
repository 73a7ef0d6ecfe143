# The two commands a new user needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format bench messages compile-messages check-deploy clean env

$(VENV)/bin/python:
	@PYTHON_BIN="$$(bin/find-python)" && echo "Creating $(VENV) with $$PYTHON_BIN" && "$$PYTHON_BIN" -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

compile-messages: $(VENV)/.installed
	@$(PY) bin/compile-messages

run: $(VENV)/.installed compile-messages
	@bin/dev

test: $(VENV)/.installed-dev compile-messages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Needs GNU gettext (xgettext) for extraction: apt-get install gettext.
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l pl --ignore=.venv --ignore=staticfiles --ignore=var --no-obsolete
	@$(PY) bin/compile-messages

check-deploy: $(VENV)/.installed compile-messages
	DEBUG=false SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ENCRYPTION_KEY=$$(head -c 32 /dev/urandom | base64) \
	  ALLOWED_HOSTS=tracker.example.com SITE_URL=https://tracker.example.com $(PY) manage.py check --deploy --fail-level WARNING

# BENCH_ARGS=--snapshot measures the last commit instead of the working tree, --quick 1,000 tickets only,
# "--compare REV" REV and the working tree side by side (see bench/__main__.py).
bench: $(VENV)/.installed-dev compile-messages
	$(PY) -m bench $(BENCH_ARGS)

# Fresh random keys for docker compose (never overwrites an existing .env).
env:
	@if [ -e .env ]; then echo ".env exists; leaving it alone."; else \
	  printf 'SECRET_KEY=%s\nENCRYPTION_KEY=%s\n' "$$(head -c 48 /dev/urandom | base64 | tr -d '\n')" "$$(head -c 32 /dev/urandom | base64)" > .env && \
	  chmod 600 .env && echo "Wrote .env with new SECRET_KEY and ENCRYPTION_KEY."; fi

clean:
	rm -rf var staticfiles .pytest_cache
