"""Event pages: the staff list and forms, an event's registrations and attendance, exports, experts
registering themselves, the personal link, and who may see what."""
from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import login
from event_helpers import LINK, make_event, make_expert, outbox, over, parse_ics, register, under_way, utc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "consultations"))
from consultation_helpers import deliverable_id, make_consultation  # noqa: E402


def _text(response) -> str:
    return response.get_data(as_text=True)


def _commit(app, fn):
    """Run ``fn()`` in an app context, commit, and return its result (ids, not objects)."""
    from focalpoint.extensions import db

    with app.app_context():
        result = fn()
        db.session.commit()
        return result


def _event_id(app, **kw) -> int:
    return _commit(app, lambda: make_event(**kw).id)


def _registrations(app, event_id: int) -> list[tuple[str, str, bool | None]]:
    from focalpoint.events.models import Registration
    from focalpoint.extensions import db

    with app.app_context():
        return [(r.email, r.status.value, r.attended) for r in db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event_id).order_by(Registration.id)).unique()]


def _load(app, event_id: int):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    with app.app_context():
        event = db.session.get(Event, event_id)
        db.session.expunge(event)
        return event


@pytest.fixture
def expert_client(app, make_user):
    """An expert user with a record in the registry (Eva Expert <eva@example.org>)."""
    user_id = make_user("eva@example.org", "expert", name="Eva Expert")
    _commit(app, lambda: make_expert("Eva", "Expert", email="eva@example.org", user_id=user_id).id)
    client = app.test_client()
    assert login(client, "eva@example.org").status_code == 302
    return client


def _form(**changes) -> dict:
    data = {"kind": "information_session", "title": "Nexus SOD: information session", "description": "",
            "starts_at": "2031-01-14T14:00", "ends_at": "2031-01-14T16:30", "registration_closes_at": "",
            "place": "Egmont Palace", "online_url": "", "capacity": "", "consultation_id": "0",
            "deliverable_id": "0"}
    data.update(changes)
    return data


# --- access ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/events", "/events/{id}", "/events/{id}/event.ics", "/events/new",
                                  "/events/{id}/edit", "/events/{id}/registrations.csv"])
def test_reviewers_get_403_and_anonymous_visitors_the_login(app, make_user, path):
    event_id = _event_id(app)
    make_user("rita@example.org", "reviewer")
    reviewer = app.test_client()
    login(reviewer, "rita@example.org")
    url = path.format(id=event_id)
    response = reviewer.get(url)
    assert response.status_code == 403
    assert "Information session" not in _text(response)
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/login?next={url}"


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/events/new"), ("get", "/events/{id}/edit"), ("post", "/events/{id}/cancel"),
    ("post", "/events/{id}/registrations"), ("post", "/events/{id}/attendance"),
    ("get", "/events/{id}/registrations.xlsx"), ("get", "/events/{id}/registrations.csv"),
    ("post", "/events/{id}/registrations/{rid}/cancel"),
])
def test_experts_cannot_manage_events(app, expert_client, method, path):
    def seed():
        event = make_event()
        return event.id, register(event)[0].id

    event_id, registration_id = _commit(app, seed)
    response = getattr(expert_client, method)(path.format(id=event_id, rid=registration_id))
    assert response.status_code == 403
    assert _registrations(app, event_id) == [("zoe@example.org", "registered", None)]
    assert _load(app, event_id).cancelled_at is None


def test_an_expert_sees_a_cancelled_event_as_not_found(app, expert_client):
    from focalpoint.events.services import cancel_event

    event_id = _event_id(app, title="Cancelled session")
    _commit(app, lambda: cancel_event(_reload(event_id), actor=None))
    for path in (f"/events/{event_id}", f"/events/{event_id}/event.ics"):
        assert expert_client.get(path).status_code == 404
    assert expert_client.post(f"/events/{event_id}/register").status_code == 404
    assert "Cancelled session" not in _text(expert_client.get("/events"))
    assert _registrations(app, event_id) == []


def _reload(event_id: int):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    return db.session.get(Event, event_id)


