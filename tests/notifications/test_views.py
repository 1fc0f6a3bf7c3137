"""The inbox in the browser, as staff: list, detail, triage, manual entry, e-mail upload, dashboard."""
from __future__ import annotations

import datetime as dt
import io
import re
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from markupsafe import escape

from conftest import login

TODAY = dt.datetime.now(ZoneInfo("Europe/Brussels")).date()  # the display zone of TestConfig


# --- data ---------------------------------------------------------------------------------------------
def _at(day: dt.date | str | None) -> dt.datetime | None:
    if day is None:
        return None
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.timezone.utc)


def add(app, title: str, *, text: str = "", reference: str | None = None, published="2025-01-10", source=None,
        origin: str = "feed", status: str = "new", kind: str = "other", assignee=None, deadlines=(),
        removed=(), duplicate_of=None, original=None, national=None, summary_html=None, guid=None) -> int:
    """Store one notification exactly as described (no extraction): returns its id."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Deadline, Notification, NotificationKind, NotificationStatus, Origin
    from focalpoint.notifications.services import due_moment

    with app.app_context():
        n = Notification(
            source_id=source, origin=Origin(origin), guid=guid or f"urn:test:{title}", title=title, text=text,
            summary_html=summary_html if summary_html is not None else (f"<p>{escape(text)}</p>" if text else ""),
            published_at=_at(published), reference=reference, kind=NotificationKind(kind),
            kind_auto=NotificationKind(kind), kind_rule="test", status=NotificationStatus(status),
            assignee_id=assignee, duplicate_of_id=duplicate_of, original_id=original, related_references=[],
            national_deadline=national, is_national_deadline_manual=national is not None)
        for day, label in deadlines:
            n.deadlines.append(Deadline(date=day, due_at=due_moment(day, None, None), label=label,
                                        text=f"The {label} is due by {day:%d %B %Y}.", source="text"))
        for day, label in removed:
            n.deadlines.append(Deadline(date=day, due_at=due_moment(day, None, None), label=label, text="",
                                        source="text", is_removed=True))
        db.session.add(n)
        db.session.commit()
        return n.id


def add_source(app, name: str, **changes) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import add_source as svc_add_source

    with app.app_context():
        source = svc_add_source(name, f"https://{name.lower().replace(' ', '-')}.example.org/feed")
        for key, value in changes.items():
            setattr(source, key, value)
        db.session.commit()
        return source.id


def ingest(app, source_id: int, *entries) -> list[int]:
    """Ingest feed entries (guid, title, text[, published, summary_html]) through ingest_entries."""
    from focalpoint.extensions import db
    from focalpoint.notifications.feeds import FeedEntry
    from focalpoint.notifications.models import FeedSource, Notification
    from focalpoint.notifications.services import ingest_entries

    with app.app_context():
        source = db.session.get(FeedSource, source_id)
        items = []
        for guid, title, text, *rest in entries:
            published = _at(rest[0]) if rest else _at("2025-01-10")
            html = rest[1] if len(rest) > 1 else f"<p>{escape(text)}</p>"
            items.append(FeedEntry(guid=guid, link=f"https://www.ipbes.net/n/{guid}", title=title,
                                   summary_html=html, text=text, published=published))
        ingest_entries(source, items)
        db.session.commit()
        return [db.session.scalar(sa.select(Notification.id).where(Notification.source_id == source_id,
                                                                     Notification.guid == e.guid)) for e in items]


def user_id(app, email: str) -> int:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def get(app, notification_id: int):
    """A detached snapshot of a notification with its deadlines and notes."""
    from sqlalchemy.orm import selectinload

    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    with app.app_context():
        n = db.session.scalar(sa.select(Notification).where(Notification.id == notification_id)
                              .options(selectinload(Notification.deadlines), selectinload(Notification.notes)))
        db.session.expunge_all()
        return n


def audit(app, notification_id: int) -> list[tuple]:
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.object_type == "notifications",
                                                              AuditEntry.object_id == notification_id)
                                  .order_by(AuditEntry.id)).all()
        return [(e.action, e.actor.email if e.actor else None, e.data) for e in rows]


def count(app, model_name: str = "Notification") -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications import models

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(getattr(models, model_name)))


def listed(client, query: str = "") -> list[int]:
    response = client.get("/notifications" + query)
    assert response.status_code == 200
    body = response.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(x) for x in re.findall(r'<a href="/notifications/(\d+)">', body)]


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip()
            for m in re.findall(r'<div class="alert alert-\w+">(.*?)</div>', html, flags=re.S)]


def follow(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


# =====================================================================================================
# List: search, filters, sorting, pagination
# =====================================================================================================
def test_search_matches_title_reference_and_text_case_insensitively(app, staff_client):
    a = add(app, "Call for nominations: pollinators assessment")
    b = add(app, "Call for offers", reference="EM/2025/05")
    c = add(app, "Call for inputs", text="Contributions on mangroves and coastal wetlands are invited.")
    d = add(app, "Renewable energy at 100% and more_or_less", text="nothing else")
    assert listed(staff_client, "?q=POLLINATORS") == [a]
    assert listed(staff_client, "?q=em/2025/05") == [b]
    assert listed(staff_client, "?q=Mangroves") == [c]
    assert listed(staff_client, "?q=call+for") == [c, b, a]  # same day: newest id first
    assert listed(staff_client, "?q=%25") == [d]  # "%" is a literal, not a wildcard
    assert listed(staff_client, "?q=le_e") == []  # "_" too (as a wildcard it would match "Renewable energy")
    assert listed(staff_client, "?q=re_or") == [d]
    html = staff_client.get("/notifications?q=no+such+thing").get_data(as_text=True)
    assert "No notification matches." in html and "0–0 of 0" in html


@pytest.fixture
def filter_data(app, make_user):
    """Six notifications differing in every filtered attribute (see the table in each case)."""
    me = user_id(app, "staff@example.org")
    other = make_user("other@example.org", "staff")
    s1, s2 = add_source(app, "Secretariat"), add_source(app, "Relay")
    past, soon = TODAY - dt.timedelta(days=10), TODAY + dt.timedelta(days=10)
    ids = {}
    ids["n1"] = add(app, "n1", source=s1, kind="expert_call", assignee=me, deadlines=[(soon, "nomination")],
                    published="2025-01-10")
    ids["n2"] = add(app, "n2", source=s2, kind="review", status="in_progress", assignee=other,
                    deadlines=[(past, "comments")], published="2025-02-10")
    ids["n3"] = add(app, "n3", origin="manual", status="done", published="2025-03-10")
    ids["n4"] = add(app, "n4", origin="email", kind="expert_call", status="archived",
                    deadlines=[(soon, "nomination")], published="2025-04-10")
    ids["n5"] = add(app, "n5", source=s1, kind="expert_call", deadlines=[(soon, "nomination")],
                    duplicate_of=ids["n1"], published="2025-01-11")
    ids["n6"] = add(app, "n6", source=s1, kind="plenary", removed=[(soon, "registration")], published="2024-12-31")
    return ids, {"S1": s1, "S2": s2}


FILTER_CASES = [
    ("", ["n1", "n2", "n3", "n6"]),  # archived and relayed copies hidden by default
    ("status=all", ["n1", "n2", "n3", "n4", "n6"]),
    ("status=new", ["n1", "n6"]),
    ("status=in_progress", ["n2"]),
    ("status=done", ["n3"]),
    ("status=archived", ["n4"]),
    ("status=bogus", ["n1", "n2", "n3", "n6"]),
    ("kind=expert_call", ["n1"]),
    ("kind=review", ["n2"]),
    ("kind=plenary", ["n6"]),
    ("kind=event", []),
    ("source=S1", ["n1", "n6"]),
    ("source=S2", ["n2"]),
    ("source=manual", ["n3"]),
    ("source=email", []),
    ("source=email&status=all", ["n4"]),
    ("deadline=yes", ["n1", "n2"]),
    ("deadline=no", ["n3", "n6"]),  # a deadline staff removed does not count
    ("deadline=upcoming", ["n1"]),
    ("assignee=me", ["n1"]),
    ("assignee=none", ["n3", "n6"]),
    ("from=2025-02-01", ["n2", "n3"]),
    ("to=2025-01-31", ["n1", "n6"]),
    ("from=2025-01-10&to=2025-02-10", ["n1", "n2"]),  # both ends inclusive
    ("from=not-a-date", ["n1", "n2", "n3", "n6"]),
    ("copies=1", ["n1", "n2", "n3", "n5", "n6"]),
    # AND combinations
    ("kind=expert_call&copies=1", ["n1", "n5"]),
    ("kind=expert_call&copies=1&status=all", ["n1", "n4", "n5"]),
    ("kind=expert_call&copies=1&status=all&deadline=upcoming&assignee=none", ["n4", "n5"]),
    ("kind=expert_call&copies=1&status=all&deadline=upcoming&assignee=none&source=S1", ["n5"]),
    ("kind=expert_call&copies=1&status=all&deadline=upcoming&assignee=none&source=email", ["n4"]),
    ("kind=expert_call&copies=1&status=all&source=email&from=2025-05-01", []),
    ("source=S1&deadline=no&status=new", ["n6"]),
    ("source=S1&deadline=no&status=done", []),
    ("assignee=me&status=new&kind=expert_call&deadline=upcoming&from=2025-01-10&to=2025-01-10", ["n1"]),
]


def test_filters_and_their_combination(app, staff_client, filter_data):
    ids, sources = filter_data
    by_id = {v: k for k, v in ids.items()}
    got = {}
    for query, _expected in FILTER_CASES:
        url = query
        for name, source_id in sources.items():
            url = url.replace(f"source={name}", f"source={source_id}")
        got[query] = sorted(by_id[i] for i in listed(staff_client, "?" + url))
    assert got == dict(FILTER_CASES)


def test_filter_form_keeps_the_chosen_values(app, staff_client, filter_data):
    ids, sources = filter_data
    html = staff_client.get(f"/notifications?kind=review&status=all&source={sources['S2']}&deadline=upcoming"
                            "&assignee=me&from=2025-01-01&to=2025-12-31&copies=1").get_data(as_text=True)
    assert '<option value="review" selected>' in html
    assert '<option value="all" selected>' in html
    assert f'<option value="{sources["S2"]}" selected>Relay</option>' in html
    assert '<option value="upcoming" selected>' in html
    assert '<option value="me" selected>' in html
    assert 'name="from" value="2025-01-01"' in html and 'name="to" value="2025-12-31"' in html
    assert re.search(r'id="copies" name="copies" value="1" checked', html)


@pytest.fixture
def sort_data(app):
    soon = lambda days: TODAY + dt.timedelta(days=days)  # noqa: E731
    ids = {}
    ids["a"] = add(app, "Alpha", reference="EM/2023/10", published="2025-01-05", kind="expert_call",
                   deadlines=[(soon(30), "nomination")])
    ids["b"] = add(app, "Bravo", published="2025-03-05", kind="review", status="done",
                   deadlines=[(soon(-3), "comments"), (soon(5), "comments")])
    ids["c"] = add(app, "Charlie", reference="EM/2025/01", published="2025-02-05", kind="plenary",
                   status="in_progress")
    ids["d"] = add(app, "Delta", reference="LE/2015-16", published=None, kind="event",
                   deadlines=[(soon(15), "registration")], removed=[(soon(1), "registration")])
    ids["e"] = add(app, "Echo", reference="EM/2024/02", published="2024-12-01", kind="fellow_call", status="done",
                   deadlines=[(soon(-20), "application")])
    return ids


# Expected orders: empty values last in both directions, ties broken by the newest id first.
SORTS = {
    ("published", "asc"): "eacbd", ("published", "desc"): "bcaed",
    ("title", "asc"): "abcde", ("title", "desc"): "edcba",
    ("reference", "asc"): "aecdb", ("reference", "desc"): "dceab",
    ("deadline", "asc"): "bdaec", ("deadline", "desc"): "adbec",
    ("status", "asc"): "ebcda", ("status", "desc"): "daceb",
    ("kind", "asc"): "daecb", ("kind", "desc"): "bcead",
}


def test_every_sort_key_both_directions(app, staff_client, sort_data):
    names = {v: k for k, v in sort_data.items()}
    got = {}
    for key, direction in SORTS:
        got[key, direction] = "".join(names[i] for i in listed(staff_client, f"?sort={key}&dir={direction}"))
        html = staff_client.get(f"/notifications?sort={key}&dir={direction}").get_data(as_text=True)
        assert re.findall(r'aria-sort="(\w+)"', html).count("none") == 5
        header = html.split(f'href="/notifications?sort={key}&amp;dir=', 1)[0].rsplit("<th", 1)[1]
        assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in header
    assert got == SORTS


def test_default_and_unknown_sort_is_newest_first(app, staff_client, sort_data):
    names = {v: k for k, v in sort_data.items()}
    assert "".join(names[i] for i in listed(staff_client)) == "bcaed"
    assert "".join(names[i] for i in listed(staff_client, "?sort=id;drop table&dir=sideways")) == "bcaed"


def test_pagination_of_sixty_notifications(app, staff_client):
    start = dt.date(2025, 1, 1)
    ids = [add(app, f"Notification {i:02d}", published=start + dt.timedelta(days=i)) for i in range(60)]
    assert listed(staff_client) == ids[::-1][:25]
    assert listed(staff_client, "?page=2") == ids[::-1][25:50]
    page3 = staff_client.get("/notifications?page=3").get_data(as_text=True)
    assert listed(staff_client, "?page=3") == ids[9::-1]  # the ten oldest
    assert "51–60 of 60" in page3
    assert '<a class="page-link" href="/notifications?page=3" aria-current="page">3</a>' in page3
    assert listed(staff_client, "?page=99") == ids[9::-1]  # past the end: the last page
    assert listed(staff_client, "?page=abc") == ids[::-1][:25]
    assert listed(staff_client, "?page=2&sort=title&dir=asc") == ids[25:50]


# =====================================================================================================
# Detail
# =====================================================================================================
def test_detail_shows_sanitised_text_reference_deadlines_and_related(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    source = add_source(app, "IPBES")
    relay = add_source(app, "Relay")
    hostile_html = ('<p>Dear <b>colleagues</b>,</p><script>alert("x")</script>'
                    '<img src="x" onerror="alert(1)"><a href="javascript:alert(2)">click</a>'
                    '<p>Nominations must be submitted by 15 March 2025 and approved by 29 March 2025.</p>')
    [original] = ingest(app, source, (
        "urn:ipbes:7", "EM/2025/07: Call for nominations of experts for the second nexus assessment",
        "Dear colleagues, Nominations must be submitted by 15 March 2025 and approved by 29 March 2025.",
        "2025-01-10", hostile_html))
    [reminder] = ingest(app, source, (
        "urn:ipbes:12", "EM/2025/12: Reminder: call for nominations of experts for the second nexus assessment",
        "With reference to notification EM/2025/07, nominations must be submitted by 15 March 2025.",
        "2025-03-01"))
    [copy] = ingest(app, relay, ("https://relay.example.org/991", "Relayed: call for nominations (EM/2025/07)",
                                 "Reposted. Nominations must be submitted by 15 March 2025.", "2025-01-11"))

    html = staff_client.get(f"/notifications/{original}").get_data(as_text=True)
    body = html.split('<div class="notification-body border rounded p-3">', 1)[1].split("</div>", 1)[0]
    assert "<p>Dear <b>colleagues</b>,</p>" in body
    assert "<script" not in body and "onerror" not in body and "javascript:" not in body and "alert(" not in body
    assert "<dd class=\"col-sm-7\">EM/2025/07</dd>" in html
    with app.app_context():
        n = db.session.get(Notification, original)
        deadlines = [(d.date, d.label, d.text) for d in n.deadlines]
        national = n.national_deadline
    assert [d[:2] for d in deadlines] == [(dt.date(2025, 3, 15), "nomination"),
                                          (dt.date(2025, 3, 29), "nomination")]
    for day, label, text in deadlines:
        assert f'<div class="source-sentence">{escape(text)}</div>' in html
        assert f'value="{day.isoformat()}"' in html and f'value="{label}"' in html
    assert national == dt.date(2025, 3, 3)  # 10 working days before Saturday 15 March
    assert "National deadline: <strong>Mar 3, 2025</strong>" in html
    assert "(computed from the earliest secretariat deadline)" in html
    assert f'Reminder: <a href="/notifications/{reminder}">' in html
    assert f'Also received from Relay: <a href="/notifications/{copy}">' in html

    reminder_html = staff_client.get(f"/notifications/{reminder}").get_data(as_text=True)
    assert f'Reminder of <a href="/notifications/{original}">EM/2025/07 ' in reminder_html
    assert '<dd class="col-sm-7">EM/2025/07</dd>' in reminder_html  # cites
    copy_html = staff_client.get(f"/notifications/{copy}").get_data(as_text=True)
    assert f'Relayed copy of <a href="/notifications/{original}">' in copy_html
    assert staff_client.get("/notifications/999999").status_code == 404


# =====================================================================================================
# Triage
# =====================================================================================================
def _transitions():
    from focalpoint.notifications.models import STATUS_TRANSITIONS, NotificationStatus

    for old in NotificationStatus:
        for new in NotificationStatus:
            if old != new:
                yield pytest.param(old.value, new.value, new in STATUS_TRANSITIONS[old],
                                   id=f"{old.value}->{new.value}")


@pytest.mark.parametrize("old,new,allowed", list(_transitions()))
def test_status_transitions_follow_the_table(app, staff_client, old, new, allowed):
    n = add(app, "A call", status=old)
    html = follow(staff_client, staff_client.post(f"/notifications/{n}/status", data={"status": new}))
    if allowed:
        assert get(app, n).status == new
        assert audit(app, n) == [("notification.status", "staff@example.org", {"previous": old, "new": new})]
        labels = {"new": "New", "in_progress": "In progress", "done": "Done", "archived": "Archived"}
        assert flashes(html) == [f"Status: {labels[new]}."]
    else:
        assert get(app, n).status == old
        assert audit(app, n) == []
        assert flashes(html) == [f"A notification cannot go from {old} to {new}."]


def test_status_form_offers_only_allowed_moves(app, staff_client):
    from focalpoint.notifications.models import STATUS_TRANSITIONS, NotificationStatus

    for status in NotificationStatus:
        n = add(app, f"In state {status.value}", status=status.value)
        html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
        select = html.split('<select class="form-select" id="status" name="status">', 1)[1].split("</select>")[0]
        offered = set(re.findall(r'<option value="(\w+)"', select))
        assert offered == {status.value} | {s.value for s in STATUS_TRANSITIONS[status]}


def test_unknown_or_same_status_changes_nothing(app, staff_client):
    n = add(app, "A call")
    html = follow(staff_client, staff_client.post(f"/notifications/{n}/status", data={"status": "deleted"}))
    assert flashes(html) == ["Status: Not a valid choice."]
    staff_client.post(f"/notifications/{n}/status", data={"status": "new"})
    assert get(app, n).status == "new" and audit(app, n) == []


def test_kind_override_and_back_to_the_classifier(app, staff_client):
    n = add(app, "A call", kind="expert_call")
    follow(staff_client, staff_client.post(f"/notifications/{n}/kind", data={"kind": "review"}))
    got = get(app, n)
    assert (got.kind, got.kind_auto, got.is_kind_overridden) == ("review", "expert_call", True)
    html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    assert "Set by staff; the classifier said Call for experts (test)." in html
    follow(staff_client, staff_client.post(f"/notifications/{n}/kind", data={"kind": "expert_call"}))
    got = get(app, n)
    assert (got.kind, got.is_kind_overridden) == ("expert_call", False)
    assert "Classified by the rule: test" in staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    common = {"classifier": "expert_call", "rule": "test"}
    assert audit(app, n) == [
        ("notification.kind", "staff@example.org", {"previous": "expert_call", "new": "review", **common}),
        ("notification.kind", "staff@example.org", {"previous": "review", "new": "expert_call", **common}),
    ]
    staff_client.post(f"/notifications/{n}/kind", data={"kind": "not_a_kind"})
    assert get(app, n).kind == "expert_call" and len(audit(app, n)) == 2


def test_assignment_only_to_staff(app, staff_client, make_user):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.notifications import services as svc
    from focalpoint.notifications.models import Notification

    colleague = make_user("colleague@example.org", "staff", name="Colin Colleague")
    boss = make_user("boss@example.org", "admin")
    expert = make_user("expert@example.org", "expert")
    reviewer = make_user("reviewer@example.org", "reviewer")
    disabled = make_user("gone@example.org", "staff")
    with app.app_context():
        db.session.get(User, disabled).is_enabled = False
        db.session.commit()
    n = add(app, "A call")

    html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    select = html.split('id="assignee_id"', 1)[1].split("</select>")[0]
    assert sorted(int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', select)) == sorted(
        [0, colleague, boss, user_id(app, "staff@example.org")])

    follow(staff_client, staff_client.post(f"/notifications/{n}/assignee", data={"assignee_id": colleague}))
    assert get(app, n).assignee_id == colleague
    assert listed(staff_client, "?assignee=none") == []
    for refused in (expert, reviewer, disabled):
        html = follow(staff_client, staff_client.post(f"/notifications/{n}/assignee", data={"assignee_id": refused}))
        assert flashes(html) == ["Assigned to: Not a valid choice."]
        assert get(app, n).assignee_id == colleague
    follow(staff_client, staff_client.post(f"/notifications/{n}/assignee", data={"assignee_id": 0}))
    assert get(app, n).assignee_id is None
    assert audit(app, n) == [
        ("notification.assigned", "staff@example.org", {"previous": None, "new": "colleague@example.org"}),
        ("notification.assigned", "staff@example.org", {"previous": "colleague@example.org", "new": None}),
    ]
    with app.app_context():  # the service refuses too, whatever the form offers
        with pytest.raises(svc.NotificationError, match="Only focal point staff can be assigned."):
            svc.assign(db.session.get(Notification, n), db.session.get(User, expert), actor=None)


def test_national_deadline_set_by_hand_and_back_to_computed(app, staff_client):
    n = add(app, "A call", deadlines=[(dt.date(2025, 3, 15), "nomination")])
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.notifications.models import Notification
        from focalpoint.notifications.services import recompute_national_deadline

        recompute_national_deadline(db.session.get(Notification, n))
        db.session.commit()
    assert get(app, n).national_deadline == dt.date(2025, 3, 3)
    follow(staff_client, staff_client.post(f"/notifications/{n}/national-deadline",
                                           data={"national_deadline": "2025-02-20"}))
    got = get(app, n)
    assert (got.national_deadline, got.is_national_deadline_manual) == (dt.date(2025, 2, 20), True)
    assert "(set by hand)" in staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    follow(staff_client, staff_client.post(f"/notifications/{n}/national-deadline", data={"national_deadline": ""}))
    got = get(app, n)
    assert (got.national_deadline, got.is_national_deadline_manual) == (dt.date(2025, 3, 3), False)
    assert audit(app, n) == [
        ("notification.national_deadline", "staff@example.org",
         {"previous": "2025-03-03", "new": "2025-02-20", "manual": True}),
        ("notification.national_deadline", "staff@example.org",
         {"previous": "2025-02-20", "new": "2025-03-03", "manual": False}),
    ]
    html = follow(staff_client, staff_client.post(f"/notifications/{n}/national-deadline",
                                                  data={"national_deadline": "31/02/2025"}))
    assert flashes(html) == ["National deadline: Not a valid date value."]
    assert get(app, n).national_deadline == dt.date(2025, 3, 3)


def test_deadline_add_correct_remove_restore(app, staff_client):
    n = add(app, "A call", deadlines=[(dt.date(2025, 3, 15), "nomination")])
    [extracted] = get(app, n).deadlines
    base = f"/notifications/{n}/deadlines"

    follow(staff_client, staff_client.post(base, data={"date": "2025-04-01", "time": "17:00", "label": "approval"}))
    got = get(app, n)
    added = next(d for d in got.deadlines if d.source == "staff")
    assert (added.date, added.time, added.label, added.text) == (dt.date(2025, 4, 1), dt.time(17), "approval", "")
    assert added.due_at == dt.datetime(2025, 4, 1, 15, 0, tzinfo=dt.timezone.utc)  # 17:00 in Bonn (CEST)

    follow(staff_client, staff_client.post(f"{base}/{extracted.id}",
                                           data={"date": "2025-03-14", "time": "", "label": "nominations"}))
    got = get(app, n)
    corrected = next(d for d in got.deadlines if d.id == extracted.id)
    assert (corrected.date, corrected.time, corrected.label, corrected.is_corrected) == (
        dt.date(2025, 3, 14), None, "nominations", True)
    assert corrected.text == "The nomination is due by 15 March 2025."  # the sentence stays
    assert got.national_deadline == dt.date(2025, 2, 28)

    follow(staff_client, staff_client.post(f"{base}/{extracted.id}/remove"))
    got = get(app, n)
    assert [(d.id, d.is_removed) for d in got.deadlines] == [(extracted.id, True), (added.id, False)]
    assert got.national_deadline == dt.date(2025, 3, 18)  # now from 1 April
    html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    assert 'class="text-decoration-line-through text-body-secondary"' in html

    follow(staff_client, staff_client.post(f"{base}/{extracted.id}/remove"))
    got = get(app, n)
    assert [(d.id, d.is_removed) for d in got.deadlines] == [(extracted.id, False), (added.id, False)]
    assert got.national_deadline == dt.date(2025, 2, 28)

    did, aid = extracted.id, added.id
    assert audit(app, n) == [
        ("notification.deadline_added", "staff@example.org",
         {"deadline_id": aid, "date": "2025-04-01", "time": "17:00:00", "label": "approval"}),
        ("notification.deadline_corrected", "staff@example.org",
         {"deadline_id": did, "before": {"date": "2025-03-15", "time": None, "label": "nomination"},
          "after": {"date": "2025-03-14", "time": None, "label": "nominations"}}),
        ("notification.deadline_removed", "staff@example.org",
         {"deadline_id": did, "date": "2025-03-14", "label": "nominations"}),
        ("notification.deadline_restored", "staff@example.org",
         {"deadline_id": did, "date": "2025-03-14", "label": "nominations"}),
    ]
    other = add(app, "Another call", deadlines=[(dt.date(2025, 5, 1), "comments")])
    [foreign] = get(app, other).deadlines
    assert staff_client.post(f"{base}/{foreign.id}/remove").status_code == 404  # not this notification's
    html = follow(staff_client, staff_client.post(base, data={"date": "", "label": "x"}))
    assert flashes(html) == ["Date: This field is required."]
    assert len(get(app, n).deadlines) == 2


def test_notes_are_added_with_their_author(app, staff_client):
    n = add(app, "A call")
    follow(staff_client, staff_client.post(f"/notifications/{n}/notes", data={"body": "Ask <b>VLO</b> first."}))
    html = follow(staff_client, staff_client.post(f"/notifications/{n}/notes", data={"body": "  "}))
    assert flashes(html) == ["Note: This field is required."]
    got = get(app, n)
    assert [(note.body, note.author_id) for note in got.notes] == [
        ("Ask <b>VLO</b> first.", user_id(app, "staff@example.org"))]
    html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    assert '<div class="pre-wrap">Ask &lt;b&gt;VLO&lt;/b&gt; first.</div>' in html
    assert "Stella Staff ·" in html
    assert audit(app, n) == [("notification.note_added", "staff@example.org", {"note_id": got.notes[0].id})]


def test_history_lists_every_change_with_its_actor(app, staff_client):
    n = add(app, "A call")
    staff_client.post(f"/notifications/{n}/status", data={"status": "in_progress"})
    staff_client.post(f"/notifications/{n}/kind", data={"kind": "event"})
    html = staff_client.get(f"/notifications/{n}").get_data(as_text=True)
    history = html.split('id="history-h"', 1)[1]
    lines = [line.split(" · ", 1)[1] for line in re.findall(r"<li>([^<]*)</li>", history)]
    assert lines == ["Stella Staff · Kind: Other → Event", "Stella Staff · Status: New → In progress",
                     "received"]  # newest first


# =====================================================================================================
# Manual entry and e-mail upload
# =====================================================================================================
def test_manual_entry_runs_extraction(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    response = staff_client.post("/notifications/new", data={
        "title": "EM/2025/15: Call for nominations of experts for the spatial planning assessment",
        "link": "https://www.ipbes.net/em-2025-15", "published": "2025-02-03",
        "text": "Governments are invited to nominate experts.\n\nNominations must be submitted by 28 March 2025."})
    with app.app_context():
        n = db.session.scalar(sa.select(Notification))
        assert response.headers["Location"] == f"/notifications/{n.id}"
        assert (n.origin, n.source_id, n.reference, n.kind, n.status) == ("manual", None, "EM/2025/15",
                                                                          "expert_call", "new")
        assert n.published_at == dt.datetime(2025, 2, 3, 12, tzinfo=dt.timezone.utc)
        assert [(d.date, d.label) for d in n.deadlines] == [(dt.date(2025, 3, 28), "nomination")]
        assert n.summary_html == ("<p>Governments are invited to nominate experts.</p>"
                                  "<p>Nominations must be submitted by 28 March 2025.</p>")
        assert n.guid.startswith("manual:")
        nid = n.id
    assert audit(app, nid) == [("notification.created_manually", "staff@example.org", {
        "title": "EM/2025/15: Call for nominations of experts for the spatial planning assessment"})]
    assert listed(staff_client, "?source=manual") == [nid]


@pytest.mark.parametrize("data,field,message", [
    ({"title": "  ", "text": "x"}, "title", "This field is required."),
    ({"title": "A call", "link": "javascript:alert(1)"}, "link", "Invalid URL."),
    ({"title": "A call", "published": "yesterday"}, "published", "Not a valid date value."),
])
def test_manual_entry_refuses_bad_input(app, staff_client, data, field, message):
    response = staff_client.post("/notifications/new", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.findall(r'<div id="(\w+)-errors" class="invalid-feedback">([^<]*)</div>', html) == [(field, message)]
    assert count(app) == 0


def eml(subject="EM/2025/20: Call for nominations of experts for the nexus assessment", *, plain=None, html=None,
        charset="utf-8", message_id="<em-2025-20@ipbes.net>", date="Mon, 03 Feb 2025 10:00:00 +0100") -> bytes:
    msg = EmailMessage()
    msg["From"] = "IPBES Secretariat <secretariat@ipbes.net>"
    msg["To"] = "focalpoint@example.be"
    msg["Subject"] = subject
    if date:
        msg["Date"] = date
    if message_id:
        msg["Message-ID"] = message_id
    if plain is not None:
        msg.set_content(plain, charset=charset)
    if html is not None:
        if plain is None:
            msg.set_content(html, subtype="html", charset=charset)
        else:
            msg.add_alternative(html, subtype="html", charset=charset)
    return bytes(msg)


def upload(client, raw: bytes, filename="notification.eml"):
    return client.post("/notifications/upload", data={"file": (io.BytesIO(raw), filename)},
                       content_type="multipart/form-data")


PLAIN = "Dear National Focal Points,\n\nNominations must be submitted by 14 March 2025.\n\nIPBES secretariat"


@pytest.mark.parametrize("kind", ["plain", "html only", "multipart", "forwarded", "latin-1"])
def test_email_upload_is_stored_and_extracted(app, staff_client, kind):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    title = "EM/2025/20: Call for nominations of experts for the nexus assessment"
    if kind == "plain":
        raw, text = eml(plain=PLAIN), "Dear National Focal Points, Nominations must be submitted by 14 March 2025."
    elif kind == "html only":
        raw = eml(html='<html><body><p>Dear <b>National Focal Points</b>,</p><script>alert(1)</script>'
                       '<p onclick="x()">Nominations must be submitted by 14 March 2025.</p></body></html>')
        text = "Dear National Focal Points, Nominations must be submitted by 14 March 2025."
    elif kind == "multipart":
        raw = eml(plain=PLAIN, html="<p>HTML version: nominations by 30 March 2025.</p>")
        text = "Dear National Focal Points, Nominations must be submitted by 14 March 2025."
    elif kind == "forwarded":
        raw = eml(subject="Fwd: FW: " + title, plain=PLAIN)
        text = "Dear National Focal Points, Nominations must be submitted by 14 March 2025."
    else:
        raw = eml(plain="Chères et chers correspondants,\n\nDate limite des candidatures : "
                        "nominations must be submitted by 14 March 2025.\n\nSecrétariat", charset="iso-8859-1")
        assert b"Ch\xe8res" in raw or b"=E8" in raw  # really not UTF-8
        text = "Chères et chers correspondants, Date limite des candidatures"
    response = upload(staff_client, raw)
    with app.app_context():
        n = db.session.scalar(sa.select(Notification))
        assert response.status_code == 302 and response.headers["Location"] == f"/notifications/{n.id}"
        assert (n.origin, n.title, n.reference, n.kind) == ("email", title, "EM/2025/20", "expert_call")
        assert n.text.startswith(text)
        assert n.guid == "email:<em-2025-20@ipbes.net>"
        assert n.published_at == dt.datetime(2025, 2, 3, 9, tzinfo=dt.timezone.utc)
        assert [(d.date, d.label) for d in n.deadlines] == [(dt.date(2025, 3, 14), "nomination")]
        assert "<script" not in n.summary_html and "onclick" not in n.summary_html
        nid = n.id
    page = follow(staff_client, response)
    assert flashes(page) == ["Notification added from the e-mail."]
    if kind == "html only":
        assert "<p>Dear <b>National Focal Points</b>,</p>" in page
    assert audit(app, nid) == [("notification.created_from_email", "staff@example.org", {"title": title})]
    assert listed(staff_client, "?source=email") == [nid]


@pytest.mark.parametrize("case,message", [
    ("garbage", "This file is not an e-mail message (it has no subject)."),
    ("empty", "The file is empty."),
    ("blank", "The file is empty."),
    ("oversize", "The e-mail is too large."),
    ("no file", "Forwarded e-mail (.eml): This field is required."),
])
def test_bad_email_upload_gives_a_clear_message_and_stores_nothing(app, staff_client, case, message):
    raw = {"garbage": bytes((i * 97 + 13) % 256 for i in range(4000)), "empty": b"", "blank": b" \r\n\t\n",
           "oversize": eml(plain=PLAIN + "\n" + "x" * (app.config["MAX_EML_BYTES"] + 10))}.get(case)
    if case == "no file":
        response = staff_client.post("/notifications/upload", data={}, content_type="multipart/form-data")
    else:
        response = upload(staff_client, raw)
    assert response.status_code == 400
    assert flashes(response.get_data(as_text=True)) == [message]
    assert count(app) == 0
    assert count(app, "NotificationNote") == 0


def test_same_email_twice_is_refused(app, staff_client):
    raw = eml(plain=PLAIN)
    follow(staff_client, upload(staff_client, raw))
    again = upload(staff_client, raw)
    assert again.status_code == 400
    assert flashes(again.get_data(as_text=True)) == ["This e-mail was already added."]
    assert count(app) == 1
    # without a Message-ID the bytes decide
    bare = eml(plain=PLAIN, message_id=None, subject="Call for inputs on capacity building")
    follow(staff_client, upload(staff_client, bare))
    assert flashes(upload(staff_client, bare).get_data(as_text=True)) == ["This e-mail was already added."]
    assert count(app) == 2


# =====================================================================================================
# Access
# =====================================================================================================
INBOX_REQUESTS = [
    ("GET", "/notifications"), ("GET", "/notifications/{n}"), ("GET", "/notifications/new"),
    ("POST", "/notifications/new"), ("POST", "/notifications/upload"), ("POST", "/notifications/{n}/status"),
    ("POST", "/notifications/{n}/kind"), ("POST", "/notifications/{n}/assignee"),
    ("POST", "/notifications/{n}/national-deadline"), ("POST", "/notifications/{n}/deadlines"),
    ("POST", "/notifications/{n}/deadlines/{d}"), ("POST", "/notifications/{n}/deadlines/{d}/remove"),
    ("POST", "/notifications/{n}/notes"), ("GET", "/feeds"),
]


@pytest.mark.parametrize("role", ["expert", "reviewer"])
def test_experts_and_reviewers_are_refused_the_inbox(app, make_user, role):
    n = add(app, "A call", deadlines=[(dt.date(2025, 3, 15), "nomination")])
    d = get(app, n).deadlines[0].id
    make_user("someone@example.org", role)
    client = app.test_client()
    assert login(client, "someone@example.org").status_code == 302
    data = {"status": "done", "kind": "event", "assignee_id": "0", "national_deadline": "2025-01-01",
            "date": "2025-01-01", "label": "x", "body": "x", "title": "x"}
    for method, path in INBOX_REQUESTS:
        response = client.open(path.format(n=n, d=d), method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    got = get(app, n)
    assert (got.status, got.kind, len(got.deadlines), got.notes, got.national_deadline) == (
        "new", "other", 1, [], None)
    assert count(app) == 1 and audit(app, n) == []
    home = client.get("/").get_data(as_text=True)
    assert "Due next" not in home and "A call" not in home
    assert 'href="/notifications"' not in home


def test_anonymous_users_are_sent_to_login(app, client):
    n = add(app, "A call")
    for path in ("/", "/notifications", f"/notifications/{n}", "/notifications/new"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert client.post(f"/notifications/{n}/status", data={"status": "done"}).status_code == 302
    assert get(app, n).status == "new"


# =====================================================================================================
# Dashboard
# =====================================================================================================
def _due_rows(section: str) -> list[tuple[str, int]]:
    rows = re.findall(r'<td>(<strong>National deadline</strong>|Secretariat: [^<]*)</td>\s*'
                      r'<td><a href="/notifications/(\d+)">', section)
    return [("national" if "National" in what else what.split(": ", 1)[1].lower(), int(nid)) for what, nid in rows]


def test_dashboard_shows_what_is_due_new_notifications_and_failing_sources(app, staff_client):
    day = lambda n: TODAY + dt.timedelta(days=n)  # noqa: E731
    broken = add_source(app, "Broken relay", last_error="HTTP 404 Not Found",
                        last_error_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), error_count=2)
    add_source(app, "Healthy")
    a = add(app, "A nomination call", status="new", deadlines=[(day(20), "nomination")], national=day(6),
            published=day(-1))
    b = add(app, "B review", status="in_progress", deadlines=[(day(3), "comments")], published=day(-30))
    add(app, "C done", status="done", deadlines=[(day(1), "comments")], national=day(0))
    d = add(app, "D late call", status="new", deadlines=[(day(-4), "application"), (day(40), "approval")],
            national=day(-10), published=day(-2))
    add(app, "E archived", status="archived", deadlines=[(day(-2), "offers")], national=day(-3))
    add(app, "F relayed copy", status="new", deadlines=[(day(2), "nomination")], duplicate_of=a,
        published=day(0))
    add(app, "G removed", status="in_progress", removed=[(day(4), "comments")])

    html = staff_client.get("/").get_data(as_text=True)
    upcoming, overdue = html.split('id="due-h"', 1)[1].split('id="overdue-h"', 1)
    overdue = overdue.split('id="new-h"', 1)[0]
    assert _due_rows(upcoming) == [("comments", b), ("national", a), ("nomination", a), ("approval", d)]
    assert _due_rows(overdue) == [("application", d), ("national", d)]
    new_section = html.split('id="new-h"', 1)[1]
    assert re.search(r'New notifications <span class="badge text-bg-primary">2</span>', html)
    assert re.findall(r'<a href="/notifications/(\d+)">', new_section) == [str(a), str(d)]
    assert "Feed sources with errors" in html
    assert "<li>Broken relay: HTTP 404 Not Found (" in html
    assert "Healthy:" not in html
    assert f'/feeds/{broken}' not in html  # staff are not admins: no link to the source page


def test_dashboard_without_anything(app, staff_client):
    html = staff_client.get("/").get_data(as_text=True)
    assert "Nothing due." in html and "No new notifications." in html
    assert "Feed sources with errors" not in html and 'id="overdue-h"' not in html
