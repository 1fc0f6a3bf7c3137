"""Test fixtures: the app on SQLite and on PostgreSQL, users, logging in.

Every test that takes ``app`` runs twice: once on a SQLite file, once on a PostgreSQL database
created for the session (dropped at the end). Set FOCALPOINT_TEST_DATABASES=sqlite to run one.
In CI (CI=true) a missing PostgreSQL server or Chromium fails the run instead of skipping.
"""
from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import TestConfig

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR / "notifications"))  # hostile_server helper
sys.path.insert(0, str(TESTS_DIR / "mail"))  # SmtpCatcher (a real SMTP server)
SHARED = Path(os.environ.get("FOCALPOINT_SHARED", TESTS_DIR.parents[1] / "shared"))
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"
PG_SERVER = os.environ.get("FOCALPOINT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def missing(what: str):
    """Skip locally, fail in CI: no test may be skipped there for a missing component."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} not available")


def _backends() -> list[str]:
    wanted = os.environ.get("FOCALPOINT_TEST_DATABASES", "sqlite,postgresql")
    return [b.strip() for b in wanted.split(",") if b.strip()]


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    server = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # no server answering
        server.dispose()
        missing(f"PostgreSQL at {PG_SERVER} ({type(exc).__name__})")
    name = f"focalpoint_test_{os.getpid()}_{secrets.token_hex(3)}"
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = re.sub(r"/[^/]*$", f"/{name}", PG_SERVER)
    yield url
    with server.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    server.dispose()


@pytest.fixture(scope="session", params=_backends())
def database_url(request, tmp_path_factory):
    """A migrated database per backend (the schema comes from the migrations, as in production)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'focalpoint.db'}"
    from flask_migrate import upgrade

    from focalpoint import create_app

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        from focalpoint.extensions import db

        db.engine.dispose()
    return url


def _empty_all_tables(db) -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(database_url, tmp_path):
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """make_user(email, *roles, administration="BE-VL", password=PASSWORD) -> user id."""
    from focalpoint.auth.services import create_user, find_administration
    from focalpoint.extensions import db

    def make(email: str, *roles: str, administration: str | None = None, password: str = PASSWORD,
             name: str = "") -> int:
        with app.app_context():
            admin = find_administration(administration or "BE-VL") if ("reviewer" in roles or administration) else None
            user = create_user(email, roles=roles or ("staff",), password=password, name=name, administration=admin)
            db.session.commit()
            return user.id

    return make


def login(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    data = {"email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


@pytest.fixture
def staff_client(app, make_user):
    make_user("staff@example.org", "staff", name="Stella Staff")
    client = app.test_client()
    response = login(client, "staff@example.org")
    assert response.status_code == 302
    return client


@pytest.fixture
def admin_client(app, make_user):
    make_user("admin@example.org", "admin", name="Ada Admin")
    client = app.test_client()
    response = login(client, "admin@example.org")
    assert response.status_code == 302
    return client


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        missing(f"the shared/ folder at {SHARED}")
    return SHARED