# --- the staff list ---------------------------------------------------------------------------------------
def test_staff_list_filters_sorts_and_counts(app, staff_client):
    from focalpoint.events.services import cancel_event

    def seed():
        consultation = make_consultation("Nexus SOD review")
        full = make_event("Alpha: information session", days=3, capacity=1, consultation_id=consultation.id)
        register(full, name="Ann", email="ann@example.org")
        register(full, name="Wim", email="wim@example.org")
        uptake = make_event("Beta: uptake event", days=5, kind="uptake_event", place="Ghent")
        past = make_event("Gamma: past session", days=1)
        register(past, name="Bob", email="bob@example.org")
        over(past)
        cancelled = make_event("Delta: cancelled session", days=8)
        cancel_event(cancelled, actor=None)
        return consultation.id, full.id, uptake.id, past.id, cancelled.id

    consultation_id, *_ids = _commit(app, seed)

    def titles(query: str = "") -> list[str]:
        body = _text(staff_client.get("/events" + query))
        return re.findall(r'<a href="/events/\d+">([^<]+)</a>', body)

    assert titles() == ["Alpha: information session", "Beta: uptake event", "Delta: cancelled session"]
    assert titles("?when=past") == ["Gamma: past session"]
    assert titles("?when=all&sort=title&dir=desc") == ["Gamma: past session", "Delta: cancelled session",
                                                        "Beta: uptake event", "Alpha: information session"]
    assert titles("?kind=uptake_event") == ["Beta: uptake event"]
    assert titles("?status=cancelled&when=all") == ["Delta: cancelled session"]
    assert titles("?status=active") == ["Alpha: information session", "Beta: uptake event"]
    assert titles(f"?consultation={consultation_id}") == ["Alpha: information session"]
    assert titles("?q=ghent") == ["Beta: uptake event"]
    assert titles("?q=%25&kind=nonsense&when=x&status=y&consultation=z&sort=evil&dir=up&page=-3") == []
    assert titles("?kind=nonsense&when=x&status=y&consultation=z&sort=evil&dir=up&page=-3") == [
        "Alpha: information session", "Beta: uptake event", "Delta: cancelled session"]
    body = _text(staff_client.get("/events"))
    row = body[body.index("Alpha: information session"):body.index("Beta: uptake event")]
    assert re.findall(r'<td class="text-end">([^<]*)</td>', row) == ["1 / 1", "1", "0"]
    assert "Nexus SOD review" in row
    assert "Cancelled</span>" in body[body.index("Delta: cancelled session"):]


def test_staff_list_pages(app, staff_client):
    app.config["PAGE_SIZE"] = 2
    _commit(app, lambda: [make_event(f"Session {i}", days=i + 1).id for i in range(5)])
    body = _text(staff_client.get("/events?page=3"))
    assert re.findall(r'<a href="/events/\d+">([^<]+)</a>', body) == ["Session 4"]
    assert "5–5 of 5" in body


def _seed_for_queries(app, count: int) -> None:
    def seed():
        for i in range(count):
            event = make_event(f"Event {i}", days=i + 1, capacity=2)
            for j in range(3):
                register(event, name=f"P{i}-{j}", email=f"p{i}-{j}@example.org")

    _commit(app, seed)


def test_list_and_detail_queries_do_not_grow_with_the_data(app, staff_client, expert_client):
    from test_queries import counting

    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    def measure() -> dict[str, int]:
        with app.app_context():
            first = db.session.scalar(sa.select(Event.id).order_by(Event.id))
        counts = {}
        for name, client, path in (("staff list", staff_client, "/events?when=all"),
                                   ("expert list", expert_client, "/events"),
                                   ("detail", staff_client, f"/events/{first}"),
                                   ("export", staff_client, f"/events/{first}/registrations.csv")):
            client.get(path)
            with counting(app) as statements:
                assert client.get(path).status_code == 200
            counts[name] = len(statements)
        return counts

    _seed_for_queries(app, 2)
    small = measure()
    with app.app_context():
        db.session.execute(sa.delete(Event))
        db.session.commit()
    _seed_for_queries(app, 12)
    assert measure() == small
    assert max(small.values()) <= 15, small


