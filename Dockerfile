# Production image; docker-compose.yml runs every service from it. Python 3.13 slim, non-root, the
# pinned requirements.txt and nothing else. .dockerignore keeps tests, test support and tooling
# out of the build context, so they never reach the image.

# --- build: the virtualenv, compiled translations, collected static files -----------------------
FROM python:3.13-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Build-time only values: collectstatic loads the production settings (DEBUG off selects the
# manifest storage WhiteNoise serves from), which refuse to start without them. None of them
# reaches the runtime stage.
RUN python bin/compile-messages \
 && DEBUG=false SECRET_KEY=build-only ENCRYPTION_KEY=YnVpbGQtb25seS1rZXktbm90LWZvci1ydW50aW1lISE= \
    EMAIL_URL=dummymail:// python manage.py collectstatic --noinput \
 && rm -rf var

# --- runtime: the same virtualenv path, the code, no pip cache or build leftovers ---------------
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

RUN useradd --system --uid 10001 --home /app app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
# var/: beat's schedule and heartbeat, and var/media/ (attachments; a volume in compose, which
# takes this directory's owner when first created), written by the app user.
RUN mkdir -p /app/var/media && chown -R app /app/var

USER app
EXPOSE 8000
CMD ["gunicorn", "issuetracker.wsgi:application", "--config", "gunicorn.conf.py"]
