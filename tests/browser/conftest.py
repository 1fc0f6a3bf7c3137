"""A live Focal Point served by waitress on 127.0.0.1 and a real headless Chromium driven by Playwright.

The browser tests run on SQLite only and never use the parametrised ``app`` fixture: each test gets its
own migrated SQLite file, real CSRF protection (as in production) and a waitress server on a free port.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import PASSWORD, missing
from config import TestConfig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--headless"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LiveServer:
    """The running site: ``url`` to visit, ``app`` to prepare data in an app context."""

    url: str
    app: object
    db_path: Path
    _stop: threading.Event = field(default_factory=threading.Event)

    def add_user(self, email: str, *roles: str, name: str = "", password: str = PASSWORD) -> int:
        from focalpoint.auth.services import create_user
        from focalpoint.extensions import db

        with self.app.app_context():
            user = create_user(email, roles=roles, password=password, name=name)
            db.session.commit()
            return user.id

    def add_notification(self, title: str, text: str, published: dt.date | None = None) -> dict:
        """A notification added by hand (through the same extraction as feeds); returns what was stored."""
        from focalpoint.extensions import db
        from focalpoint.notifications.services import create_manual

        with self.app.app_context():
            n = create_manual(title=title, text=text, link=None, published=published, actor=None)
            db.session.commit()
            return {
                "id": n.id, "title": n.title, "reference": n.reference, "kind": n.kind.value,
                "kind_rule": n.kind_rule, "national_deadline": n.national_deadline,
                "deadlines": sorted((d.date, d.label, d.text) for d in n.deadlines if not d.is_removed),
            }


def _serve(server, stop: threading.Event) -> None:
    """The waitress loop, stoppable: everything (including closing) happens in this one thread."""
    from waitress import wasyncore

    try:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
    finally:
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()


@pytest.fixture
def live_server(tmp_path):
    """Focal Point on a fresh migrated SQLite file, with CSRF on, served by waitress (4 threads)."""
    from flask_migrate import upgrade
    from waitress import create_server

    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    db_path = tmp_path / "browser.db"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}", WTF_CSRF_ENABLED=True)
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_reference_data("BE")
        db.session.commit()

    # Chromium fetches a page's CSS and scripts in parallel: waitress then warns "Task queue depth is 1".
    queue_logger = logging.getLogger("waitress.queue")
    queue_level = queue_logger.level
    queue_logger.setLevel(logging.ERROR)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    live = LiveServer(url=f"http://127.0.0.1:{server.effective_port}", app=app, db_path=db_path)
    thread = threading.Thread(target=_serve, args=(server, live._stop), name="waitress", daemon=True)
    thread.start()
    yield live
    live._stop.set()
    thread.join(timeout=10)
    queue_logger.setLevel(queue_level)
    assert not thread.is_alive(), "the waitress thread did not stop"
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's) for the session."""
    if not os.path.exists(CHROMIUM):
        missing(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class ConsoleLog:
    """Console errors, CSP violations and uncaught exceptions seen by a page."""

    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text:
            self.csp.append(text)
        if message.type == "error":
            self.errors.append(f"{message.location.get('url', '')}: {text}")

    def on_page_error(self, error) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture
def browser_page(chromium):
    """A fresh context (no cookies) and page, English, desktop size; ``page.console_log`` collects errors."""
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                   timezone_id="Europe/Brussels")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log = ConsoleLog()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    page.console_log = log
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