# --- creating and editing ---------------------------------------------------------------------------------
def test_new_event_reads_times_in_brussels_and_stores_utc(app, staff_client):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    response = staff_client.post("/events/new", data=_form(capacity="40", online_url="https://meet.example.org/n",
                                                           registration_closes_at="2031-01-13T12:00"))
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(sa.select(Event))
        assert response.headers["Location"] == f"/events/{event.id}"
        assert (event.title, event.kind.value, event.capacity, event.place, event.online_url) == (
            "Nexus SOD: information session", "information_session", 40, "Egmont Palace", "https://meet.example.org/n")
        assert (event.starts_at, event.ends_at, event.registration_closes_at) == (
            utc(2031, 1, 14, 13), utc(2031, 1, 14, 15, 30), utc(2031, 1, 13, 11))
        assert event.created_by_id is not None
        event_id = event.id
    body = _text(staff_client.get(f"/events/{event_id}/edit"))
    assert 'value="2031-01-14T14:00"' in body
    assert 'value="2031-01-14T16:30"' in body
    assert "Europe/Brussels" in body


def test_a_user_in_another_zone_types_their_own_times(app, staff_client):
    from focalpoint.auth.models import User
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    with app.app_context():
        db.session.scalar(sa.select(User).where(User.email == "staff@example.org")).timezone = "America/New_York"
        db.session.commit()
    assert staff_client.post("/events/new", data=_form(starts_at="2031-01-14T09:00",
                                                       ends_at="2031-01-14T10:00")).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(Event.starts_at)) == utc(2031, 1, 14, 14)


@pytest.mark.parametrize(("changes", "message"), [
    ({"ends_at": "2031-01-14T13:00"}, "The event ends before it starts."),
    ({"online_url": "javascript:alert(1)"}, "The online link must be a web address starting with https:// or http://."),
    ({"place": ""}, "Give a place, an online link, or both."),
    ({"starts_at": "14/01/2031"}, "Not a valid datetime value."),
    ({"capacity": "0"}, "Number must be between 1 and 100000."),
    ({"title": ""}, "This field is required."),
])
def test_new_event_with_bad_input_shows_the_error_and_keeps_the_typing(app, staff_client, changes, message):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    response = staff_client.post("/events/new", data=_form(**changes))
    assert response.status_code == 400
    body = _text(response)
    assert message in body
    assert "is-invalid" in body
    if changes.get("title") != "":
        assert 'value="Nexus SOD: information session"' in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_new_event_from_a_consultation_is_prefilled(app, staff_client):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    consultation_id, nexus = _commit(app, lambda: (make_consultation("Nexus SOD review", deliverable="nexus").id,
                                                   deliverable_id("nexus")))
    body = _text(staff_client.get(f"/events/new?consultation={consultation_id}"))
    assert 'value="Information session: Nexus SOD review"' in body
    assert f'<option selected value="{consultation_id}">Nexus SOD review</option>' in body
    assert re.search(rf'<option selected value="{nexus}">', body)
    response = staff_client.post(f"/events/new?consultation={consultation_id}",
                                 data=_form(consultation_id=str(consultation_id), deliverable_id="0"))
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(sa.select(Event))
        assert (event.consultation_id, event.deliverable_id) == (consultation_id, nexus)
    assert staff_client.get("/events/new?consultation=999999").status_code == 404
    assert staff_client.get("/events/new?consultation=abc").status_code == 404


def _event_with_zoe(app) -> int:
    def seed():
        event = make_event()
        register(event)
        return event.id

    return _commit(app, seed)


