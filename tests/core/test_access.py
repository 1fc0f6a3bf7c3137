"""The route walk: every URL rule, every method, as every kind of user, against its declared rule.

The list of rules comes from ``app.url_map`` when the module is collected, so a new view is walked
without anyone editing this file; a view that forgets its access rule fails ``test_every_endpoint_
declares_an_access_rule``, and a URL parameter nobody knows how to fill fails the walk itself.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from config import TestConfig
from conftest import PASSWORD, _empty_all_tables, login
from focalpoint import create_app
from focalpoint.security import ACCESS_ATTR, AUTHENTICATED, PUBLIC, access_rule

ROLES = ["anonymous", "expert", "reviewer", "staff", "admin"]
EMAILS = {role: f"{role}@walk.example" for role in ROLES if role != "anonymous"}
KNOWN_ROLES = {"staff", "expert", "reviewer", "admin"}


def _is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def _collect_rules() -> tuple[list[tuple[str, str, str]], dict]:
    """(endpoint, rule, method) for every non-static rule and every GET/POST it accepts,
    and each endpoint's declared access rule."""
    app = create_app(TestConfig)  # touches no database
    found, declared = [], {}
    with app.app_context():
        for rule in app.url_map.iter_rules():
            if _is_static(rule.endpoint):
                continue
            declared[rule.endpoint] = access_rule(rule.endpoint)
            for method in ("GET", "POST"):
                if method in rule.methods:
                    found.append((rule.endpoint, rule.rule, method))
    return sorted(found, key=lambda item: (item[1], item[2])), declared


RULES, DECLARED = _collect_rules()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory):
    """One app and one set of rows for the whole walk (re-created rows are checked per test)."""
    from focalpoint.auth.services import create_user, find_administration
    from focalpoint.extensions import db
    from focalpoint.notifications import services as svc
    from focalpoint.reference.services import load_reference_data

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.instance_path = str(tmp_path_factory.mktemp("walk-instance"))
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        flemish = find_administration("BE-VL")
        users = {}
        for role, email in EMAILS.items():
            users[role] = create_user(email, roles=[role], password=PASSWORD, name=role.title(),
                                      administration=flemish if role == "reviewer" else None).id
        db.session.commit()
    world = {"app": app, "users": users, "administration_id": None, "feed_port": _closed_port(), "cookies": {}}
    with app.app_context():
        world["administration_id"] = find_administration("BE-WAL").id
        n = svc.create_manual(title="EM/2031/05: Call for inputs on the walk",
                              text="Governments are invited to submit their inputs by 15 March 2031.",
                              link=None, published=dt.date(2031, 1, 10), actor=None)
        db.session.commit()
        assert [d.date for d in n.deadlines] == [dt.date(2031, 3, 15)]
        world["notification_id"], world["deadline_id"] = n.id, n.deadlines[0].id
    yield world
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ensure_feed_source(world) -> int:
    """The feed source (an admin's empty POST to .../delete removes it; the walk needs one)."""
    from focalpoint.extensions import db
    from focalpoint.notifications.services import add_source, find_source

    with world["app"].app_context():
        source = find_source("Walk feed")
        if source is None:
            source = add_source("Walk feed", f"http://127.0.0.1:{world['feed_port']}/feed.xml")
            db.session.commit()
        return source.id


def _ensure_outbox_message(world) -> int:
    """An outbox message (failed once, so an admin's retry has something to do)."""
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage, queue_email

    with world["app"].app_context():
        message_id = db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idem_key == "walk:1"))
        if message_id is None:
            message = queue_email(to="walker@walk.example", subject="Walk", text="Walk", html="<p>Walk</p>",
                                  idem_key="walk:1")
            message.attempts, message.last_error = 1, "walk"
            db.session.commit()
            message_id = message.id
        return message_id


