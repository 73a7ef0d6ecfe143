"""Settings, all read from the environment (django-environ; a `.env` file is honoured).

Every variable has a development default so that `make run` works on a fresh clone.
Production (DEBUG off) refuses to start with the development secrets or without a real mailer.
These are the production settings, tests included: issuetracker/settings_test.py switches off,
by name, only what the test client cannot speak (HTTPS), and nothing here asks whether it runs
under tests.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local state: the development SQLite database, Celery's files, mail files, beat's schedule.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEV_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
# 32 bytes, base64: only ever used while DEBUG is on.
DEV_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U="

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ENCRYPTION_KEY = env.str("ENCRYPTION_KEY", default=DEV_ENCRYPTION_KEY)
# A previous key still accepted for decryption while secrets are re-encrypted (rotation).
ENCRYPTION_KEY_PREVIOUS = env.str("ENCRYPTION_KEY_PREVIOUS", default="")

if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("Set SECRET_KEY (the development key only works with DEBUG=true).")
    if ENCRYPTION_KEY == DEV_ENCRYPTION_KEY:
        raise ImproperlyConfigured("Set ENCRYPTION_KEY (the development key only works with DEBUG=true).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "crispy_forms",
    "crispy_bootstrap5",
    "accounts",
    "boards",
    "tickets",
    "inboxes",
    "outbox",
    "standby",
    "notifications",
    "attachments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost with SecurityMiddleware, so every answer carries the headers of NFR-3, also those
    # that a middleware below gives without reaching a view (/health, 429, static files).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before anything that validates the Host header (OPS-1): see issuetracker/healthprobe.py.
    "issuetracker.healthprobe.HealthProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "issuetracker.ratelimit.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "issuetracker.sessions.SlidingSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: logging out a suspended manager leaves a message for the login page.
    "accounts.middleware.ManagerMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "issuetracker.urls"
WSGI_APPLICATION = "issuetracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "notifications.context_processors.navigation",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the embedded development default: the web server, the worker and beat share
    # the file, so wait for each other's write locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env.str("CACHE_URL", default="locmem://")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="issuetracker"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.Manager"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    # ACC-1: at least 8 characters, no other rule.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "account_login"

SESSION_HOURS = env.int("SESSION_HOURS", default=24)
# ACC-3: the session lasts SESSION_HOURS from the *last* request. issuetracker.sessions renews it
# at most every 5 minutes (hence the 5 extra minutes) instead of writing it on every request.
SESSION_COOKIE_AGE = SESSION_HOURS * 3600 + 300
SESSION_SAVE_EVERY_REQUEST = False
# Read from the cache (Redis in production), written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
PASSWORD_RESET_TIMEOUT = 3600  # ACC-4: one hour

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "signup": "accounts.forms.SignupForm",
    "login": "accounts.forms.LoginForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# OPS-5: one address per account, the one it signed up with. accounts/auth_urls.py routes no page
# that adds, changes or removes addresses; these say the same to allauth's own checks.
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_MAX_EMAIL_ADDRESSES = 1
ACCOUNT_CHANGE_EMAIL = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 1
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PREVENT_ENUMERATION = True
# ACC-3: no "remember me" box; every session lasts SESSION_HOURS from the last request, browser
# restarts included (None would offer the box and end unticked sessions with the browser).
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Rate limits (NFR-2) ------------------------------------------------------------------

RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_LOGIN = env.int("RATE_LIMIT_LOGIN", default=10)  # per minute per IP: log in, sign up
RATE_LIMIT_PUBLIC_TICKET = env.int("RATE_LIMIT_PUBLIC_TICKET", default=20)  # public form POSTs
RATE_LIMIT_DEFAULT = env.int("RATE_LIMIT_DEFAULT", default=100)  # every other request
RATE_LIMIT_REPORTER_PER_HOUR = env.int("RATE_LIMIT_REPORTER_PER_HOUR", default=10)  # automatic mails per mailbox
# Messages from a ticket's secret page (THR-4), per ticket per hour; each one notifies the managers.
RATE_LIMIT_TICKET_MESSAGES_PER_HOUR = env.int("RATE_LIMIT_TICKET_MESSAGES_PER_HOUR", default=20)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Our middleware already limits log-in/sign-up per IP; allauth's own limits stay as a second line
# for what it alone knows (resend and reset mail). Failed log-ins are accounts.login_throttle's:
# allauth's per-account limit let anyone lock the owner out (OPS-5).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "",
    "signup": f"{RATE_LIMIT_LOGIN}/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/5m/key",
    "reset_password_from_key": "20/m/ip",
}
if not RATE_LIMIT_ENABLED:
    ACCOUNT_RATE_LIMITS = False

# --- Mail -------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Issue Tracker <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env.str("EMAIL_URL", default="")
if not DEBUG and not EMAIL_URL:
    # Without it account mail would land in files on one container's disk: sign-ups could never
    # verify, and nobody would notice. Production names its mail server or refuses to start.
    raise ImproperlyConfigured(
        "Set EMAIL_URL to the SMTP server that sends account and ticket mail, e.g. "
        "smtp+tls://user:password@smtp.example.com:587 (the development mail files only work with DEBUG=true)."
    )
MAIL_FILE_PATH = env.str("MAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
SMTP_TIMEOUT_SECONDS = 10
if EMAIL_URL:
    _email = env.email_url_config(EMAIL_URL)
    MAILERS = {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _email.get("EMAIL_HOST"),
                "port": _email.get("EMAIL_PORT"),
                "username": _email.get("EMAIL_HOST_USER") or None,
                "password": _email.get("EMAIL_HOST_PASSWORD") or None,
                "use_tls": bool(_email.get("EMAIL_USE_TLS")),
                "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
                "timeout": SMTP_TIMEOUT_SECONDS,
            }
            if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
            else {},
        }
    }
else:
    # Development default: each outgoing mail becomes a readable .txt (and an .eml) under var/mail/.
    MAILERS = {
        "default": {
            "BACKEND": "issuetracker.mail_backends.ReadableFileBackend",
            "OPTIONS": {"file_path": MAIL_FILE_PATH},
        }
    }

DUPLICATE_EMAIL_THRESHOLD_MINUTES = env.int("DUPLICATE_EMAIL_THRESHOLD_MINUTES", default=60)
# Inbox IMAP/SMTP hosts inside our own network (localhost, private addresses, service names)
# are refused unless this is on: a manager must not reach internal services (SSRF).
INBOX_ALLOW_PRIVATE_HOSTS = env.bool("INBOX_ALLOW_PRIVATE_HOSTS", default=DEBUG)

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    # No server needed: the worker and beat exchange messages through files under var/.
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis hands an unacknowledged task to another worker after this long, and a task waiting
    # for its retry countdown is unacknowledged (acks_late): keep it above the longest countdown
    # (forwarding 15 min, outgoing mail 30 min) so no retry is ever delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it finished, so a killed worker's task runs again; every
# task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Polls wait on other people's mail servers: their own queue (and worker) keeps a slow server
# from holding up outgoing mail and forwarding (ING-1).
CELERY_TASK_ROUTES = {"inboxes.tasks.poll_inbox": {"queue": "polling"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING below (JSON lines), like the web process (NFR-6).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish from a request waits at most about two seconds for a broker that is down, then the
# request goes on (OPS-2, issuetracker.wakeups) and the beat drain sends the row later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule"))
# Beat touches this file on every tick, at least once a minute; bin/healthcheck beat reads its age.
CELERY_BEAT_SCHEDULER = "issuetracker.beat.HeartbeatScheduler"
CELERY_BEAT_MAX_INTERVAL = 60
BEAT_HEARTBEAT_FILE = env.str("BEAT_HEARTBEAT_FILE", default=str(VAR_DIR / "celerybeat-heartbeat"))
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "enqueue-due-inbox-polls": {"task": "inboxes.tasks.enqueue_due_polls", "schedule": crontab(minute="*")},
    # Drains of rows whose wake-up task was lost (broker down, worker killed): within a minute.
    "send-stalled-mail": {"task": "outbox.tasks.send_stalled_mail", "schedule": timedelta(seconds=30)},
    "forward-stalled-tickets": {"task": "tickets.tasks.forward_stalled_tickets", "schedule": timedelta(seconds=30)},
    # Managers' digests (THR-8): each goes out within five minutes of its period ending.
    "send-notification-digests": {
        "task": "notifications.tasks.send_notification_digests",
        "schedule": timedelta(minutes=5),
    },
    # Files of deleted tickets (ATT-4); a file is kept an hour after its last use at least.
    "remove-orphan-files": {"task": "attachments.tasks.remove_orphan_files", "schedule": crontab(minute=17)},
}

# --- i18n -------------------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pl", _("Polish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static -----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Attachments (ATT-2, ATT-4) ----------------------------------------------------------

# Uploaded and mailed files, content-addressed (attachments.services), in the default storage:
# the filesystem under MEDIA_ROOT, or an S3-compatible bucket when S3_BUCKET is set.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
S3_BUCKET = env.str("S3_BUCKET", default="")
S3_ADDRESSING_STYLE = env.str("S3_ADDRESSING_STYLE", default="")
if S3_ADDRESSING_STYLE not in {"", "path", "virtual", "auto"}:
    raise ImproperlyConfigured("S3_ADDRESSING_STYLE is path, virtual or auto (empty: boto3 chooses).")
if S3_BUCKET:
    STORAGES["default"] = {
        # django-storages' S3 backend, kept private and streamed (attachments/storage.py).
        "BACKEND": "attachments.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            # Empty: AWS itself. MinIO, Garage, Ceph and the like: their URL.
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            # Empty: boto3's own chain (AWS_* variables, an instance or task role).
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            # "path" for most self-hosted servers, "virtual" for AWS; empty lets boto3 choose.
            "addressing_style": S3_ADDRESSING_STYLE or None,
            # Keys under this prefix, so the bucket can hold other things too.
            "location": env.str("S3_PREFIX", default="").strip("/"),
        },
    }
# No MEDIA_URL: files are never served by URL, only by views that check who asks (ATT-5).
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", default=10)
ATTACHMENT_MAX_FILE_MB = env.int("ATTACHMENT_MAX_FILE_MB", default=10)
ATTACHMENT_MAX_SUBMIT_MB = env.int("ATTACHMENT_MAX_SUBMIT_MB", default=25)
# Uploads above 1 MB are spooled to a temporary file, never held in memory; the form fields
# (text only) keep Django's default 2.5 MB ceiling.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Above our own limit, so one file too many is an error on the form, not a bare 400.
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, 3 * ATTACHMENT_MAX_FILES)

# --- Security (NFR-3) ---------------------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health probes speak plain HTTP to the container (issuetracker/healthprobe.py).
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- Logging (NFR-6) ----------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"gelf": {"()": "issuetracker.logging.GelfJsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "gelf"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # runserver's request lines too, instead of Django's own plain format.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": "INFO"},
    },
}