def test_edit_changes_the_place_and_mails_registered_people(app, staff_client):
    event_id = _event_with_zoe(app)
    event = _load(app, event_id)
    body = _text(staff_client.get(f"/events/{event_id}/edit"))
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', body).group(1)
    data = _form(title=event.title, place="Egmont Palace, room 2", version=version,
                 starts_at=re.search(r'id="starts_at" name="starts_at" required type="datetime-local" value="([^"]+)"', body)
                 .group(1),
                 ends_at=re.search(r'id="ends_at" name="ends_at" required type="datetime-local" value="([^"]+)"', body)
                 .group(1))
    response = staff_client.post(f"/events/{event_id}/edit", data=data)
    assert response.status_code == 302
    assert "Registered people get the new time and place" in _text(staff_client.get(response.headers["Location"]))
    after = _load(app, event_id)
    assert (after.place, after.sequence, after.starts_at) == ("Egmont Palace, room 2", 1, event.starts_at)
    with app.app_context():
        assert [(m.to_addr, m.subject) for m in outbox()][-1] == ("zoe@example.org", f"Changed: {event.title}")
    # The same form again: its version is stale now.
    stale = staff_client.post(f"/events/{event_id}/edit", data={**data, "place": "Somewhere else"})
    assert stale.status_code == 409
    body = _text(stale)
    assert "Someone changed this since you opened the page" in body
    assert "Place: Egmont Palace, room 2" in body
    assert 'value="Somewhere else"' in body
    assert _load(app, event_id).place == "Egmont Palace, room 2"


def test_cancel_event_from_its_page(app, staff_client):
    event_id = _event_with_zoe(app)
    version = _load(app, event_id).version
    response = staff_client.post(f"/events/{event_id}/cancel", data={"version": version})
    assert response.status_code == 302
    body = _text(staff_client.get(f"/events/{event_id}"))
    assert "Event cancelled. Everyone registered or waiting is told by e-mail." in body
    assert "Cancelled on" in body
    assert f'action="/events/{event_id}/cancel"' not in body
    assert _load(app, event_id).cancelled_at is not None
    with app.app_context():
        [_registered, cancelled] = outbox()
        assert cancelled.attachments[0]["content_type"] == "text/calendar; method=CANCEL"
    again = staff_client.post(f"/events/{event_id}/cancel", data={"version": version})
    assert "The event was cancelled already." in _text(staff_client.get(again.headers["Location"]))
    edit = staff_client.get(f"/events/{event_id}/edit")
    assert edit.status_code == 302


# --- registrations on an event's page ------------------------------------------------------------------
def test_staff_find_an_expert_and_register_them(app, staff_client):
    event_id = _event_id(app, capacity=1)
    expert_id = _commit(app, lambda: make_expert("Ann", "Peeters").id)
    _commit(app, lambda: make_expert("Bert", "Other").id)
    body = _text(staff_client.get(f"/events/{event_id}?expert_q=peet"))
    assert "Ann Peeters" in body
    assert "Bert Other" not in body
    assert f'name="expert_id" value="{expert_id}"' in body
    response = staff_client.post(f"/events/{event_id}/registrations", data={"expert_id": str(expert_id)})
    assert response.status_code == 302
    assert "Ann Peeters is registered." in _text(staff_client.get(response.headers["Location"]))
    body = _text(staff_client.get(f"/events/{event_id}?expert_q=peet"))
    assert "already registered" in body
    again = staff_client.post(f"/events/{event_id}/registrations", data={"expert_id": str(expert_id)})
    assert "Ann Peeters is already registered." in _text(staff_client.get(again.headers["Location"]))
    other = staff_client.post(f"/events/{event_id}/registrations",
                              data={"name": "Zoë Zimmer", "email": "Zoe@Example.org", "affiliation": "=cmd|'/c calc'!A1"})
    assert "The event is full: Zoë Zimmer is on the waiting list." in _text(staff_client.get(other.headers["Location"]))
    assert _registrations(app, event_id) == [("ann.peeters@example.org", "registered", None),
                                             ("zoe@example.org", "waitlisted", None)]
    for bad in ({"expert_id": "999999"}, {"expert_id": "abc"}, {"name": "X", "email": "not-an-address"},
                {"name": "", "email": ""}):
        response = staff_client.post(f"/events/{event_id}/registrations", data=bad)
        assert response.status_code == 302
    assert len(_registrations(app, event_id)) == 2


