"""Configuration classes. Everything comes from the environment; see the README's table.

``FOCALPOINT_ENV`` picks the class: ``local`` (default: one machine, SQLite, a secret key generated
once in the instance folder), ``production`` (PostgreSQL or SQLite named explicitly, ``SECRET_KEY``
required) or ``testing``.
"""
from __future__ import annotations

import os


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


#: Secret keys that are public knowledge; refused in production.
WEAK_SECRETS = {"dev", "development", "secret", "changeme", "change-me", "please-change", "test",
                "you-will-never-guess", "hard to guess string", "default", "focalpoint"}


class Config:
    ENV_NAME = "base"
    #: None means "a SQLite file in the instance folder" (resolved by create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SECRET_KEY = os.environ.get("SECRET_KEY") or None

    #: Public address of the site, used for every link in e-mails (never the Host header).
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    TRUSTED_HOSTS = _list("TRUSTED_HOSTS")

    # Sessions and cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
    SESSION_COOKIE_NAME = "focalpoint_session"
    PERMANENT_SESSION_LIFETIME = _int("SESSION_HOURS", 12) * 3600
    REMEMBER_COOKIE_DURATION = 0
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Request size caps
    # Above the largest file any form accepts (documents and templates: 10 MB), so a file just over its own cap
    # gets the form's message rather than the bare 413 page.
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_MB", 12) * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 500 * 1024
    MAX_FORM_PARTS = 1000

    # Login throttling (state in the database, so it holds across workers)
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
    LOGIN_THROTTLE_MINUTES = _int("LOGIN_THROTTLE_MINUTES", 15)
    #: Number of proxies in front of the app that set X-Forwarded-For (0: trust none).
    PROXY_COUNT = _int("PROXY_COUNT", 0)

    # Localisation
    BABEL_DEFAULT_LOCALE = os.environ.get("DEFAULT_LOCALE", "en")
    BABEL_DEFAULT_TIMEZONE = "UTC"  # storage; display zone below
    LANGUAGES = ["en", "fr", "nl"]
    DISPLAY_TIMEZONE = os.environ.get("DISPLAY_TIMEZONE", "Europe/Brussels")

    # The country this focal point serves (Belgium is the default configuration, not an assumption).
    COUNTRY_CODE = os.environ.get("COUNTRY", "BE")

    # Notifications
    #: The national deadline: this many working days before the earliest secretariat deadline.
    NATIONAL_DEADLINE_WORKING_DAYS = _int("NATIONAL_DEADLINE_WORKING_DAYS", 10)
    #: Time zone the secretariat's bare dates are read in (IPBES is in Bonn).
    SECRETARIAT_TIMEZONE = os.environ.get("SECRETARIAT_TIMEZONE", "Europe/Berlin")
    FEED_TOTAL_TIMEOUT = float(os.environ.get("FEED_TIMEOUT_SECONDS", "20"))
    FEED_MAX_BYTES = _int("FEED_MAX_MB", 10) * 1024 * 1024
    FEED_MAX_REDIRECTS = 5
    #: Refuse feed URLs that resolve to loopback/private addresses (SSRF). On by default in production.
    FEED_BLOCK_PRIVATE = _bool("FEED_BLOCK_PRIVATE", False)
    FEED_DEFAULT_INTERVAL_MINUTES = _int("FEED_INTERVAL_MINUTES", 60)
    MAX_EML_BYTES = 5 * 1024 * 1024

    # Scheduler
    SCHEDULER_TICK_SECONDS = _int("SCHEDULER_TICK_SECONDS", 60)

    # E-mail (the outbox, delivered by the scheduler: focalpoint/mail.py)
    #: Unset: no SMTP server; mail is written into MAILDIR instead.
    SMTP_HOST = os.environ.get("SMTP_HOST") or None
    SMTP_PORT = _int("SMTP_PORT", 587)
    SMTP_USER = os.environ.get("SMTP_USER") or None
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
    #: starttls, ssl or none; unset: starttls when SMTP_USER is set, else none.
    SMTP_SECURITY = (os.environ.get("SMTP_SECURITY") or "").strip().lower() or None
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT") or 20)
    MAIL_SENDER = os.environ.get("MAIL_SENDER") or "Focal Point <focalpoint@localhost>"
    #: The focal point team's address: requests for a new invitation link go there (else to MAIL_SENDER).
    STAFF_EMAIL = os.environ.get("STAFF_EMAIL") or None
    #: None means "<instance folder>/maildir" (resolved when mail is delivered).
    MAILDIR = os.environ.get("MAILDIR") or None
    #: A message the server keeps refusing is given up ("dead") after this many attempts.
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 8)
    #: Messages sent per scheduler run.
    MAIL_BATCH = _int("MAIL_BATCH", 100)

    PAGE_SIZE = 25

    # Expert registry
    #: Largest CV accepted (PDF or DOCX).
    CV_MAX_MB = _int("CV_MAX_MB", 5)
    #: Version of the consent text experts agree to (recorded with their consent).
    CONSENT_TEXT_VERSION = os.environ.get("CONSENT_TEXT_VERSION") or "2026-1"
    #: Largest review template (XLSX) accepted by the upload page and `focalpoint consultations import`.
    CONSULTATION_UPLOAD_MAX_MB = _int("CONSULTATION_UPLOAD_MAX_MB", 10)
    #: Local hour (in each person's time zone) from which the day's or week's e-mail digest is sent.
    DIGEST_HOUR = _int("DIGEST_HOUR", 7)

    # Bootstrap-Flask: serve Bootstrap from the package, never a CDN.
    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BOOTSWATCH_THEME = None


class LocalConfig(Config):
    """One machine: SQLite in the instance folder, a secret key generated once and kept there."""

    ENV_NAME = "local"


class ProductionConfig(Config):
    ENV_NAME = "production"
    FEED_BLOCK_PRIVATE = _bool("FEED_BLOCK_PRIVATE", True)

    @classmethod
    def validate(cls) -> None:
        key = os.environ.get("SECRET_KEY") or ""
        if len(key) < 32 or len(set(key)) < 10 or any(key.lower() == w * (len(key) // len(w)) + w[:len(key) % len(w)]
                                                    for w in WEAK_SECRETS):
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if not os.environ.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL must be set in production.")


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production-0123456789"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    BASE_URL = "http://focalpoint.test"
    SESSION_COOKIE_SECURE = False
    FEED_BLOCK_PRIVATE = False
    FEED_TOTAL_TIMEOUT = 5.0
    # No SMTP server: mail goes to <instance>/maildir (tests point SMTP_HOST at an aiosmtpd catcher).
    SMTP_HOST = None
    SMTP_USER = None
    SMTP_PASSWORD = None
    SMTP_SECURITY = None
    SMTP_TIMEOUT = 5.0
    MAILDIR = None
    MAIL_MAX_ATTEMPTS = 8
    MAIL_BATCH = 100


CONFIGS = {"local": LocalConfig, "development": LocalConfig, "production": ProductionConfig,
           "testing": TestConfig}


def get_config(name: str | None = None) -> type[Config]:
    name = (name or os.environ.get("FOCALPOINT_ENV") or "local").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"FOCALPOINT_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
