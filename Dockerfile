# Production image: slim Python 3.13, non-root, static files collected at build time.
FROM python:3.13-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Build-time only values: collectstatic and message compilation need settings to load.
RUN DEBUG=true python bin/compile-messages \
 && DEBUG=false SECRET_KEY=build-only ENCRYPTION_KEY=YnVpbGQtb25seS1rZXktbm90LWZvci1ydW50aW1lISE= \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home /app app \
 && mkdir -p /app/var && chown -R app /app/var

USER app
EXPOSE 8000
CMD ["gunicorn", "issuetracker.wsgi:application", "--config", "gunicorn.conf.py"]