def test_staff_cancel_a_registration_and_the_first_waiting_moves_up(app, staff_client):
    def seed():
        event = make_event(capacity=1)
        first, _ = register(event, name="Ann", email="ann@example.org")
        register(event, name="Wim", email="wim@example.org")
        return event.id, first.id, first.version

    event_id, first_id, version = _commit(app, seed)
    response = staff_client.post(f"/events/{event_id}/registrations/{first_id}/cancel", data={"version": version})
    assert "Registration of Ann cancelled." in _text(staff_client.get(response.headers["Location"]))
    assert _registrations(app, event_id) == [("ann@example.org", "cancelled", None),
                                             ("wim@example.org", "registered", None)]
    with app.app_context():
        assert [m.to_addr for m in outbox()][-2:] == ["ann@example.org", "wim@example.org"]
    other_event = _event_id(app)
    assert staff_client.post(f"/events/{other_event}/registrations/{first_id}/cancel").status_code == 404


def test_attendance_is_recorded_in_bulk_after_the_start(app, staff_client):
    def seed():
        event = make_event(capacity=2)
        ids = [register(event, name=n, email=f"{n.lower()}@example.org")[0].id for n in ("Ann", "Bob", "Cleo")]
        return event.id, ids

    event_id, (ann, bob, cleo) = _commit(app, seed)
    body = _text(staff_client.get(f"/events/{event_id}"))
    assert "Attendance can be recorded once the event has started." in body
    assert 'id="attendance-form"' not in body
    refused = staff_client.post(f"/events/{event_id}/attendance", data={f"attended-{ann}": "yes", f"version-{ann}": "1"})
    assert "Attendance can be recorded once the event has started." in _text(staff_client.get(refused.headers["Location"]))
    _commit(app, lambda: under_way(_reload(event_id)))
    body = _text(staff_client.get(f"/events/{event_id}"))
    assert f'name="attended-{ann}" form="attendance-form"' in body
    assert f'name="attended-{cleo}"' not in body  # waiting list: no attendance
    versions = dict(re.findall(r'name="version-(\d+)" value="(\d+)"', body))
    response = staff_client.post(f"/events/{event_id}/attendance", data={
        f"attended-{ann}": "yes", f"version-{ann}": versions[str(ann)],
        f"attended-{bob}": "no", f"version-{bob}": versions[str(bob)], "attended-x": "yes", f"attended-{cleo}": "maybe"})
    body = _text(staff_client.get(response.headers["Location"]))
    assert "Attendance saved (2 changed)." in body
    assert "Attended: <strong>1</strong> · Did not come: <strong>1</strong>" in body
    assert _registrations(app, event_id) == [("ann@example.org", "registered", True),
                                             ("bob@example.org", "registered", False),
                                             ("cleo@example.org", "waitlisted", None)]
    stale = staff_client.post(f"/events/{event_id}/attendance", data={
        f"attended-{ann}": "", f"version-{ann}": versions[str(ann)]})
    assert "Someone changed these registrations" in _text(staff_client.get(stale.headers["Location"]))
    assert _registrations(app, event_id)[0] == ("ann@example.org", "registered", True)


def test_registrations_export_as_xlsx_and_csv_with_formulas_kept_as_text(app, staff_client):
    from openpyxl import load_workbook

    def seed():
        event = make_event(capacity=1)
        register(event, name="=HYPERLINK(\"http://evil\")", email="eve@example.org", affiliation="+cmd")
        register(event, name="Wim Waiting", email="wim@example.org", affiliation="@SUM(A1)")
        return event.id

    event_id = _commit(app, seed)
    xlsx = staff_client.get(f"/events/{event_id}/registrations.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["Content-Disposition"] == f'attachment; filename="event-{event_id}-registrations.xlsx"'
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Name", "E-mail", "Affiliation", "Registry expert", "Status", "Registered at", "Attended",
                       "Cancelled at"]
    assert [r[:5] for r in rows[1:]] == [["=HYPERLINK(\"http://evil\")", "eve@example.org", "+cmd", None, "Registered"],
                                         ["Wim Waiting", "wim@example.org", "@SUM(A1)", None, "Waiting list"]]
    assert [c.data_type for c in next(sheet.iter_rows(min_row=2, max_row=2))][:3] == ["s", "s", "s"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows[1][5])
    csv_response = staff_client.get(f"/events/{event_id}/registrations.csv")
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert [r[:5] for r in table[1:]] == [["'=HYPERLINK(\"http://evil\")", "eve@example.org", "'+cmd", "", "Registered"],
                                          ["Wim Waiting", "wim@example.org", "'@SUM(A1)", "", "Waiting list"]]


