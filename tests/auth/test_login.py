"""Logging in and out, throttling, session revocation, redirects."""
import re

import pytest
import sqlalchemy as sa

from conftest import PASSWORD, login


def test_login_page_has_labelled_email_and_password_fields(client):
    html = client.get("/login").get_data(as_text=True)
    assert re.search(r'<label[^>]*for="email"', html)
    assert re.search(r'<input[^>]*name="email"', html)
    assert re.search(r'<label[^>]*for="password"', html)
    assert re.search(r'<input[^>]*name="password"[^>]*type="password"|<input[^>]*type="password"[^>]*name="password"', html)


def test_login_with_right_password_opens_the_dashboard(client, make_user):
    make_user("a@example.org", "staff")
    response = login(client, "A@Example.org ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_wrong_password_is_refused_with_a_message(client, make_user):
    make_user("a@example.org", "staff")
    response = login(client, "a@example.org", "wrong password!")
    assert response.status_code == 401
    assert "Invalid e-mail address or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(client, make_user):
    make_user("a@example.org", "staff")
    known = login(client, "a@example.org", "wrong password!")
    unknown = login(client, "nobody@example.org", "wrong password!")
    assert known.status_code == unknown.status_code == 401
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(known) == strip(unknown)


def test_password_is_stored_as_argon2id_with_owasp_parameters(app, make_user):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    uid = make_user("a@example.org", "staff")
    with app.app_context():
        stored = db.session.get(User, uid).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


def test_weaker_hash_is_upgraded_at_next_login(app, client, make_user):
    from argon2 import PasswordHasher

    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    uid = make_user("a@example.org", "staff")
    with app.app_context():
        db.session.get(User, uid).password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        db.session.commit()
    assert login(client, "a@example.org").status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_failed_logins_lock_the_account_even_with_the_right_password(app, client, make_user):
    make_user("a@example.org", "staff")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert login(client, "a@example.org", "wrong password!").status_code == 401
    blocked = login(client, "a@example.org")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in blocked.get_data(as_text=True)


def test_failed_logins_from_one_address_are_throttled_across_accounts(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    make_user("target@example.org", "staff")
    for n in range(4):
        assert login(client, f"guess{n}@example.org", "wrong password!").status_code == 401
    assert login(client, "target@example.org").status_code == 429


def test_throttle_state_lives_in_the_database_so_another_worker_sees_it(app, make_user):
    """A second app instance (another worker process) shares the failure count."""
    from config import TestConfig
    from focalpoint import create_app

    make_user("a@example.org", "staff")
    first = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        login(first, "a@example.org", "wrong password!")
    other_worker = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    assert login(other_worker.test_client(), "a@example.org").status_code == 429
    with other_worker.app_context():
        from focalpoint.extensions import db
        db.engine.dispose()


def test_successful_login_clears_the_account_failures(app, client, make_user):
    make_user("a@example.org", "staff")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        login(client, "a@example.org", "wrong password!")
    assert login(client, "a@example.org").status_code == 302
    client.post("/logout")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        login(client, "a@example.org", "wrong password!")
    assert login(client, "a@example.org").status_code == 302


@pytest.mark.parametrize("target", [
    "//evil.com", "https://evil.com", "http://evil.com/x", "/\\evil.com", "\\\\evil.com", "javascript:alert(1)",
    " //evil.com", "%2F%2Fevil.com", "/%2F%2Fevil.com", "/%5cevil.com", "///evil.com", "/\tevil.com",
    "data:text/html,<script>alert(1)</script>", "https:evil.com",
])
def test_next_parameter_never_leaves_the_site(client, make_user, target):
    make_user("a@example.org", "staff")
    response = login(client, "a@example.org", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_parameter_keeps_a_local_path(client, make_user):
    make_user("a@example.org", "staff")
    response = login(client, "a@example.org", next_url="/notifications?kind=review")
    assert response.headers["Location"] == "/notifications?kind=review"


def test_anonymous_visitor_is_sent_to_login_with_next(client):
    response = client.get("/notifications?status=new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "notifications" in response.headers["Location"]


def test_logout_revokes_a_captured_session_cookie(app, make_user):
    make_user("a@example.org", "staff")
    client = app.test_client()
    login(client, "a@example.org")
    captured = client.get_cookie("focalpoint_session").value
    assert client.post("/logout").status_code == 302
    attacker = app.test_client()
    attacker.set_cookie("focalpoint_session", captured)
    assert attacker.get("/notifications").status_code == 302  # back to login: the cookie is dead


def test_password_change_revokes_other_sessions_but_keeps_this_one(app, make_user):
    make_user("a@example.org", "staff")
    mine, other = app.test_client(), app.test_client()
    login(mine, "a@example.org")
    login(other, "a@example.org")
    response = mine.post("/account/password", data={"current_password": PASSWORD, "new_password": "a brand new passphrase",
                                                    "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert mine.get("/notifications").status_code == 200
    assert other.get("/notifications").status_code == 302
    assert login(app.test_client(), "a@example.org", "a brand new passphrase").status_code == 302


def test_password_change_needs_the_current_password(app, make_user):
    make_user("a@example.org", "staff")
    client = app.test_client()
    login(client, "a@example.org")
    response = client.post("/account/password", data={"current_password": "not it at all", "new_password": "a brand new passphrase",
                                                      "confirm": "a brand new passphrase"})
    assert response.status_code == 200
    assert "The current password is not right." in response.get_data(as_text=True)
    assert login(app.test_client(), "a@example.org").status_code == 302


def test_disabling_an_account_ends_its_sessions(app, admin_client, make_user):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    uid = make_user("victim@example.org", "staff")
    victim = app.test_client()
    login(victim, "victim@example.org")
    assert victim.get("/notifications").status_code == 200
    response = admin_client.post(f"/admin/users/{uid}", data={"email": "victim@example.org", "name": "V",
                                                              "roles": ["staff"], "administration_id": "0"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).is_enabled is False
    assert victim.get("/notifications").status_code == 302
    assert login(app.test_client(), "victim@example.org").status_code == 401


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    make_user("a@example.org", "staff")
    response = login(client, "a@example.org")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("focalpoint_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_clears_the_previous_session(app, client, make_user):
    """No session fixation: whatever the session held before login is gone after it."""
    make_user("a@example.org", "staff")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "a@example.org")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].endswith(":1")
