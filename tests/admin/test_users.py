"""Admin user management through the browser routes: the list, creating and editing users, the
guard rails on one's own account, the audit trail, and administrations."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from conftest import PASSWORD, login


# --- helpers --------------------------------------------------------------------------------------
def listed_emails(html: str) -> list[str]:
    """The e-mail addresses of the users table, in page order."""
    return re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a></td>', html)


def admin_id(app, email: str = "admin@example.org") -> int:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def administration_id(app, code: str) -> int:
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(Administration.id).where(Administration.code == code))


def user_state(app, email: str) -> dict | None:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            return None
        return {"id": user.id, "name": user.name, "roles": sorted(str(r) for r in user.roles),
                "administration": user.administration.code if user.administration else None,
                "enabled": user.is_enabled, "session_version": user.session_version,
                "has_password": bool(user.password_hash)}


def audit(app, action: str | None = None) -> list[tuple]:
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        stmt = sa.select(AuditEntry).order_by(AuditEntry.id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return [(e.action, e.object_type, e.object_id, e.actor_id, e.data) for e in db.session.scalars(stmt)]


def user_count(app) -> int:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def form(email, *roles, name="", administration=0, enabled=True, password=""):
    data = {"email": email, "name": name, "roles": list(roles), "administration_id": str(administration),
            "password": password}
    if enabled:
        data["is_enabled"] = "y"
    return data


@pytest.fixture
def thirty_users(app, admin_client):
    """30 users besides the admin: user00..user29, every 3rd a reviewer, every 5th disabled."""
    from focalpoint.auth.services import create_user, find_administration
    from focalpoint.extensions import db

    with app.app_context():
        flemish = find_administration("BE-VL")
        for n in range(30):
            roles = ["reviewer"] if n % 3 == 0 else ["expert"]
            user = create_user(f"user{n:02d}@example.org", roles=roles, password=None, name=f"Person {29 - n:02d}",
                               administration=flemish if "reviewer" in roles else None)
            user.is_enabled = n % 5 != 0
        db.session.commit()
    return admin_client


# --- the list -------------------------------------------------------------------------------------
def test_user_list_is_paginated_by_email(app, thirty_users):
    first = thirty_users.get("/admin/users")
    assert first.status_code == 200
    everyone = ["admin@example.org"] + [f"user{n:02d}@example.org" for n in range(30)]
    assert listed_emails(first.get_data(as_text=True)) == everyone[:25]
    assert "1–25 of 31" in first.get_data(as_text=True)
    assert 'href="/admin/users?page=2"' in first.get_data(as_text=True)
    second = thirty_users.get("/admin/users?page=2")
    assert listed_emails(second.get_data(as_text=True)) == everyone[25:]
    assert "26–31 of 31" in second.get_data(as_text=True)
    # A page past the end shows the last page instead of an empty one.
    assert listed_emails(thirty_users.get("/admin/users?page=99").get_data(as_text=True)) == everyone[25:]
    assert listed_emails(thirty_users.get("/admin/users?page=abc").get_data(as_text=True)) == everyone[:25]


def test_user_list_sorts_by_email_and_name_in_both_directions(app, thirty_users):
    html = thirty_users.get("/admin/users?sort=email&dir=desc").get_data(as_text=True)
    emails = listed_emails(html)
    assert emails[0] == "user29@example.org"
    assert emails[:3] == ["user29@example.org", "user28@example.org", "user27@example.org"]
    assert 'aria-sort="descending"' in html
    # Names run the other way round from the e-mails ("Person 29" is user00), the admin's name is "Ada Admin".
    by_name = listed_emails(thirty_users.get("/admin/users?sort=name&dir=asc").get_data(as_text=True))
    assert by_name[:3] == ["admin@example.org", "user29@example.org", "user28@example.org"]
    by_name_desc = listed_emails(thirty_users.get("/admin/users?sort=name&dir=desc").get_data(as_text=True))
    assert by_name_desc[:2] == ["user00@example.org", "user01@example.org"]
    # An unknown sort key or direction falls back to the default, not an error.
    fallback = thirty_users.get("/admin/users?sort=password_hash&dir=sideways")
    assert fallback.status_code == 200
    assert listed_emails(fallback.get_data(as_text=True))[0] == "admin@example.org"


def test_user_list_search_role_and_state_filters_combine(app, thirty_users):
    def emails(query):
        response = thirty_users.get("/admin/users", query_string=query)
        assert response.status_code == 200
        return listed_emails(response.get_data(as_text=True))

    assert emails({"q": "user1"}) == [f"user1{n}@example.org" for n in range(10)]
    assert emails({"q": "PERSON 05"}) == ["user24@example.org"]  # by name, any case
    assert emails({"role": "reviewer"}) == [f"user{n:02d}@example.org" for n in range(0, 30, 3)]
    assert emails({"role": "admin"}) == ["admin@example.org"]
    assert emails({"state": "disabled"}) == [f"user{n:02d}@example.org" for n in range(0, 30, 5)]
    assert emails({"role": "reviewer", "state": "disabled"}) == ["user00@example.org", "user15@example.org"]
    assert emails({"role": "reviewer", "state": "enabled", "q": "user2"}) == [
        "user21@example.org", "user24@example.org", "user27@example.org"]
    assert emails({"q": "nobody-at-all"}) == []
    assert emails({"role": "superuser"}) == emails({})  # an unknown role does not filter


def test_list_shows_roles_administration_and_state(app, thirty_users):
    html = thirty_users.get("/admin/users?q=user00").get_data(as_text=True)
    row = re.search(r"<tr><td><a href=\"/admin/users/\d+\">user00@example.org</a>.*?</tr>", html, re.S).group(0)
    assert "Administration reviewer" in row
    assert "Flemish administration (Department of Environment)" in row
    assert "Disabled" in row


# --- creating users -------------------------------------------------------------------------------
def test_admin_creates_a_reviewer_with_an_administration(app, admin_client):
    walloon = administration_id(app, "BE-WAL")
    response = admin_client.post("/admin/users/new", data=form(
        "New.Reviewer@Example.org", "reviewer", name="Nora Reviewer", administration=walloon,
        password="a long enough password"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    assert "User new.reviewer@example.org created." in admin_client.get("/admin/users").get_data(as_text=True)
    state = user_state(app, "new.reviewer@example.org")
    assert state == {"id": state["id"], "name": "Nora Reviewer", "roles": ["reviewer"], "administration": "BE-WAL",
                     "enabled": True, "session_version": 1, "has_password": True}
    assert audit(app, "user.created")[-1] == ("user.created", "users", state["id"], admin_id(app),
                                              {"roles": ["reviewer"], "administration": "BE-WAL"})
    assert login(app.test_client(), "new.reviewer@example.org", "a long enough password").status_code == 302


def test_a_reviewer_without_an_administration_is_refused(app, admin_client):
    before, logged = user_count(app), audit(app)
    response = admin_client.post("/admin/users/new", data=form(
        "rev@example.org", "reviewer", administration=0, password="a long enough password"))
    assert response.status_code == 200
    assert "A reviewer must belong to an administration." in response.get_data(as_text=True)
    assert user_state(app, "rev@example.org") is None
    assert user_count(app) == before
    assert audit(app) == logged


def test_a_duplicate_email_is_refused(app, admin_client, make_user):
    make_user("taken@example.org", "expert")
    before = user_count(app)
    response = admin_client.post("/admin/users/new", data=form("TAKEN@example.org", "staff",
                                                               password="a long enough password"))
    assert response.status_code == 200
    assert "A user with the e-mail address taken@example.org already exists." in response.get_data(as_text=True)
    assert user_count(app) == before
    assert user_state(app, "taken@example.org")["roles"] == ["expert"]


@pytest.mark.parametrize(("password", "message"), [
    ("short", "Field must be between 10 and 1024 characters long."),
    ("weak@example.org", "The password must not be the e-mail address."),
    ("", "A new user needs a password."),
])
def test_a_weak_or_missing_password_is_refused(app, admin_client, password, message):
    before = user_count(app)
    response = admin_client.post("/admin/users/new", data=form("weak@example.org", "staff", password=password))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert user_state(app, "weak@example.org") is None
    assert user_count(app) == before


def test_a_user_needs_a_role_and_a_valid_email(app, admin_client):
    before = user_count(app)
    no_role = admin_client.post("/admin/users/new", data=form("norole@example.org", password="a long enough password"))
    assert "Choose at least one role." in no_role.get_data(as_text=True)
    bad_role = admin_client.post("/admin/users/new", data=form("bad@example.org", "superuser",
                                                                password="a long enough password"))
    assert bad_role.status_code == 200
    bad_email = admin_client.post("/admin/users/new", data=form("not-an-address", "staff",
                                                                 password="a long enough password"))
    assert bad_email.status_code == 200
    assert user_count(app) == before


def test_a_new_user_can_be_created_disabled(app, admin_client):
    response = admin_client.post("/admin/users/new", data=form("later@example.org", "staff", enabled=False,
                                                               password="a long enough password"))
    assert response.status_code == 302
    assert user_state(app, "later@example.org")["enabled"] is False
    assert login(app.test_client(), "later@example.org", "a long enough password").status_code == 401


# --- editing users --------------------------------------------------------------------------------
def test_admin_edits_roles_and_administration(app, admin_client, make_user):
    uid = make_user("eva@example.org", "expert", name="Eva")
    page = admin_client.get(f"/admin/users/{uid}")
    assert page.status_code == 200
    assert 'value="eva@example.org"' in page.get_data(as_text=True)
    brussels = administration_id(app, "BE-BXL")
    response = admin_client.post(f"/admin/users/{uid}", data=form(
        "eva@example.org", "expert", "reviewer", name="Eva E.", administration=brussels))
    assert response.status_code == 302
    state = user_state(app, "eva@example.org")
    assert (state["roles"], state["administration"], state["name"], state["enabled"]) == (
        ["expert", "reviewer"], "BE-BXL", "Eva E.", True)
    assert audit(app, "user.updated") == [("user.updated", "users", uid, admin_id(app), {
        "name": ["Eva", "Eva E."], "roles": [["expert"], ["expert", "reviewer"]], "administration": [None, "BE-BXL"]})]

    # Dropping the reviewer role drops the administration too.
    admin_client.post(f"/admin/users/{uid}", data=form("eva@example.org", "staff", name="Eva E.",
                                                       administration=brussels))
    state = user_state(app, "eva@example.org")
    assert (state["roles"], state["administration"]) == (["staff"], None)
    assert audit(app, "user.updated")[-1][4] == {"roles": [["expert", "reviewer"], ["staff"]],
                                                 "administration": ["BE-BXL", None]}
    history = admin_client.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert history.count("user.updated") == 2
    assert "Ada Admin" in history


def test_saving_without_a_change_writes_no_audit_entry(app, admin_client, make_user):
    uid = make_user("same@example.org", "expert", name="Same")
    assert admin_client.post(f"/admin/users/{uid}", data=form("same@example.org", "expert", name="Same")).status_code == 302
    assert audit(app, "user.updated") == []


def test_editing_to_a_reviewer_without_administration_is_refused(app, admin_client, make_user):
    uid = make_user("eva@example.org", "expert")
    response = admin_client.post(f"/admin/users/{uid}", data=form("eva@example.org", "reviewer"))
    assert response.status_code == 200
    assert "A reviewer must belong to an administration." in response.get_data(as_text=True)
    assert user_state(app, "eva@example.org")["roles"] == ["expert"]
    assert audit(app, "user.updated") == []


def test_editing_to_another_users_email_is_refused(app, admin_client, make_user):
    make_user("first@example.org", "staff")
    uid = make_user("second@example.org", "staff")
    response = admin_client.post(f"/admin/users/{uid}", data=form("first@example.org", "staff"))
    assert "A user with the e-mail address first@example.org already exists." in response.get_data(as_text=True)
    assert user_state(app, "second@example.org")["id"] == uid


def test_disabling_a_user_logs_them_out_everywhere(app, admin_client, make_user):
    uid = make_user("leaving@example.org", "staff")
    their_browser = app.test_client()
    assert login(their_browser, "leaving@example.org").status_code == 302
    assert their_browser.get("/notifications").status_code == 200
    response = admin_client.post(f"/admin/users/{uid}", data=form("leaving@example.org", "staff", enabled=False))
    assert response.status_code == 302
    state = user_state(app, "leaving@example.org")
    assert (state["enabled"], state["session_version"]) == (False, 2)
    assert their_browser.get("/notifications").status_code == 302
    assert login(app.test_client(), "leaving@example.org").status_code == 401
    assert audit(app, "user.updated")[-1][3:] == (admin_id(app), {"is_enabled": [True, False]})
    assert [u for u in listed_emails(admin_client.get("/admin/users?state=disabled").get_data(as_text=True))] == [
        "leaving@example.org"]


def test_admin_sets_a_new_password_which_revokes_sessions(app, admin_client, make_user):
    uid = make_user("forgot@example.org", "staff")
    their_browser = app.test_client()
    login(their_browser, "forgot@example.org")
    response = admin_client.post(f"/admin/users/{uid}", data=form("forgot@example.org", "staff",
                                                                   password="a brand new password"))
    assert response.status_code == 302
    assert their_browser.get("/").status_code == 302
    assert login(app.test_client(), "forgot@example.org").status_code == 401
    assert login(app.test_client(), "forgot@example.org", "a brand new password").status_code == 302
    assert audit(app, "user.password_changed") == [("user.password_changed", "users", uid, admin_id(app), {})]


def test_an_admin_cannot_remove_their_own_admin_role(app, admin_client):
    me = admin_id(app)
    response = admin_client.post(f"/admin/users/{me}", data=form("admin@example.org", "staff", name="Ada Admin"))
    assert response.status_code == 200
    assert "You cannot remove your own admin role or disable your own account." in response.get_data(as_text=True)
    assert user_state(app, "admin@example.org")["roles"] == ["admin"]
    assert audit(app, "user.updated") == []
    assert admin_client.get("/admin/users").status_code == 200  # still an admin


def test_an_admin_cannot_disable_themself(app, admin_client):
    me = admin_id(app)
    response = admin_client.post(f"/admin/users/{me}", data=form("admin@example.org", "admin", name="Ada Admin",
                                                                 enabled=False))
    assert response.status_code == 200
    assert "You cannot remove your own admin role or disable your own account." in response.get_data(as_text=True)
    state = user_state(app, "admin@example.org")
    assert (state["enabled"], state["session_version"]) == (True, 1)
    assert admin_client.get("/admin/users").status_code == 200  # still logged in


def test_an_admin_may_edit_another_admin_and_their_own_name(app, admin_client, make_user):
    other = make_user("second.admin@example.org", "admin")
    assert admin_client.post(f"/admin/users/{other}", data=form("second.admin@example.org", "staff")).status_code == 302
    assert user_state(app, "second.admin@example.org")["roles"] == ["staff"]
    me = admin_id(app)
    assert admin_client.post(f"/admin/users/{me}", data=form("admin@example.org", "admin", "staff",
                                                             name="Ada A.")).status_code == 302
    assert user_state(app, "admin@example.org")["roles"] == ["admin", "staff"]
    assert admin_client.get("/admin/users").status_code == 200


def test_editing_an_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999").status_code == 404
    assert admin_client.post("/admin/users/999999", data=form("x@example.org", "staff")).status_code == 404


# --- administrations ------------------------------------------------------------------------------
def administration_rows(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<tr><td><a href="/admin/administrations/\d+">([^<]+)</a></td><td>([^<]+)</td><td>(\d+)</td>',
                      html)


def test_administrations_list_shows_the_belgian_ones_with_their_users(app, admin_client, make_user):
    make_user("r1@example.org", "reviewer", administration="BE-VL")
    make_user("r2@example.org", "reviewer", administration="BE-VL")
    make_user("r3@example.org", "reviewer", administration="BE-WAL")
    rows = administration_rows(admin_client.get("/admin/administrations").get_data(as_text=True))
    assert sorted(rows) == sorted([
        ("BE-BXL", "Brussels administration (Brussels Environment)", "0"),
        ("BE-FED-FA", "Federal Public Service Foreign Affairs", "0"),
        ("BE-FED-ENV", "Federal Public Service Health, Food Chain Safety and Environment (DG Environment)", "0"),
        ("BE-VL", "Flemish administration (Department of Environment)", "2"),
        ("BE-WAL", "Walloon administration (SPW Agriculture, Natural Resources and Environment)", "1"),
    ])
    assert [name for _code, name, _count in rows] == sorted(name for _code, name, _count in rows)


def test_admin_creates_and_edits_an_administration(app, admin_client):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db

    assert admin_client.get("/admin/administrations/new").status_code == 200
    response = admin_client.post("/admin/administrations/new", data={
        "code": " be-dg ", "name": " German-speaking Community ", "is_active": "y"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/administrations"
    with app.app_context():
        created = db.session.scalar(sa.select(Administration).where(Administration.code == "BE-DG"))
        assert (created.name, created.is_active) == ("German-speaking Community", True)
        new_id = created.id
    assert audit(app, "administration.saved") == [("administration.saved", "administrations", new_id, admin_id(app),
                                                   {"code": "BE-DG", "name": "German-speaking Community"})]

    response = admin_client.post(f"/admin/administrations/{new_id}", data={
        "code": "BE-DG", "name": "Ministry of the German-speaking Community"})  # is_active unticked
    assert response.status_code == 302
    with app.app_context():
        edited = db.session.get(Administration, new_id)
        assert (edited.code, edited.name, edited.is_active) == ("BE-DG", "Ministry of the German-speaking Community",
                                                                False)
    assert len(audit(app, "administration.saved")) == 2
    assert audit(app, "administration.saved")[-1][3] == admin_id(app)
    # The new administration is offered on the user form.
    assert "Ministry of the German-speaking Community" in admin_client.get("/admin/users/new").get_data(as_text=True)


@pytest.mark.parametrize("data", [
    {"code": "BE-VL", "name": "Another Flemish department"},
    {"code": "be-vl", "name": "Another Flemish department"},
    {"code": "BE-NEW", "name": "Flemish administration (Department of Environment)"},
])
def test_a_duplicate_administration_is_refused(app, admin_client, data):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db

    response = admin_client.post("/admin/administrations/new", data={**data, "is_active": "y"})
    assert response.status_code == 200
    assert "Another administration already has this code or name." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Administration)) == 5
    assert audit(app, "administration.saved") == []


def test_renaming_an_administration_to_another_ones_code_is_refused(app, admin_client):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db

    wal = administration_id(app, "BE-WAL")
    response = admin_client.post(f"/admin/administrations/{wal}", data={"code": "BE-VL", "name": "Walloon"})
    assert "Another administration already has this code or name." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Administration, wal).code == "BE-WAL"
    # Saving an administration under its own code and name is not a clash.
    same = admin_client.post(f"/admin/administrations/{wal}", data={
        "code": "BE-WAL", "name": "Walloon administration (SPW Agriculture, Natural Resources and Environment)",
        "is_active": "y"})
    assert same.status_code == 302


def test_administration_pages_need_a_code_and_a_name(app, admin_client):
    response = admin_client.post("/admin/administrations/new", data={"code": "", "name": ""})
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("This field is required.") == 2
    assert admin_client.get("/admin/administrations/999999").status_code == 404


def test_the_admin_password_is_never_shown_on_the_form(app, admin_client):
    html = admin_client.get(f"/admin/users/{admin_id(app)}").get_data(as_text=True)
    assert PASSWORD not in html
    assert "$argon2" not in html
    assert re.search(r'<input[^>]*name="password"[^>]*value="[^"]+"', html) is None