# --- experts ------------------------------------------------------------------------------------------------
def test_an_expert_sees_upcoming_events_and_their_own_past_ones(app, expert_client):
    from focalpoint.events.services import cancel_event

    def seed():
        from focalpoint.experts.models import Expert
        from focalpoint.extensions import db

        eva = db.session.scalar(sa.select(Expert).where(Expert.email == "eva@example.org"))
        mine = make_event("Attended past session", days=1)
        register(mine, expert=eva)
        over(mine)
        other_past = make_event("Someone else's past session", days=1)
        over(other_past)
        make_event("Upcoming uptake event", days=4)
        cancel_event(make_event("Cancelled session", days=6), actor=None)
        return mine.id

    seed_id = _commit(app, seed)
    body = _text(expert_client.get("/events"))
    assert re.findall(r'<a href="/events/\d+">([^<]+)</a>', body) == ["Attended past session",
                                                                      "Upcoming uptake event"]
    assert f'action="/events/{seed_id}/unregister"' not in body  # it is over
    assert 'action="/events/' in body and "/register" in body
    assert "Registered</span>" in body
    assert "Registered" not in _text(expert_client.get("/events")).split("Upcoming uptake event")[1].split("</tr>")[0]


def test_an_expert_registers_and_unregisters_themselves(app, expert_client):
    event_id = _event_id(app, capacity=1, title="Nexus: information session")
    page = _text(expert_client.get(f"/events/{event_id}"))
    assert "You are not registered." in page
    assert "Registrations" not in page  # nobody else's registration is shown
    response = expert_client.post(f"/events/{event_id}/register")
    assert response.status_code == 302
    assert "You are registered. The calendar invitation is on its way by e-mail." in _text(
        expert_client.get(response.headers["Location"]))
    assert _registrations(app, event_id) == [("eva@example.org", "registered", None)]
    with app.app_context():
        [mail] = outbox()
        assert (mail.to_addr, mail.subject) == ("eva@example.org", "Registered: Nexus: information session")
        assert f"http://focalpoint.test/events/{event_id}" in mail.text_body
        assert LINK.search(mail.text_body) is None  # an account: no personal link
    again = expert_client.post(f"/events/{event_id}/register")
    assert "You are already registered." in _text(expert_client.get(again.headers["Location"]))
    ics = expert_client.get(f"/events/{event_id}/event.ics")
    assert ics.headers["Content-Type"].startswith("text/calendar")
    _cal, vevent = parse_ics(ics.data)
    assert str(vevent["ATTENDEE"]) == "mailto:eva@example.org"
    response = expert_client.post(f"/events/{event_id}/unregister")
    assert "Your registration is cancelled." in _text(expert_client.get(response.headers["Location"]))
    assert _registrations(app, event_id) == [("eva@example.org", "cancelled", None)]
    response = expert_client.post(f"/events/{event_id}/unregister")
    assert "You are not registered for this event." in _text(expert_client.get(response.headers["Location"]))


def test_an_expert_cannot_register_for_a_closed_event(app, expert_client):
    event_id = _event_id(app)
    _commit(app, lambda: under_way(_reload(event_id)))
    assert "Registration is closed." in _text(expert_client.get(f"/events/{event_id}"))
    response = expert_client.post(f"/events/{event_id}/register")
    assert "Registration is closed." in _text(expert_client.get(response.headers["Location"]))
    assert _registrations(app, event_id) == []


