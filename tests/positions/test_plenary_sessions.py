"""Plenary sessions: the list, adding, editing and removing a session, starting one from a notification."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from conftest import SHARED, missing
from plenary_helpers import add_item, add_note, add_session, session_id


def _session(app, code):
    from focalpoint.extensions import db
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        s = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == code))
        return None if s is None else (s.code, s.place, s.start_date, s.end_date, s.notification_id)


def _audit(app, action):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        return [(e.object_id, e.data) for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# --- the list --------------------------------------------------------------------------------------
def test_list_shows_sessions_newest_first_with_their_figures(app, staff_client):
    ipbes12 = session_id(app, "IPBES-12")
    item = add_item(app, ipbes12, "7 (b)")
    add_item(app, ipbes12, "6")
    add_note(app, item, status="approved")
    added = add_session(app, "IPBES-13", "Online", dt.date(2027, 3, 1), dt.date(2027, 3, 5))
    add_note(app, add_item(app, added, "4"))

    html = staff_client.get("/plenary").get_data(as_text=True)
    rows = _rows(html)
    assert rows[0] == "IPBES-13 upcoming Mar 1, 2027 – Mar 5, 2027 Online 1 1 0 / 1"
    assert rows[1] == "IPBES-12 Feb 3, 2026 – Feb 8, 2026 Manchester, United Kingdom 2 1 1 / 1"
    assert rows[2].startswith("IPBES-11 Dec 10, 2024 – Dec 16, 2024 Windhoek, Namibia 0 0 0")
    assert len(rows) == 13  # the twelve sessions of the reference data and the one added
    assert f'href="/plenary/{added}"' in html and '<form method="post" action="/plenary/new"' in html


def test_list_search_sort_and_pages(app, staff_client):
    app.config["PAGE_SIZE"] = 5
    html = staff_client.get("/plenary?q=bonn").get_data(as_text=True)
    assert [r.split()[0] for r in _rows(html)] == ["IPBES-10", "IPBES-9", "IPBES-5", "IPBES-3", "IPBES-1"]
    html = staff_client.get("/plenary?sort=code&dir=asc").get_data(as_text=True)
    assert [r.split()[0] for r in _rows(html)] == ["IPBES-1", "IPBES-2", "IPBES-3", "IPBES-4", "IPBES-5"]
    assert "1–5 of 12" in html
    html = staff_client.get("/plenary?sort=code&dir=desc&page=3").get_data(as_text=True)
    assert [r.split()[0] for r in _rows(html)] == ["IPBES-2", "IPBES-1"]
    html = staff_client.get("/plenary?q=nowhere").get_data(as_text=True)
    assert _rows(html) == ["No session matches."]
    assert staff_client.get("/plenary?sort=evil&dir=sideways&page=x").status_code == 200


# --- adding and editing --------------------------------------------------------------------------------
def test_staff_add_a_session(app, staff_client):
    response = staff_client.post("/plenary/new", data={"code": " ipbes 13 ", "place": "Bonn, Germany",
                                                       "start_date": "2027-03-01", "end_date": "2027-03-05"})
    assert response.status_code == 302
    new_id = session_id(app, "IPBES-13")
    assert response.headers["Location"] == f"/plenary/{new_id}"
    assert _session(app, "IPBES-13") == ("IPBES-13", "Bonn, Germany", dt.date(2027, 3, 1), dt.date(2027, 3, 5), None)
    assert [d["code"] for _id, d in _audit(app, "plenary.created")] == ["IPBES-13"]
    page = staff_client.get(f"/plenary/{new_id}").get_data(as_text=True)
    assert "<h1 class=\"h3\">IPBES-13</h1>" in page and "Bonn, Germany" in page


@pytest.mark.parametrize("data, field, message", [
    ({"code": "COP-16", "start_date": "2027-03-01", "end_date": "2027-03-05"}, "code",
     "A session code looks like IPBES-13."),
    ({"code": "IPBES-12"}, "code", "The session IPBES-12 already exists."),
    ({"code": "IPBES-14", "start_date": "2027-03-05", "end_date": "2027-03-01"}, "end_date",
     "The last day cannot be before the first day."),
    ({"code": "IPBES-14", "end_date": "2027-03-01"}, "end_date", "Give the first day too."),
    ({"code": "IPBES-14", "start_date": "not a date"}, "start_date", "Not a valid date value."),
    ({"code": ""}, "code", "This field is required."),
])
def test_a_bad_session_is_refused_beside_its_field(app, staff_client, data, field, message):
    before = _session(app, "IPBES-14")
    response = staff_client.post("/plenary/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = re.search(rf'id="{field}-errors" class="invalid-feedback">([^<]*)</div>', html)
    assert errors is not None and errors.group(1) == message
    assert _session(app, "IPBES-14") == before is None
    assert _audit(app, "plenary.created") == []


def test_edit_a_session_and_nothing_changed(app, staff_client):
    sid = add_session(app, "IPBES-13", "Bonn", dt.date(2027, 3, 1), dt.date(2027, 3, 5))
    form = staff_client.get(f"/plenary/{sid}/edit").get_data(as_text=True)
    assert 'value="IPBES-13"' in form and 'value="2027-03-01"' in form
    data = {"code": "IPBES-13", "place": "Bonn, Germany", "start_date": "2027-03-02", "end_date": "2027-03-06"}
    response = staff_client.post(f"/plenary/{sid}/edit", data=data, follow_redirects=True)
    assert "Session saved." in response.get_data(as_text=True)
    assert _session(app, "IPBES-13") == ("IPBES-13", "Bonn, Germany", dt.date(2027, 3, 2), dt.date(2027, 3, 6), None)
    assert _audit(app, "plenary.updated") == [(sid, {"place": ["Bonn", "Bonn, Germany"],
                                                     "start_date": ["2027-03-01", "2027-03-02"],
                                                     "end_date": ["2027-03-05", "2027-03-06"]})]
    again = staff_client.post(f"/plenary/{sid}/edit", data=data, follow_redirects=True)
    assert "Nothing changed." in again.get_data(as_text=True)
    clash = staff_client.post(f"/plenary/{sid}/edit", data={**data, "code": "IPBES-12"})
    assert clash.status_code == 400 and "The session IPBES-12 already exists." in clash.get_data(as_text=True)
    assert _session(app, "IPBES-13")[0] == "IPBES-13"


def test_remove_a_session_unless_it_has_notes_or_comes_with_the_reference_data(app, staff_client):
    empty = add_session(app, "IPBES-13")
    add_item(app, empty, "3")
    busy = add_session(app, "IPBES-14")
    add_note(app, add_item(app, busy, "4"))
    ipbes12 = session_id(app, "IPBES-12")

    page = staff_client.get(f"/plenary/{empty}/edit").get_data(as_text=True)
    assert f'action="/plenary/{empty}/delete"' in page and 'data-confirm="Remove IPBES-13' in page
    assert "/delete" not in staff_client.get(f"/plenary/{ipbes12}/edit").get_data(as_text=True)

    response = staff_client.post(f"/plenary/{empty}/delete", follow_redirects=True)
    assert "Session IPBES-13 removed." in response.get_data(as_text=True)
    assert _session(app, "IPBES-13") is None
    refused = staff_client.post(f"/plenary/{busy}/delete", follow_redirects=True).get_data(as_text=True)
    assert "IPBES-14 has position notes: it cannot be removed." in refused
    refused = staff_client.post(f"/plenary/{ipbes12}/delete", follow_redirects=True).get_data(as_text=True)
    assert "IPBES-12 comes with the application&#39;s reference data: it cannot be removed." in refused
    assert _session(app, "IPBES-14") is not None and _session(app, "IPBES-12") is not None


def test_unknown_session_is_404(app, staff_client):
    assert staff_client.get("/plenary/999999").status_code == 404
    assert staff_client.get("/plenary/999999/edit").status_code == 404
    assert staff_client.get("/plenary/new?notification=abc").status_code == 404
    assert staff_client.get("/plenary/new?notification=999999").status_code == 404


# --- from a plenary notification ----------------------------------------------------------------------
def _notification(app, title, text, published=None) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title=title, text=text, link=None, published=published, actor=None)
        db.session.commit()
        return n.id


def _sample_plenary():
    path = SHARED / "reference" / "ipbes-notifications-sample.json"
    if not path.exists():
        missing("the shared notification sample (../shared/reference)")
    items = [i for i in json.loads(path.read_text()) if "plenary" in i["expected"]["kinds"]]
    assert items, "the sample holds a plenary notification"
    return items[0]


def test_prefill_from_the_real_save_the_date_sample(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification
    from focalpoint.positions.plenary_services import session_prefill

    sample = _sample_plenary()
    nid = _notification(app, sample["title"], sample["text"])
    with app.app_context():
        n = db.session.get(Notification, nid)
        assert n.kind.value == "plenary"
        assert session_prefill(n) == {"code": "IPBES-10", "start_date": dt.date(2023, 8, 28),
                                      "end_date": dt.date(2023, 9, 2), "place": "Bonn, Germany"}
    detail = staff_client.get(f"/notifications/{nid}").get_data(as_text=True)
    assert f'href="/plenary/new?notification={nid}">Start a plenary session</a>' in detail
    form = staff_client.get(f"/plenary/new?notification={nid}").get_data(as_text=True)
    assert 'value="IPBES-10"' in form and 'value="2023-08-28"' in form and 'value="2023-09-02"' in form
    assert 'value="Bonn, Germany"' in form
    # IPBES-10 is in the reference data: the page says so and links to it.
    assert f'This session exists already:\n  <a href="/plenary/{session_id(app, "IPBES-10")}">IPBES-10</a>' in form


def test_start_a_session_from_a_notification(app, staff_client):
    nid = _notification(app, "Save the date: Thirteenth session of the Plenary of IPBES",
                        "I am pleased to inform you that the thirteenth session of the IPBES Plenary will be held "
                        "from 3 to 8 March 2027 in Kunming, China.", dt.date(2026, 6, 1))
    form = staff_client.get(f"/plenary/new?notification={nid}").get_data(as_text=True)
    assert 'value="IPBES-13"' in form and 'value="2027-03-03"' in form and 'value="2027-03-08"' in form
    assert 'value="Kunming, China"' in form and "exists already" not in form
    response = staff_client.post(f"/plenary/new?notification={nid}", data={
        "code": "IPBES-13", "place": "Kunming, China", "start_date": "2027-03-03", "end_date": "2027-03-08"})
    assert response.status_code == 302
    assert _session(app, "IPBES-13") == ("IPBES-13", "Kunming, China", dt.date(2027, 3, 3), dt.date(2027, 3, 8), nid)
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'Started from <a href="/notifications/{nid}">' in page


@pytest.mark.parametrize("title, text, expected", [
    ("Save the date: IPBES 14", "The fourteenth session will take place in Paris, France from 1 to 6 May 2028.",
     {"code": "IPBES-14", "start_date": dt.date(2028, 5, 1), "end_date": dt.date(2028, 5, 6),
      "place": "Paris, France"}),
    ("Invitation to the twelfth session of the Plenary (IPBES-12)",
     "The session will be held in Manchester, United Kingdom of Great Britain and Northern Ireland, from "
     "3 to 8 February 2026.",
     {"code": "IPBES-12", "start_date": dt.date(2026, 2, 3), "end_date": dt.date(2026, 2, 8),
      "place": "Manchester, United Kingdom of Great Britain and Northern Ireland"}),
    ("Documents for the plenary", "Documents are available online.",
     {"code": "", "start_date": None, "end_date": None, "place": ""}),
    ("Thirteenth session of the Plenary", "It will be held in February 2027.",
     {"code": "IPBES-13", "start_date": None, "end_date": None, "place": ""}),
])
def test_prefill_reads_code_dates_and_place(app, title, text, expected):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification
    from focalpoint.positions.plenary_services import session_prefill

    nid = _notification(app, title, text, dt.date(2026, 1, 5))
    with app.app_context():
        assert session_prefill(db.session.get(Notification, nid)) == expected