def _ensure_expert(world) -> tuple[int, int]:
    """An expert record with a past role (staff's walked POSTs may remove the role: it comes back), and
    the walking expert's own record, so /profile shows a real profile."""
    from focalpoint.experts.models import Expert, PastRole
    from focalpoint.extensions import db

    with world["app"].app_context():
        expert = db.session.scalar(sa.select(Expert).where(Expert.email == "registry@walk.example"))
        if expert is None:
            expert = Expert(first_name="Reg", last_name="Istry", email="registry@walk.example")
            db.session.add(expert)
            db.session.add(Expert(first_name="Ex", last_name="Pert", email="own@walk.example",
                                  user_id=world["users"]["expert"]))
        if not expert.roles_held:
            expert.roles_held.append(PastRole(role="LA", deliverable_text="Walk assessment", year_from=2020))
        db.session.commit()
        return expert.id, expert.roles_held[0].id


WALK_TOKEN = "walk-token-0123456789abcdefghij"


def _ensure_invitation(world) -> dict:
    """A call, an invitation whose link is WALK_TOKEN (reset each time: a walked remind or resend replaces
    the link) and a template."""
    import hashlib

    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationTemplate
    from focalpoint.nominations.models import NominationCall

    with world["app"].app_context():
        expert = db.session.scalar(sa.select(Expert).where(Expert.email == "invited@walk.example"))
        if expert is None:
            expert = Expert(first_name="In", last_name="Vited", email="invited@walk.example",
                            consent_contact_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.expert_id == expert.id)) \
            if expert.id else None
        if invitation is None:  # first time, or a walked POST deleted the call
            call = NominationCall(title="Walk call", national_deadline=dt.date(2031, 6, 30))
            invitation = Invitation(call=call, expert=expert, token_hash="0" * 64,
                                    expires_at=dt.datetime(2031, 6, 30, 22, tzinfo=dt.timezone.utc))
            db.session.add(invitation)
        invitation.token_hash = hashlib.sha256(WALK_TOKEN.encode()).hexdigest()
        template = db.session.scalar(sa.select(InvitationTemplate).where(InvitationTemplate.name == "Walk"))
        if template is None:
            template = InvitationTemplate(name="Walk", language="en", subject="Walk {call}", body="{link}")
            db.session.add(template)
        db.session.commit()
        return {"call_id": invitation.call_id, "invitation_id": invitation.id, "template_id": template.id,
                "token": WALK_TOKEN}


