"""The personal iCalendar feed (made, shown once, regenerated, revoked) and the .ics file of each item."""
from __future__ import annotations

import hashlib
import re
from html import unescape

import pytest
import sqlalchemy as sa
from due_helpers import EXPERT, REVIEWER, STAFF, WALLOON, build, client_for, day, users
from icalendar import Calendar

BASE = "http://focalpoint.test"


@pytest.fixture
def world(app, make_user):
    ids = users(app, make_user)
    return ids, build(app, ids)[0]


def make_feed(client) -> list[str]:
    """POST the account page's button; the addresses shown (once) on the answer."""
    response = client.post("/account/calendar")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Copy the address now: it is shown only this once." in html
    return [unescape(u) for u in re.findall(r'id="calendar-url-\w+" type="text" readonly value="([^"]+)"', html)]


def fetch(app, url: str):
    assert url.startswith(BASE + "/calendar/")
    return app.test_client().get(url[len(BASE):])  # anonymous: the secret is the key


def events(body: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def stored_hash(app, email: str):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(User.calendar_token_hash).where(User.email == email))


def test_the_account_page_offers_a_feed_and_shows_its_address_once(app, world):
    client = client_for(app, STAFF)
    page = client.get("/account").get_data(as_text=True)
    assert "You have no calendar feed." in page and "Make my feed address" in page
    mine, team = make_feed(client)
    secret = re.fullmatch(BASE + r"/calendar/([A-Za-z0-9_-]{40,})\.ics", mine).group(1)
    assert team == f"{BASE}/calendar/{secret}.ics?scope=team"
    # Only the hash is kept; the page shows the address no more.
    assert stored_hash(app, STAFF) == hashlib.sha256(secret.encode()).hexdigest()
    page = client.get("/account").get_data(as_text=True)
    assert secret not in page and "Your feed is active since" in page
    assert 'data-confirm="Revoke your calendar feed?' in page
    assert 'data-confirm="Make a new address? The current one stops working' in page


def test_an_expert_gets_one_address(app, world):
    urls = make_feed(client_for(app, EXPERT))
    assert len(urls) == 1 and "scope" not in urls[0]


def test_the_feed_is_a_valid_calendar_of_the_users_items(app, world):
    from focalpoint.auth.models import User
    from focalpoint.due.services import due_items
    from focalpoint.extensions import db

    ids, w = world
    (mine, _team) = make_feed(client_for(app, STAFF))
    response = fetch(app, mine)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.get_data()
    # RFC 5545: CRLF line endings, lines folded at 75 octets.
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    assert max(len(line) for line in body.split(b"\r\n")) <= 75
    cal = Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"]) == "-//Focal Point//Due dates//EN"
    assert str(cal["X-WR-CALNAME"]) == "Focal Point: Stella Staff's dates"
    with app.app_context():
        expected = due_items(db.session.get(User, ids["staff"]), scope="mine")
    found = events(body)
    assert sorted(found) == sorted(i.uid for i in expected) and len(found) == 8

    national = found[f"notification-national-{w['mine']}@focalpoint.test"]
    assert national["DTSTART"].params["VALUE"] == "DATE" and national.decoded("DTSTART") == day(3)
    assert national.decoded("DTEND") == day(4)
    assert national["DTSTAMP"].dt.tzinfo is not None
    assert str(national["SUMMARY"]) == "National deadline – EM/2031/000: Call for inputs 0"
    link = f"{BASE}/notifications/{w['mine']}"
    assert str(national["URL"]) == link
    assert str(national["DESCRIPTION"]) == f"National deadline\nFrom whom: Stella Staff\n\n{link}"
    assert str(national["TRANSP"]) == "TRANSPARENT"

    timed = found[f"notification-deadline-{w['mine_deadline']}@focalpoint.test"]
    assert "VALUE" not in timed["DTSTART"].params
    assert timed.decoded("DTSTART").utcoffset().total_seconds() == 0
    late = found[f"review-{w['review_vl']}@focalpoint.test"]
    assert "Overdue" in str(late["DESCRIPTION"]).split("\n")


def test_the_same_item_keeps_its_uid_across_fetches(app, world):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    ids, w = world
    (mine, _team) = make_feed(client_for(app, STAFF))
    first = events(fetch(app, mine).get_data())
    with app.app_context():  # the notification changes: same event, updated
        db.session.get(Notification, w["mine"]).national_deadline = day(4)
        db.session.commit()
    second = events(fetch(app, mine).get_data())
    assert sorted(first) == sorted(second)
    uid = f"notification-national-{w['mine']}@focalpoint.test"
    assert (first[uid].decoded("DTSTART"), second[uid].decoded("DTSTART")) == (day(3), day(4))


def test_the_team_feed_is_for_staff_only(app, world):
    ids, _w = world
    (_mine, team) = make_feed(client_for(app, STAFF))
    cal = Calendar.from_ical(fetch(app, team).get_data())
    assert str(cal["X-WR-CALNAME"]) == "Focal Point: my team's dates"
    assert len(cal.walk("VEVENT")) == 16
    (expert,) = make_feed(client_for(app, EXPERT))
    asked = fetch(app, expert + "?scope=team").get_data()
    assert sorted(events(asked)) == sorted(events(fetch(app, expert).get_data()))
    assert len(events(asked)) == 3
    # Plenary sessions and events take time; deadlines do not.
    assert {str(e["TRANSP"]) for e in Calendar.from_ical(fetch(app, team).get_data()).walk("VEVENT")
            if str(e["CATEGORIES"].cats[0]) in ("Plenary sessions", "Events")} == {"OPAQUE"}


