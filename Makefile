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
	PYTHONPATH=. $(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Needs GNU gettext (xgettext) for extraction: apt-get install gettext.
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l pl --ignore=.venv --ignore=staticfiles --ignore=var --no-obsolete
	@$(PY) bin/compile-messages

check-deploy: $(VENV)/.installed compile-messages
	DEBUG=false SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ENCRYPTION_KEY=$$(head -c 32 /dev/urandom | base64) \
	  ALLOWED_HOSTS=tracker.example.com SITE_URL=https://tracker.example.com EMAIL_URL=smtp+tls://smtp.example.com:587 \
	  $(PY) manage.py check --deploy --fail-level WARNING

# BENCH_ARGS=--snapshot measures the last commit instead of the working tree, --quick 1,000 tickets only,
# "--compare REV" REV and the working tree side by side (see bench/__main__.py).
bench: $(VENV)/.installed-dev compile-messages
	$(PY) -m bench $(BENCH_ARGS)

# .env for docker compose, with fresh random secrets; never overwrites an existing .env.
# Mail goes to Mailpit (the dev profile, http://127.0.0.1:8025) unless EMAIL_URL names a real SMTP
# server: make env EMAIL_URL=smtp+tls://user:password@smtp.example.com:587
env:
	@if [ -e .env ]; then echo ".env exists; leaving it alone."; else \
	  umask 077 && { \
	    echo "# Written by make env: the secrets of this installation. Keep this file private."; \
	    echo "SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '\n')"; \
	    echo "ENCRYPTION_KEY=$$(head -c 32 /dev/urandom | base64)"; \
	    echo "POSTGRES_PASSWORD=$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"; \
	    if [ -n "$(EMAIL_URL)" ]; then echo "EMAIL_URL=$(EMAIL_URL)"; else \
	      echo "# Mailpit, the development mail catcher. For real mail set your SMTP server here"; \
	      echo "# (smtp+tls://user:password@smtp.example.com:587) and remove COMPOSE_PROFILES."; \
	      echo "EMAIL_URL=smtp://mailpit:1025"; \
	      echo "COMPOSE_PROFILES=dev"; fi; \
	  } > .env && echo "Wrote .env with new SECRET_KEY, ENCRYPTION_KEY and POSTGRES_PASSWORD."; \
	  grep -q '^COMPOSE_PROFILES=dev' .env && echo "Mail goes to Mailpit: http://127.0.0.1:8025 (see .env for a real SMTP server)." || true; fi

clean:
	rm -rf var staticfiles .pytest_cache