def test_an_expert_account_without_a_registry_record_cannot_register(app, make_user):
    event_id = _event_id(app)
    make_user("lone@example.org", "expert")
    client = app.test_client()
    login(client, "lone@example.org")
    assert "not linked to a record of the expert registry" in _text(client.get("/events"))
    response = client.post(f"/events/{event_id}/register")
    assert "not linked to a record of the expert registry" in _text(client.get(response.headers["Location"]))
    assert _registrations(app, event_id) == []


# --- the personal link -----------------------------------------------------------------------------------------
def _registered_with_link(app, **kw) -> tuple[int, str]:
    def seed():
        event = make_event(capacity=1, **kw)
        register(event, name="Zoë Zimmer", email="zoe@example.org")
        register(event, name="Wim Waiting", email="wim@example.org")
        return event.id, LINK.search(outbox()[0].text_body).group(1)

    return _commit(app, seed)


def test_the_personal_link_shows_the_registration_and_the_calendar_file(app):
    _event_id, secret = _registered_with_link(app, title="Nexus: information session")
    client = app.test_client()
    response = client.get(f"/events/r/{secret}")
    assert response.status_code == 200
    body = _text(response)
    assert "Nexus: information session" in body
    assert "Registration of Zoë Zimmer (zoe@example.org)" in body
    assert "Registered</span>" in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"
    ics = client.get(f"/events/r/{secret}/event.ics")
    assert ics.status_code == 200
    cal, vevent = parse_ics(ics.data)
    assert (str(cal["METHOD"]), str(vevent["ATTENDEE"])) == ("PUBLISH", "mailto:zoe@example.org")


@pytest.mark.parametrize("secret", ["x", "A" * 43, "a.b-c_d.0123456789abcdefghij", "a" * 200])
def test_a_wrong_secret_is_not_found(app, secret):
    _registered_with_link(app)
    client = app.test_client()
    for path in (f"/events/r/{secret}", f"/events/r/{secret}/event.ics"):
        response = client.get(path)
        assert response.status_code == 404
        assert "This link does not work" in _text(response)
    assert client.post(f"/events/r/{secret}/cancel").status_code == 404
    assert [s for _e, s, _a in _registrations(app, _first_event(app))] == ["registered", "waitlisted"]


def _first_event(app) -> int:
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(Event.id).order_by(Event.id))


def test_cancel_through_the_link_frees_the_seat_for_the_next_one(app):
    event_id, secret = _registered_with_link(app)
    client = app.test_client()
    response = client.post(f"/events/r/{secret}/cancel")
    assert response.status_code == 200
    body = _text(response)
    assert "Your registration is cancelled. A confirmation is on its way to you by e-mail." in body
    assert "Cancelled</span>" in body
    assert "/cancel" not in body
    assert _registrations(app, event_id) == [("zoe@example.org", "cancelled", None),
                                             ("wim@example.org", "registered", None)]
    with app.app_context():
        assert [(m.to_addr, m.subject.split(":")[0]) for m in outbox()][-2:] == [
            ("zoe@example.org", "Registration cancelled"), ("wim@example.org", "A seat is free, you are registered")]
        from focalpoint.audit import AuditEntry
        from focalpoint.extensions import db

        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "registration.cancelled"))
        assert (entry.actor_id, entry.data["via"]) == (None, "link")
    # The link still shows the (cancelled) registration.
    assert client.get(f"/events/r/{secret}").status_code == 200
    assert client.post(f"/events/r/{secret}/cancel").status_code == 200


def test_cancel_through_the_link_after_the_start_is_refused(app):
    event_id, secret = _registered_with_link(app)
    _commit(app, lambda: under_way(_reload(event_id)))
    response = app.test_client().post(f"/events/r/{secret}/cancel")
    assert response.status_code == 409
    assert "The event has started: registrations can no longer be cancelled." in _text(response)
    assert _registrations(app, event_id)[0] == ("zoe@example.org", "registered", None)