def _ensure_slate(world) -> dict:
    """A candidate on the walk call's slate and a lead (re-created when a walked POST removed the call)."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Lead, Nomination

    call_id = _ensure_invitation(world)["call_id"]
    with world["app"].app_context():
        expert = db.session.scalar(sa.select(Expert).where(Expert.email == "slate@walk.example"))
        if expert is None:
            expert = Expert(first_name="Sla", last_name="Te", email="slate@walk.example")
            db.session.add(expert)
            db.session.flush()
        nomination = db.session.scalar(sa.select(Nomination).where(Nomination.call_id == call_id,
                                                                    Nomination.expert_id == expert.id))
        if nomination is None:
            nomination = Nomination(call_id=call_id, expert_id=expert.id)
            db.session.add(nomination)
        lead = db.session.scalar(sa.select(Lead).where(Lead.call_id == call_id))
        if lead is None:
            lead = Lead(call_id=call_id, name="Walk lead")
            db.session.add(lead)
        db.session.commit()
        return {"nomination_id": nomination.id, "lead_id": lead.id}


def _ensure_consultation(world) -> dict:
    """A consultation the walking expert is invited to, with a comment of theirs, and an event with a
    registration (tests/walk_rows.py)."""
    from walk_rows import ensure_consultation

    _ensure_expert(world)
    with world["app"].app_context():
        return ensure_consultation("own@walk.example", world["users"]["expert"])


def _ensure_plenary(world) -> dict:
    """IPBES-12 with an agenda item, a document and a position note asked of the walking reviewer's
    administration (tests/walk_rows.py)."""
    from walk_rows import ensure_plenary

    with world["app"].app_context():
        return ensure_plenary("BE-VL")


PLENARY_PARAMS = ("session_id", "item_id", "plenary_document_id", "note_id", "request_id")
CONSULTATION_PARAMS = ("consultation_id", "document_id", "participant_id", "comment_id", "secret", "event_id",
                       "registration_id")


def _fill(rule: str, world) -> str:
    expert_id, role_id = _ensure_expert(world) if ("<int:expert_id>" in rule or "<int:role_id>" in rule) \
        else (None, None)
    values = {
        "expert_id": expert_id,
        "role_id": role_id,
        "message_id": _ensure_outbox_message(world) if "<int:message_id>" in rule else None,
        "notification_id": world["notification_id"],
        "deadline_id": world["deadline_id"],
        "source_id": _ensure_feed_source(world) if "<int:source_id>" in rule else None,
        "user_id": world["users"]["expert"],
        "admin_id": world["administration_id"],
        **(_ensure_invitation(world) if any(f"{p}>" in rule for p in ("call_id", "invitation_id", "template_id",
                                                                       "token")) else {}),
        **(_ensure_slate(world) if any(f"{p}>" in rule for p in ("nomination_id", "lead_id")) else {}),
        **(_ensure_consultation(world) if any(f"{p}>" in rule for p in CONSULTATION_PARAMS) else {}),
        **(_ensure_plenary(world) if any(f"{p}>" in rule for p in PLENARY_PARAMS) else {}),
        # A dated item's .ics: a notification's deadline.
        **({"kind": "notification-deadline", "item_id": world["deadline_id"]} if rule.startswith("/due/") else {}),
    }
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1:end].split(":")[-1]
        assert values.get(name) is not None, f"the walk does not know how to fill <{name}> in {rule}"
        path = path[:start] + str(values[name]) + path[end + 1:]
    return path


def _session_version(world, role: str) -> int:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with world["app"].app_context():
        return db.session.scalar(sa.select(User.session_version).where(User.id == world["users"][role]))


def _client(world, role: str):
    """A test client logged in as ``role`` through /login.

    The session cookie of a login is reused while the user's session version is unchanged (a
    walked POST /logout revokes it; the next test then logs in again), which keeps the walk fast.
    """
    client = world["app"].test_client()
    if role == "anonymous":
        return client
    cookie = world["cookies"].get(role)
    if cookie is not None and cookie[1] == _session_version(world, role):
        client.set_cookie("focalpoint_session", cookie[0])
        return client
    response = login(client, EMAILS[role])
    assert response.status_code == 302, f"{role} could not log in"
    assert response.headers["Location"] == "/"
    world["cookies"][role] = (client.get_cookie("focalpoint_session").value, _session_version(world, role))
    return client


def _allowed(rule, role: str) -> bool:
    if rule == PUBLIC:
        return True
    if role == "anonymous":
        return False
    if rule == AUTHENTICATED:
        return True
    return role == "admin" or role in rule


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/login" \
        and "next" in parse_qs(urlsplit(response.headers["Location"]).query)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("endpoint", "rule", "method"), RULES, ids=[f"{m} {r} ({e})" for e, r, m in RULES])
def test_route_walk(world, endpoint, rule, method, role):
    declared = DECLARED[endpoint]
    assert declared is not None, f"{endpoint} declares no access rule"
    path = _fill(rule, world)
    client = _client(world, role)
    response = client.open(path, method=method, data={} if method == "POST" else None)
    status = response.status_code
    assert status != 500, f"{method} {path} as {role}: 500"
    if _allowed(declared, role):
        assert status not in (401, 403), f"{method} {path} as {role}: {status} though allowed"
        assert not _is_login_redirect(response), f"{method} {path} as {role}: sent to login though allowed"
    elif role == "anonymous":
        assert status == 302, f"{method} {path} as anonymous: {status}, expected a redirect to /login"
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        # A GET comes back after login; a POST-only address would answer 405, so none is kept.
        assert parse_qs(location.query) == ({"next": [path]} if method == "GET" else {})
    else:
        assert status == 403, f"{method} {path} as {role}: {status}, expected 403"
        assert "Not allowed" in response.get_data(as_text=True)


def test_walk_covers_every_view_function():
    """Every view except the static ones has at least one walked rule (nothing hides from the walk)."""
    app = create_app(TestConfig)
    views = {e for e in app.view_functions if not _is_static(e)}
    assert views == {endpoint for endpoint, _rule, _method in RULES}
    assert len(RULES) >= 29


def test_every_endpoint_declares_an_access_rule():
    app = create_app(TestConfig)
    undeclared, malformed = [], []
    with app.app_context():
        for endpoint in sorted(app.view_functions):
            if _is_static(endpoint):
                continue
            rule = getattr(app.view_functions[endpoint], ACCESS_ATTR, None)
            if rule is None:
                undeclared.append(endpoint)
            elif rule not in (PUBLIC, AUTHENTICATED) and not (
                    isinstance(rule, frozenset) and rule and rule <= KNOWN_ROLES):
                malformed.append((endpoint, rule))
    assert undeclared == []
    assert malformed == []


def test_only_login_health_check_and_the_personal_links_are_public():
    app = create_app(TestConfig)
    with app.app_context():
        public = sorted(e for e in app.view_functions if not _is_static(e) and access_rule(e) == PUBLIC)
    assert public == ["auth.login", "consultations.join", "consultations.review_link_delete",
                      "consultations.review_link_document", "consultations.review_link_edit",
                      "consultations.review_link_template", "consultations.review_link_upload", "core.health",
                      "due.feed", "events.registration_link", "events.registration_link_cancel",
                      "events.registration_link_ics", "invitations.respond"]


def test_a_view_without_a_rule_is_refused_even_to_an_admin(world):
    """The before_request hook refuses a view that forgot its decorator (fail closed)."""
    from focalpoint.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=world["app"].config["SQLALCHEMY_DATABASE_URI"])

    @app.get("/forgotten")
    def forgotten():
        return "should never be seen"

    client = app.test_client()
    assert login(client, EMAILS["admin"]).status_code == 302
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert "should never be seen" not in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


# --- the explicit promises of the issue -------------------------------------------------------------
@pytest.mark.parametrize("role", ["expert", "reviewer"])
@pytest.mark.parametrize("target", ["/notifications", "/notifications/{id}", "/feeds", "/notifications/new"])
def test_experts_and_reviewers_see_no_part_of_the_inbox(world, role, target):
    response = _client(world, role).get(target.format(id=world["notification_id"]))
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "Walk" not in body  # not the notification's title
    assert "Not allowed" in body


@pytest.mark.parametrize("target", ["/feeds", "/admin/users", "/admin/administrations"])
def test_staff_are_refused_admin_pages(world, target):
    assert _client(world, "staff").get(target).status_code == 403


def test_staff_open_the_inbox_and_the_notification(world):
    client = _client(world, "staff")
    assert client.get("/notifications").status_code == 200
    detail = client.get(f"/notifications/{world['notification_id']}")
    assert detail.status_code == 200
    assert "EM/2031/05: Call for inputs on the walk" in detail.get_data(as_text=True)


def test_anonymous_visitor_of_the_dashboard_is_sent_to_login(world):
    response = world["app"].test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/"


def test_anonymous_keeps_the_query_string_in_next(world):
    response = world["app"].test_client().get("/notifications?kind=review&page=2")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/notifications?kind=review&page=2"]}


def test_experts_and_reviewers_get_the_welcome_page_not_the_dashboard(world):
    for role in ("expert", "reviewer"):
        body = _client(world, role).get("/").get_data(as_text=True)
        assert "EM/2031/05" not in body
        assert 'href="/notifications"' not in body
        assert 'href="/feeds"' not in body


def test_staff_navigation_links_to_the_inbox_but_not_to_admin_pages(world):
    body = _client(world, "staff").get("/").get_data(as_text=True)
    assert 'href="/notifications"' in body
    assert 'href="/feeds"' not in body
    assert 'href="/admin/users"' not in body


def test_disabled_user_is_treated_as_anonymous(world):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    app = world["app"]
    with app.app_context():
        uid = db.session.scalar(sa.select(User.id).where(User.email == "late@walk.example"))
        if uid is None:
            from focalpoint.auth.services import create_user
            uid = create_user("late@walk.example", roles=["staff"], password=PASSWORD).id
            db.session.commit()
    client = app.test_client()
    assert login(client, "late@walk.example").status_code == 302
    with app.app_context():
        db.session.get(User, uid).is_enabled = False
        db.session.commit()
    response = client.get("/notifications")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/notifications"