def test_an_event_keeps_its_hours(app, world):
    ids, w = world
    (expert,) = make_feed(client_for(app, EXPERT))
    event = events(fetch(app, expert).get_data())[f"event-{w['event']}@focalpoint.test"]
    assert (event.decoded("DTSTART").hour, event.decoded("DTEND").hour) == (10, 12)


def test_regenerating_replaces_the_address(app, world):
    client = client_for(app, STAFF)
    (old, _) = make_feed(client)
    (new, _) = make_feed(client)
    assert old != new
    assert fetch(app, old).status_code == 404
    assert fetch(app, new).status_code == 200


def test_a_revoked_address_is_not_found(app, world):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    client = client_for(app, STAFF)
    (url, _) = make_feed(client)
    response = client.post("/account/calendar/revoke")
    assert response.status_code == 302 and response.headers["Location"] == "/account#calendar-h"
    assert stored_hash(app, STAFF) is None
    gone = fetch(app, url)
    assert gone.status_code == 404
    assert "Stella" not in gone.get_data(as_text=True) and "revoked" not in gone.get_data(as_text=True)
    page = client.get("/account").get_data(as_text=True)
    assert "Your calendar feed is revoked: its address no longer works." in page
    assert "You have no calendar feed." in page
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "users")
                                     .order_by(AuditEntry.id)).all()
    assert [a for a in actions if a.startswith("calendar_feed.")] == ["calendar_feed.created",
                                                                      "calendar_feed.revoked"]
    assert client.post("/account/calendar/revoke").status_code == 302  # nothing to revoke: no error


@pytest.mark.parametrize("path", ["/calendar/nope.ics", "/calendar/" + "a" * 43 + ".ics",
                                  "/calendar/" + "%00" * 30 + ".ics", "/calendar/" + "x" * 500 + ".ics",
                                  "/calendar/.ics"])
def test_wrong_secrets_are_not_found(app, world, path):
    make_feed(client_for(app, STAFF))
    response = app.test_client().get(path)
    assert response.status_code == 404


def test_a_disabled_users_feed_stops(app, world):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    (url, _) = make_feed(client_for(app, STAFF))
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.email == STAFF)).is_enabled = False
        db.session.commit()
    assert fetch(app, url).status_code == 404


# --- the .ics of one item --------------------------------------------------------------------------------
def test_staff_download_any_items_file_with_the_feeds_uid(app, world):
    ids, w = world
    client = client_for(app, STAFF)
    response = client.get(f"/due/notification-deadline/{w['mine_deadline']}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="notification-deadline-{w["mine_deadline"]}.ics"'
    (event,) = Calendar.from_ical(response.get_data()).walk("VEVENT")
    assert str(event["UID"]) == f"notification-deadline-{w['mine_deadline']}@focalpoint.test"
    assert str(event["SUMMARY"]) == "Secretariat: Inputs – EM/2031/000: Call for inputs 0"
    for kind, item in (("call-nomination", w["call"]), ("consultation-close", w["consultation"]),
                       ("plenary", w["session"]), ("event", w["event"]), ("invitation", w["invitation"]),
                       ("review", w["review_wal"])):
        assert client.get(f"/due/{kind}/{item}.ics").status_code == 200, kind


@pytest.mark.parametrize(("email", "allowed", "refused"), [
    (EXPERT, [("invitation", "invitation"), ("consultation-close", "consultation"), ("event", "event")],
     [("notification-deadline", "mine_deadline"), ("call-national", "call"), ("review", "review_vl"),
      ("plenary", "session"), ("consultation-secretariat", "consultation")]),
    (REVIEWER, [("review", "review_vl")],
     [("review", "review_wal"), ("invitation", "invitation"), ("event", "event"), ("plenary", "session")]),
    (WALLOON, [("review", "review_wal")], [("review", "review_vl")]),
])
def test_others_download_only_their_own_items(app, world, email, allowed, refused):
    ids, w = world
    client = client_for(app, email)
    for kind, key in allowed:
        assert client.get(f"/due/{kind}/{w[key]}.ics").status_code == 200, kind
    for kind, key in refused:
        response = client.get(f"/due/{kind}/{w[key]}.ics")
        assert response.status_code == 404, kind
        assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)


def test_unknown_or_finished_items_are_not_found(app, world):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall
    import datetime as dt

    ids, w = world
    client = client_for(app, STAFF)
    assert client.get("/due/nonsense/1.ics").status_code == 404
    assert client.get("/due/event/999999.ics").status_code == 404
    with app.app_context():
        db.session.get(NominationCall, w["call"]).locked_at = dt.datetime.now(dt.timezone.utc)
        db.session.commit()
    assert client.get(f"/due/call-national/{w['call']}.ics").status_code == 404


def test_anonymous_visitors_get_no_item_file(app, world):
    ids, w = world
    response = app.test_client().get(f"/due/event/{w['event']}.ics")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
