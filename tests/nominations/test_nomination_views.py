"""The call pages: opening a call from a notification, the list and its filters, a call's page, the
matches with their balance, the slate's decisions (with the stale-form refusal), the export and access."""
from __future__ import annotations

import datetime as dt
import html
import io
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from call_helpers import REGISTRY_CALL, TODAY, store_call, store_expert, store_registry

from conftest import login

BRUSSELS_TODAY = dt.datetime.now(ZoneInfo("Europe/Brussels")).date()  # the `due` badges count from it


def _text(response) -> str:
    return response.get_data(as_text=True)


def _alerts(body: str) -> list[str]:
    return [html.unescape(" ".join(re.sub(r"<[^>]+>", "", a).split())) for a in
            re.findall(r'<div class="alert alert-\w+"[^>]*>(.*?)</div>', body, re.S)]


def _long(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _call(app, **kwargs) -> int:
    from focalpoint.extensions import db

    with app.app_context():
        call = store_call(**kwargs)
        db.session.commit()
        return call.id


def _notification(app, title: str, text: str) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title=title, text=text, link=None, published=TODAY, actor=None)
        db.session.commit()
        return n.id


# --- access -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["expert", "reviewer"])
def test_experts_and_reviewers_are_refused_every_call_page(app, make_user, role):
    call_id = _call(app, title="Secret nexus call")
    make_user(f"{role}@example.org", role)
    client = app.test_client()
    assert login(client, f"{role}@example.org").status_code == 302
    for url in ("/calls", "/calls/new", f"/calls/{call_id}", f"/calls/{call_id}/matches", f"/calls/{call_id}/edit",
                f"/calls/{call_id}/slate.xlsx"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Secret nexus call" not in _text(response)
    for url in (f"/calls/{call_id}/lock", f"/calls/{call_id}/slate", "/calls/new"):
        assert client.post(url, data={"lock": "1", "title": "x"}).status_code == 403
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.nominations.models import NominationCall

        assert db.session.get(NominationCall, call_id).locked_at is None


# --- opening a call from a notification ------------------------------------------------------------------
def test_notification_of_a_call_kind_links_to_a_new_call_and_others_do_not(app, staff_client):
    call_n = _notification(app, "EM/2031/05: Call for nominations of experts for the nexus assessment",
                           "Nominations by 1 May 2031.")
    other = _notification(app, "EM/2031/06: Save the date: IPBES-14", "The plenary meets in 2031.")
    links = re.findall(r'href="(/calls/new[^"]*)"', _text(staff_client.get(f"/notifications/{call_n}")))
    assert links == [f"/calls/new?notification_id={call_n}"]
    assert re.findall(r'href="(/calls/new[^"]*)"', _text(staff_client.get(f"/notifications/{other}"))) == []


def _field_values(body: str) -> dict:
    values = {name: value for name, value in re.findall(r'<input[^>]*?name="(\w+)"[^>]*?value="([^"]*)"', body)}
    values.update({name: value for value, name in re.findall(
        r'<input[^>]*?value="([^"]*)"[^>]*?name="(\w+)"', body) if name not in values})
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', body, re.S):
        values[name] = re.findall(r'<option selected value="([^"]*)"', options)
    values["roles"] = sorted(re.findall(r'<input checked[^>]*name="roles"[^>]*value="(\w+)"', body))
    return values


def test_new_call_from_a_notification_is_prefilled_then_saved_with_its_link(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall

    apply_by, nominate_by = TODAY + dt.timedelta(days=40), TODAY + dt.timedelta(days=55)
    title = ("EM/2024/46: Call for nominations for fellows for the methodological assessment of integrated "
             "biodiversity-inclusive spatial planning and ecological connectivity")
    nid = _notification(app, title, f"Candidates should complete the application form by {_long(apply_by)}. "
                                    f"Nominating Governments should approve the nominations by {_long(nominate_by)}.")
    with app.app_context():
        national = db.session.scalar(sa.text(f"SELECT national_deadline FROM notifications WHERE id = {nid}"))
        national = national if isinstance(national, dt.date) else dt.date.fromisoformat(national)
        spatial = db.session.scalar(sa.text("SELECT id FROM deliverables WHERE code = 'spatial-planning'"))
    response = staff_client.get(f"/calls/new?notification_id={nid}")
    assert response.status_code == 200
    body = _text(response)
    values = _field_values(body)
    assert (values["title"], values["call_kind"], values["deliverable_id"], values["roles"]) == (
        title, ["fellow_call"], [str(spatial)], ["FELLOW"])
    assert (values["application_deadline"], values["nomination_deadline"], values["national_deadline"],
            values["notification_id"]) == (apply_by.isoformat(), nominate_by.isoformat(), national.isoformat(),
                                           str(nid))
    assert _alerts(body) == []

    later = national + dt.timedelta(days=2)
    response = staff_client.post("/calls/new", data={
        "title": title, "call_kind": "fellow_call", "deliverable_id": str(spatial), "roles": ["FELLOW"],
        "description": "", "keywords": "spatial planning; connectivity", "opens_on": "",
        "application_deadline": apply_by.isoformat(), "nomination_deadline": nominate_by.isoformat(),
        "national_deadline": later.isoformat(), "reminder_days": "7; 2", "notification_id": str(nid)},
        follow_redirects=True)
    assert _alerts(_text(response)) == ["Call opened."]
    with app.app_context():
        call = db.session.scalar(sa.select(NominationCall))
        assert response.request.path == f"/calls/{call.id}"
        assert (call.notification_id, call.call_kind, call.deliverable_id, [t.code for t in call.roles_sought],
                call.national_deadline, call.reminder_days, call.keywords) == (
            nid, "fellow_call", spatial, ["FELLOW"], later, "7;2", "spatial planning; connectivity")
    # a second visit warns that a call exists for this notification
    body = _text(staff_client.get(f"/calls/new?notification_id={nid}"))
    assert _alerts(body) == [f"A call already exists for this notification: {title}"]


def test_new_call_without_a_notification_and_refusals(app, staff_client):
    assert _field_values(_text(staff_client.get("/calls/new")))["roles"] == ["CLA", "LA", "RE"]
    assert staff_client.get("/calls/new?notification_id=999999").status_code == 404
    base = {"title": "Scoping experts", "call_kind": "expert_call", "deliverable_id": "0", "roles": ["LA"],
            "national_deadline": (TODAY + dt.timedelta(days=10)).isoformat(),
            "nomination_deadline": (TODAY + dt.timedelta(days=5)).isoformat(), "reminder_days": "7;2"}
    response = staff_client.post("/calls/new", data=base)
    assert response.status_code == 400
    assert _alerts(_text(response)) == ["The national deadline comes after the secretariat's nomination deadline: "
                                        "there would be no time left to submit the nominations."]
    response = staff_client.post("/calls/new", data={**base, "national_deadline": "", "reminder_days": "soon"})
    assert response.status_code == 400
    assert _alerts(_text(response)) == ["National deadline: This field is required.",
                                        "Reminders (days before the national deadline): Numbers of days separated "
                                        "by semicolons: 7;2"]
    response = staff_client.post("/calls/new", data={**base, "nomination_deadline": ""})
    assert response.status_code == 302
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.nominations.models import NominationCall

        assert db.session.scalars(sa.select(NominationCall.title)).all() == ["Scoping experts"]


def test_edit_changes_the_call_and_lock_then_unlock(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall

    call_id = _call(app)
    values = _field_values(_text(staff_client.get(f"/calls/{call_id}/edit")))
    assert (values["title"], values["roles"]) == ("Nexus call: water quality, food security and health",
                                                  ["CLA", "LA", "RE"])
    response = staff_client.post(f"/calls/{call_id}/edit", data={
        "title": "Nexus call (edited)", "call_kind": "expert_call", "deliverable_id": "0", "roles": ["RE"],
        "national_deadline": (TODAY + dt.timedelta(days=3)).isoformat(), "reminder_days": "1"},
        follow_redirects=True)
    assert _alerts(_text(response)) == ["Call saved."]
    assert staff_client.post(f"/calls/{call_id}/lock", data={"lock": "1"}).status_code == 302
    with app.app_context():
        call = db.session.get(NominationCall, call_id)
        assert (call.title, call.deliverable_id, [t.code for t in call.roles_sought], call.reminder_days,
                call.is_locked) == ("Nexus call (edited)", None, ["RE"], "1", True)
    body = _text(staff_client.get(f"/calls/{call_id}"))
    assert "Unlock the call" in body
    staff_client.post(f"/calls/{call_id}/lock", data={"lock": "0"})
    with app.app_context():
        assert db.session.get(NominationCall, call_id).locked_at is None


# --- the list ------------------------------------------------------------------------------------------
def _list_titles(client, query: str = "") -> list[str]:
    body = _text(client.get("/calls" + query))
    return re.findall(r'<td><a href="/calls/\d+">([^<]*)</a>', body)


def test_list_filters_by_state_from_the_dates_deliverable_and_search(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.nominations.services import lock_call

    day = dt.timedelta(days=1)
    with app.app_context():
        store_call("Open nexus call", national=TODAY + 5 * day)
        store_call("Upcoming values call", deliverable="values", opens_on=TODAY + day, national=TODAY + 9 * day)
        store_call("Closed nexus call", national=TODAY - day)
        lock_call(store_call("Locked fellows call", deliverable=None, national=TODAY + 2 * day), actor=None)
        values = db.session.scalar(sa.text("SELECT id FROM deliverables WHERE code = 'values'"))
        db.session.commit()
    assert _list_titles(staff_client) == ["Upcoming values call", "Open nexus call", "Locked fellows call",
                                          "Closed nexus call"]  # national deadline, latest first
    assert _list_titles(staff_client, "?sort=national&dir=asc") == [
        "Closed nexus call", "Locked fellows call", "Open nexus call", "Upcoming values call"]
    assert _list_titles(staff_client, "?state=open") == ["Open nexus call"]
    assert _list_titles(staff_client, "?state=upcoming") == ["Upcoming values call"]
    assert _list_titles(staff_client, "?state=closed") == ["Closed nexus call"]
    assert _list_titles(staff_client, "?state=locked") == ["Locked fellows call"]
    assert _list_titles(staff_client, f"?deliverable={values}") == ["Upcoming values call"]
    assert _list_titles(staff_client, "?q=nexus&sort=title&dir=asc") == ["Closed nexus call", "Open nexus call"]
    assert _list_titles(staff_client, "?q=valuation") == ["Upcoming values call"]  # the deliverable's name
    assert _list_titles(staff_client, "?q=%25") == []


def test_list_shows_counts_per_invitation_and_slate_state_in_a_constant_number_of_queries(app, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.services import add_candidate

    def seed(start: int, count: int) -> None:
        with app.app_context():
            for i in range(start, start + count):
                call = store_call(f"Call {i:02d}")
                for j, state in enumerate([InvitationState.PENDING, InvitationState.PENDING, InvitationState.DECLINED,
                                           InvitationState.ACCEPTED]):
                    expert_id = store_expert("E", f"{i}-{j}", email=f"e{i}-{j}@example.org")
                    db.session.add(Invitation(
                        call_id=call.id, expert_id=expert_id, state=state, token_hash=f"{i:032d}{j:032d}",
                        expires_at=dt.datetime.now(dt.timezone.utc),
                        responded_at=None if state == InvitationState.PENDING else dt.datetime.now(dt.timezone.utc)))
                    if state == InvitationState.ACCEPTED:
                        add_candidate(call, db.session.get(Expert, expert_id), actor=None)
            db.session.commit()

    def queries(url: str) -> tuple[int, str]:
        with app.app_context():
            from focalpoint.extensions import db as _db
            engine = _db.engine
        seen = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", listener)
        body = _text(staff_client.get(url))
        sa.event.remove(engine, "before_cursor_execute", listener)
        return len(seen), body

    seed(0, 2)
    few, body = queries("/calls")
    rows = re.findall(r"<tr>\s*<td><a href=\"/calls/\d+\">(Call \d+)</a>.*?</tr>", body, re.S)
    assert rows == ["Call 01", "Call 00"]
    counts = re.findall(r'<td class="small">(.*?)</td>', body, re.S)
    flat = [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in counts]
    assert flat[:2] == ["Waiting for an answer: 2 Accepted: 1 Declined: 1", "Candidate: 1"]
    seed(2, 20)
    many, _body = queries("/calls")
    assert many == few


# --- a call's page -----------------------------------------------------------------------------------------
def test_detail_shows_deadlines_with_days_left_invitations_slate_and_leads(app, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import Lead
    from focalpoint.nominations.services import add_candidate

    national = TODAY + dt.timedelta(days=12)
    with app.app_context():
        call = store_call(national=national, nomination=TODAY + dt.timedelta(days=30))
        ann = store_expert("Ann", "Peeters")
        db.session.add(Invitation(call_id=call.id, expert_id=ann, state=InvitationState.ACCEPTED,
                                  token_hash="c" * 64, expires_at=dt.datetime.now(dt.timezone.utc),
                                  responded_at=dt.datetime.now(dt.timezone.utc), role_wanted="LA",
                                  has_conflict=True))
        add_candidate(call, db.session.get(Expert, ann), actor=None, role="LA")
        db.session.add(Lead(call_id=call.id, suggested_by_id=ann, name="Greet Vos", email="greet@example.org",
                            note="Works on wetlands."))
        db.session.commit()
        call_id = call.id
    body = _text(staff_client.get(f"/calls/{call_id}"))
    left = (national - BRUSSELS_TODAY).days
    assert f"{national:%b} {national.day}, {national.year}</strong> <span class=\"badge text-bg-light border\">" \
           f"in {left} days</span>" in body
    assert re.findall(r'<p class="small">(.*?)</p>', body, re.S)[:2] and \
        [" ".join(re.sub(r"<[^>]+>", "", p).split()) for p in re.findall(r'<p class="small">(.*?)</p>', body, re.S)] \
        == ["Candidate: 1", "Accepted: 1"]
    assert 'href="/experts/%d">Ann Peeters</a>' % ann in body
    assert "conflict of interest declared" in body
    assert re.findall(r'name="decision" value="(\w+)"', body) == ["endorsed", "not_endorsed", "withdrawn"]
    assert "<strong>Greet Vos</strong> · greet@example.org" in body
    assert re.findall(r'name="status" value="(\w+)"', body) == ["dismissed", "invited"]
    assert 'href="/calls/%d/invite"' % call_id in body
    assert staff_client.get("/calls/999999").status_code == 404


# --- the slate's decisions ------------------------------------------------------------------------------------
def _slate(app, names=("Ann", "Bart", "Chloé")) -> tuple[int, list[int]]:
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.nominations.services import add_candidate

    with app.app_context():
        call = store_call()
        ids = [add_candidate(call, db.session.get(Expert, store_expert(n, "Slate", email=f"{i}@slate.example")),
                             actor=None, role="LA").id for i, n in enumerate(names)]
        db.session.commit()
        return call.id, ids


def _nomination(app, nomination_id):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination

    with app.app_context():
        n = db.session.get(Nomination, nomination_id)
        return n.state.value, n.rationale, n.version, n.rank, n.selected_role


def test_decisions_through_the_page_from_endorsement_to_selection(app, staff_client):
    from focalpoint.experts.models import PastRole
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    call_id, (a, _b, _c) = _slate(app)
    url = f"/calls/{call_id}/slate/{a}/decision"
    version = _nomination(app, a)[2]
    response = staff_client.post(url, data={"version": version, "decision": "endorsed", "rationale": ""},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Give the rationale of the decision (it goes to the steering committee)."]
    response = staff_client.post(url, data={"version": version, "decision": "endorsed", "rationale": "Strong."},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Ann Slate: Endorsed."]
    state, rationale, version, _rank, _role = _nomination(app, a)
    assert (state, rationale) == ("endorsed", "Strong.")
    response = staff_client.post(url, data={"version": version, "decision": "submitted", "notify": "y"},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Ann Slate: Submitted."]
    version = _nomination(app, a)[2]
    response = staff_client.post(url, data={"version": version, "decision": "selected", "selected_role": ""},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Say which role the secretariat selected the expert for."]
    response = staff_client.post(url, data={"version": version, "decision": "selected", "selected_role": "CLA"},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Ann Slate: Selected."]
    assert _nomination(app, a)[0] == "selected"
    with app.app_context():
        assert db.session.execute(sa.select(PastRole.role, PastRole.source)).all() == [("CLA", "selection")]
        assert db.session.scalars(sa.select(OutboxMessage.subject)).all() == [
            "Your nomination was submitted to IPBES: Nexus call: water quality, food security and health"]
    response = staff_client.post(url, data={"version": _nomination(app, a)[2], "decision": "withdrawn"},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["A nomination cannot go from selected to withdrawn."]


def test_a_stale_form_is_refused_with_a_message_and_changes_nothing(app, staff_client):
    call_id, (a, b, _c) = _slate(app)
    old = _nomination(app, a)[2]
    response = staff_client.post(f"/calls/{call_id}/slate/{a}/decision",
                                 data={"version": old, "decision": "endorsed", "rationale": "First look."},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Ann Slate: Endorsed."]
    response = staff_client.post(f"/calls/{call_id}/slate/{a}/decision",
                                 data={"version": old, "decision": "not_endorsed", "rationale": "Second look."},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == [
        "Someone changed this candidate since you opened the page; nothing was saved. The page now shows the "
        "current state: check it and try again."]
    assert _nomination(app, a)[:2] == ("endorsed", "First look.")
    response = staff_client.post(f"/calls/{call_id}/slate/{b}/rank", data={"version": "0", "move": "up"},
                                 follow_redirects=True)
    assert _alerts(_text(response))[0].startswith("Someone changed this candidate")
    assert _nomination(app, b)[3] is None


def test_ranking_through_the_page(app, staff_client):
    call_id, (a, b, c) = _slate(app)
    response = staff_client.post(f"/calls/{call_id}/slate/{c}/rank",
                                 data={"version": _nomination(app, c)[2], "move": "up"}, follow_redirects=True)
    assert _alerts(_text(response)) == ["Chloé Slate is now number 2."]
    staff_client.post(f"/calls/{call_id}/slate/{a}/rank", data={"version": _nomination(app, a)[2], "move": "set",
                                                                 "rank": "3"})
    body = _text(staff_client.get(f"/calls/{call_id}"))
    assert re.findall(r'<tr id="nomination-\d+">.*?>(\w+ Slate)<', body, re.S) == ["Chloé Slate", "Bart Slate",
                                                                                   "Ann Slate"]
    assert [_nomination(app, i)[3] for i in (a, b, c)] == [3, 2, 1]
    response = staff_client.post(f"/calls/{call_id}/slate/{a}/rank", data={"version": _nomination(app, a)[2],
                                                                            "move": "set", "rank": ""},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Give a rank number."]


def test_add_a_candidate_by_email_and_set_a_lead_status(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Lead, Nomination

    with app.app_context():
        call = store_call()
        store_expert("Ann", "Peeters", email="ann@example.org")
        lead = Lead(call_id=call.id, name="Greet Vos")
        db.session.add(lead)
        db.session.commit()
        call_id, lead_id = call.id, lead.id
    response = staff_client.post(f"/calls/{call_id}/slate", data={"email": "ANN@example.org", "came_forward": "y"},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["Ann Peeters is on the slate."]
    response = staff_client.post(f"/calls/{call_id}/slate", data={"email": "nobody@example.org"},
                                 follow_redirects=True)
    assert _alerts(_text(response)) == ["No active expert in the registry has this e-mail address."]
    staff_client.post(f"/calls/{call_id}/leads/{lead_id}", data={"status": "dismissed"})
    with app.app_context():
        assert db.session.execute(sa.select(Nomination.state, Nomination.came_forward)).all() == [("candidate", True)]
        assert db.session.get(Lead, lead_id).status == "dismissed"
    assert staff_client.post(f"/calls/{call_id}/leads/{lead_id}", data={"status": "bogus"},
                             follow_redirects=True).status_code == 200
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == "dismissed"


def test_export_slate_xlsx(app, staff_client):
    from openpyxl import load_workbook

    call_id, _ids = _slate(app, ("Ann", "Bart"))
    response = staff_client.get(f"/calls/{call_id}/slate.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == f'attachment; filename="slate-call-{call_id}.xlsx"'
    ws = load_workbook(io.BytesIO(response.data)).active
    assert [[c.value for c in row][:3] for row in ws.iter_rows(min_row=5)] == [[1, "Ann Slate", None],
                                                                               [2, "Bart Slate", None]]


# --- matches --------------------------------------------------------------------------------------------------
def test_matches_page_ranks_explains_offers_invitations_and_shows_the_balance(app, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.nominations.services import add_candidate

    with app.app_context():
        ids = store_registry()
        call = store_call(**REGISTRY_CALL)
        add_candidate(call, db.session.get(Expert, ids["femke"]), actor=None)
        add_candidate(call, db.session.get(Expert, ids["ann"]), actor=None)
        db.session.commit()
        call_id = call.id
    response = staff_client.get(f"/calls/{call_id}/matches")
    assert response.status_code == 200
    body = _text(response)
    names = re.findall(r'<td><a href="/experts/\d+">([^<]+)</a>', body)
    assert names == ["Ann Peeters", "David Maes", "Bart Claes", "Elise Janssens", "Femke Wouters", "Chloé Dubois"]
    assert re.findall(r'<td class="fw-semibold">(-?\d+)</td>', body) == ["106", "40", "25", "0", "0", "-37"]
    # offered for invitation: consent given, not invited yet, not on the slate (unavailable ones stay, flagged)
    assert re.findall(r'name="expert_id" value="(\d+)"', body) == [str(ids["bart"]), str(ids["elise"]),
                                                                   str(ids["chloe"])]
    assert re.search(r'<form method="get" action="/calls/%d/invite" id="pick">' % call_id, body)
    assert "<li>wants LA, RE</li>" in body
    assert ">no consent to be contacted</span>" in body
    assert ">on the slate (candidate)</span>" in body
    # balance of the slate (Ann and Femke): inline SVG with a title, and a table for screen readers
    assert "Of the slate (candidates, endorsed, submitted and selected): 2 experts." in body
    assert re.search(r'<title id="balance-gender-title">Gender: Female 50% \(1\), Male 0% \(0\), Non-binary 0% \(0\), '
                     r'Undisclosed 0% \(0\), Not stated 50% \(1\)</title>', body)
    assert re.findall(r'<rect x="150" y="\d+" width="([\d.]+)" height="12" fill="#0d6efd">',
                      body.split('id="balance-region"')[1].split("</svg>")[0]) == ["70.0", "0.0", "0.0", "70.0",
                                                                                   "0.0", "0.0"]
    assert '<th scope="row">Flanders</th><td>1</td><td>50%</td>' in body
    assert "style=" not in body.split("<main")[1]  # the CSP forbids inline styles


def test_matches_filters_pagination_and_a_preview_of_the_checked_experts(app, staff_client):
    with app.app_context():
        from focalpoint.extensions import db

        ids = store_registry()
        call_id = store_call(**REGISTRY_CALL).id
        db.session.commit()
    body = _text(staff_client.get(f"/calls/{call_id}/matches?region=flanders"))
    assert re.findall(r'<td><a href="/experts/\d+">([^<]+)</a>', body) == ["Ann Peeters", "David Maes"]
    body = _text(staff_client.get(f"/calls/{call_id}/matches?min_score=1&career_stage=early"))
    assert re.findall(r'<td><a href="/experts/\d+">([^<]+)</a>', body) == ["David Maes"]
    body = _text(staff_client.get(f"/calls/{call_id}/matches?limit=10&page=1&gender=female&discipline=ilk"))
    assert re.findall(r'<td><a href="/experts/\d+">([^<]+)</a>', body) == ["Chloé Dubois"]
    body = _text(staff_client.get(f"/calls/{call_id}/matches?expert_id={ids['ann']}&expert_id={ids['bart']}"
                                  f"&expert_id={ids['chloe']}&expert_id=x"))
    assert "Of the checked experts: 3 experts." in body
    assert re.search(r'<title id="balance-ilk-title">Indigenous and local knowledge: ILK 33% \(1\), '
                     r'Not ILK 67% \(2\)</title>', body)
    assert re.findall(r'name="expert_id" value="(\d+)" id="pick-\d+" checked', body) == [
        str(ids["ann"]), str(ids["bart"]), str(ids["chloe"])]
    assert staff_client.get("/calls/999999/matches").status_code == 404


def test_a_calls_page_and_its_matches_issue_as_many_queries_with_3_or_30_candidates(app, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import Lead
    from focalpoint.nominations.services import add_candidate, decide_endorsement

    def seed(title: str, count: int) -> int:
        with app.app_context():
            call = store_call(title)
            for i in range(count):
                expert_id = store_expert("C", f"{title}{i}", email=f"{title}{i}@example.org",
                                         tags=[("discipline", "ilk"), ("expert_role", "LA")], deliverables=["nexus"],
                                         past_roles=[("LA", "nexus", 2019, 2022)])
                db.session.add(Invitation(call_id=call.id, expert_id=expert_id, state=InvitationState.ACCEPTED,
                                          token_hash=f"{title}-{i}-".ljust(64, "0"),
                                          expires_at=dt.datetime.now(dt.timezone.utc),
                                          responded_at=dt.datetime.now(dt.timezone.utc)))
                n = add_candidate(call, db.session.get(Expert, expert_id), actor=None)
                decide_endorsement(n, endorsed=bool(i % 2), rationale=f"reason {i}", actor=None)
                db.session.add(Lead(call_id=call.id, name=f"Lead {i}"))
            db.session.commit()
            return call.id

    def count(url: str) -> int:
        with app.app_context():
            engine = db.engine
        seen = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", listener)
        assert staff_client.get(url).status_code == 200
        sa.event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    small, large = seed("small", 3), seed("large", 30)
    for page in ("", "/matches", "/edit"):
        assert count(f"/calls/{small}{page}") == count(f"/calls/{large}{page}"), page
