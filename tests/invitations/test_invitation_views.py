"""Invitation pages: composing and sending (staff), answering through the link, templates, experts' own list."""
from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest
import sqlalchemy as sa
from invitation_helpers import (LINK, PDF, TODAY, audit_actions, invitation, latest_token, make_call, make_expert,
                                move_deadline, nominations, outbox, seed_templates, send, update_invitation, utc)

from conftest import PASSWORD, login


def _text(response) -> str:
    return response.get_data(as_text=True)


def _accept(client, token, **changes):
    data = {"action": "accept", "accept-role": "LA", "accept-motivation": "I co-authored the values assessment.",
            "accept-availability": "Not in August", "accept-has_conflict": "no", "accept-conflict_note": ""}
    data.update(changes)
    return client.post(f"/respond/{token}", data=data, content_type="multipart/form-data")


def _decline(client, token, **changes):
    data = {"action": "decline", "decline-reason": "Too busy this year.", "decline-colleague_name": "",
            "decline-colleague_email": ""}
    data.update(changes)
    return client.post(f"/respond/{token}", data=data)


# --- composing and sending ---------------------------------------------------------------------------
def test_compose_lists_the_selected_experts_and_sets_apart_those_not_to_invite(app, staff_client):
    seed_templates(app)
    call_id = make_call(app)
    fine = make_expert(app, "fine@example.org", "Fiona", "Fine", language="fr")
    silent = make_expert(app, "silent@example.org", "Sam", "Silent", consent=False)
    old = make_expert(app, "old@example.org", "Olga", "Old")
    send(app, call_id, [old])
    response = staff_client.get(f"/calls/{call_id}/invite?expert_id={fine}&expert_id={silent}&expert_id={old}"
                                "&expert_id=999999&expert_id=x")
    assert response.status_code == 200
    body = _text(response)
    assert "1 expert will be invited" in body
    assert "Fiona Fine <span class=\"text-body-secondary\">&lt;fine@example.org&gt; · French</span>" in body
    assert "Sam Silent: has not consented to be contacted" in body
    assert "Olga Old: already invited to this call" in body
    assert '<option selected value="Standard invitation">Standard invitation</option>' in body
    assert 'href="/calls/%d"' % call_id in body


def test_preview_shows_each_experts_message_and_sends_nothing(app, staff_client):
    seed_templates(app)
    call_id = make_call(app, deadline=dt.date(2031, 3, 31))
    fr = make_expert(app, "chloe@example.org", "Chloé", "Martin", language="fr")
    en = make_expert(app, "ann@example.org", "Ann", "Smith", language="en")
    response = staff_client.post(f"/calls/{call_id}/invite", data={
        "expert_id": [str(fr), str(en)], "template": "Standard invitation", "action": "preview"})
    assert response.status_code == 200
    body = _text(response)
    previews = re.findall(r'<article class="border rounded p-3 mb-3 preview" aria-label="([^"]+)">.*?<strong>(.*?)'
                          r'</strong>', body, re.S)
    assert previews == [("Chloé Martin", "Invitation : Nexus assessment: call for experts"),
                        ("Ann Smith", "Invitation: Nexus assessment: call for experts")]
    assert "Merci de répondre au plus tard le 31 mars 2031" in body
    assert "Please answer by March 31, 2031" in body
    assert body.count("http://focalpoint.test/respond/personal-link-made-when-sending") == 3  # 2 + the explanation
    assert outbox(app) == []
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.invitations.models import Invitation

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0


def test_sending_creates_invitations_and_mail_with_links_from_base_url_not_host(app, make_user):
    seed_templates(app)
    call_id = make_call(app, deadline=dt.date(2031, 1, 15))
    a = make_expert(app, "ann@example.org", "Ann", "Smith")
    b = make_expert(app, "bert@example.org", "Bert", "Janssens", language="nl")
    make_user("staff@example.org", "staff")
    staff_client = app.test_client()
    evil = "http://evil.example"
    assert staff_client.post("/login", data={"email": "staff@example.org", "password": PASSWORD},
                             base_url=evil).status_code == 302
    response = staff_client.post(f"/calls/{call_id}/invite", base_url=evil,
                                 data={"expert_id": [str(a), str(b)], "template": "Standard invitation",
                                       "action": "send"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{call_id}"
    mails = outbox(app, category="invitation")
    assert [(m["to_addr"], m["subject"], m["idem_key"]) for m in mails] == [  # by name: Janssens, Smith
        ("bert@example.org", "Uitnodiging: Nexus assessment: call for experts", "invitation:1:send:1"),
        ("ann@example.org", "Invitation: Nexus assessment: call for experts", "invitation:2:send:1"),
    ]
    for mail in mails:
        assert "evil.example" not in mail["text_body"] + mail["html_body"]
        [token] = set(LINK.findall(mail["text_body"]))
        assert LINK.findall(mail["html_body"]) == [token, token, token]  # the text's link, its anchor, the button
        assert mail["html_body"].startswith("<!doctype html>")
        row = invitation(app, mail["related_id"])
        assert row["state"].value == "pending"
        assert row["expires_at"] == utc(2031, 1, 15, 23)
        assert row["token_hash"] != token and len(row["token_hash"]) == 64
        assert "{link}" in row["body"] and token not in row["body"]
        assert audit_actions(app, "invitations", row["id"])[0][0] == "invitation.sent"
    assert "Gelieve uiterlijk op 15 januari 2031 te antwoorden" in mails[0]["text_body"]
    again = staff_client.post(f"/calls/{call_id}/invite", base_url=evil,
                              data={"expert_id": [str(a)], "template": "Standard invitation", "action": "send"})
    assert again.status_code == 200
    assert "No one among the selected experts can be invited." in _text(again)
    assert len(outbox(app, category="invitation")) == 2


def test_custom_text_with_an_unknown_placeholder_is_refused_with_a_message(app, staff_client):
    call_id = make_call(app)
    a = make_expert(app, "ann@example.org")
    response = staff_client.post(f"/calls/{call_id}/invite", data={
        "expert_id": str(a), "template": "", "subject": "About {call}", "body": "Hi {nom}, {link}", "action": "send"})
    assert response.status_code == 200
    assert "Unknown placeholder(s): {nom}." in _text(response)
    assert outbox(app) == []


def test_custom_text_is_sent_as_written(app, staff_client):
    call_id = make_call(app)
    a = make_expert(app, "ann@example.org", "Ann", "Smith", language="fr")
    response = staff_client.post(f"/calls/{call_id}/invite", data={
        "expert_id": str(a), "template": "", "subject": "About {call}", "body": "Hi {first_name},\n\nanswer: {link}",
        "action": "send"})
    assert response.status_code == 302
    [mail] = outbox(app)
    assert mail["subject"] == "About Nexus assessment: call for experts"
    token = latest_token(app, mail["related_id"])
    assert mail["text_body"].startswith(f"Hi Ann,\n\nanswer: http://focalpoint.test/respond/{token}\n")


def test_no_invitation_once_the_call_is_locked_or_past_its_deadline(app, staff_client):
    seed_templates(app)
    a = make_expert(app, "ann@example.org")
    for call_id, message in ((make_call(app, "Locked", locked=True), "The call is locked: answers are closed."),
                             (make_call(app, "Late", deadline=TODAY - dt.timedelta(days=1)),
                              "The national deadline has passed: move it before inviting.")):
        page = staff_client.get(f"/calls/{call_id}/invite?expert_id={a}")
        assert message in _text(page)
        response = staff_client.post(f"/calls/{call_id}/invite", data={
            "expert_id": str(a), "template": "Standard invitation", "action": "send"})
        assert response.status_code == 200
        assert message in _text(response)
    assert outbox(app) == []


# --- the link ------------------------------------------------------------------------------------------
@pytest.fixture
def sent(app):
    """One call seeking LA and CLA, one invitation to Ann; returns (call_id, expert_id, invitation_id, token)."""
    call_id = make_call(app, deadline=TODAY + dt.timedelta(days=10), application_deadline=dt.date(2031, 4, 1),
                        description="Chapter authors for the nexus assessment.")
    expert_id = make_expert(app, "ann@example.org", "Ann", "Smith")
    [inv_id] = send(app, call_id, [expert_id])
    return call_id, expert_id, inv_id, latest_token(app, inv_id)


def test_the_link_shows_the_call_without_an_account_and_leaks_nothing(app, sent):
    call_id, _, _, token = sent
    response = app.test_client().get(f"/respond/{token}")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    body = _text(response)
    assert "<h1 class=\"h3\">Nexus assessment: call for experts</h1>" in body
    assert "Values (diverse values and valuation of nature)" in body
    assert "Coordinating lead author, Lead author" in body
    assert "Chapter authors for the nexus assessment." in body
    assert "You have not answered yet." in body
    assert token not in body  # the forms post to the page's own address
    assert body.count('<form method="post"') == 2


def test_a_wrong_or_tampered_link_gives_a_clear_404(app, sent):
    token = sent[3]
    tampered = token[:-3] + ("abc" if not token.endswith("abc") else "abd")
    for target in ("wrong", "x" * 43, tampered, token.upper(), "a" * 200, "%2e%2e", token + "x"):
        for method in ("get", "post"):
            response = getattr(app.test_client(), method)(f"/respond/{target}", data={"action": "accept"})
            assert response.status_code == 404, (target, method)
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert "This link does not work" in _text(response)
            assert "use the link in the most recent e-mail" in _text(response)
    assert invitation(app, sent[2])["state"].value == "pending"


def test_accepting_records_the_answer_and_puts_the_expert_on_the_slate(app, sent):
    call_id, expert_id, inv_id, token = sent
    client = app.test_client()
    response = _accept(client, token, **{"accept-role": "CLA", "accept-has_conflict": "yes",
                                         "accept-conflict_note": "I advise a ministry.",
                                         "accept-cv": (io.BytesIO(PDF), "My CV.pdf")})
    assert response.status_code == 200
    body = _text(response)
    assert "Thank you: your acceptance is recorded." in body
    assert "Your answer: you accept, as Coordinating lead author." in body
    row = invitation(app, inv_id)
    assert (row["state"].value, row["role_wanted"], row["motivation"], row["availability"], row["has_conflict"],
            row["conflict_note"]) == ("accepted", "CLA", "I co-authored the values assessment.", "Not in August",
                                      True, "I advise a ministry.")
    assert row["responded_at"] is not None
    assert nominations(app, call_id) == [(expert_id, "candidate", "CLA")]
    with app.app_context():
        from focalpoint.experts.models import Expert
        from focalpoint.extensions import db

        expert = db.session.get(Expert, expert_id)
        assert (expert.cv_filename, expert.cv_content_type, expert.cv_size) == ("My CV.pdf", "application/pdf",
                                                                                len(PDF))
    [confirmation] = outbox(app, category="answer-confirmation")
    assert confirmation["to_addr"] == "ann@example.org"
    assert "You declared a conflict of interest" in confirmation["text_body"]


def test_a_second_answer_replaces_the_first_until_the_call_is_locked(app, sent):
    from focalpoint.nominations.models import Lead

    call_id, expert_id, inv_id, token = sent
    client = app.test_client()
    assert _accept(client, token).status_code == 200
    response = _decline(client, token, **{"decline-colleague_name": "Bea Colleague",
                                          "decline-colleague_email": "Bea@Example.org"})
    assert response.status_code == 200
    assert "Your answer: you decline." in _text(response)
    row = invitation(app, inv_id)
    assert (row["state"].value, row["decline_reason"]) == ("declined", "Too busy this year.")
    assert nominations(app, call_id) == [(expert_id, "withdrawn", "LA")]
    with app.app_context():
        from focalpoint.extensions import db

        leads = [(lead.call_id, lead.suggested_by_id, lead.name, lead.email, lead.status)
                 for lead in db.session.scalars(sa.select(Lead))]
    assert leads == [(call_id, expert_id, "Bea Colleague", "bea@example.org", "new")]
    assert _accept(client, token, **{"accept-role": "CLA"}).status_code == 200
    assert nominations(app, call_id) == [(expert_id, "candidate", "CLA")]
    assert _accept(client, token, **{"accept-role": "LA", "accept-motivation": "Changed"}).status_code == 200
    assert invitation(app, inv_id)["motivation"] == "Changed"
    assert nominations(app, call_id) == [(expert_id, "candidate", "LA")]
    assert [m["subject"].split(" — ")[0] for m in outbox(app, category="answer-confirmation")] == [
        "Your answer: you accept", "Your answer: you decline", "Your answer: you accept", "Your answer: you accept"]
    history = [a for a, _ in audit_actions(app, "invitations", inv_id)]
    assert history == ["invitation.sent", "invitation.answer", "invitation.state", "invitation.answer",
                       "invitation.state", "invitation.answer", "invitation.state", "invitation.answer"]

    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.nominations.models import NominationCall

        db.session.get(NominationCall, call_id).locked_at = utc(2026, 1, 1)
        db.session.commit()
    for response in (client.get(f"/respond/{token}"), _decline(client, token)):
        assert response.status_code == 410
        assert "Answers are closed" in _text(response)
        assert "Your answer: you accept, as Lead author." in _text(response)
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert invitation(app, inv_id)["state"].value == "accepted"


def test_a_decline_with_only_a_colleagues_email_is_refused(app, sent):
    _, _, inv_id, token = sent
    response = _decline(app.test_client(), token, **{"decline-colleague_email": "bea@example.org"})
    assert response.status_code == 200
    assert "Give the colleague&#39;s name with their e-mail address." in _text(response)
    assert invitation(app, inv_id)["state"].value == "pending"


def test_accepting_needs_a_role_sought_a_motivation_and_a_note_for_a_conflict(app, sent):
    _, _, inv_id, token = sent
    client = app.test_client()
    body = _text(_accept(client, token, **{"accept-role": "RE", "accept-motivation": "",
                                           "accept-has_conflict": "yes"}))
    assert "Not a valid choice." in body
    assert "This field is required." in body
    assert "Describe the conflict of interest." in body
    assert invitation(app, inv_id)["state"].value == "pending"


def test_a_cv_that_is_not_a_pdf_or_docx_is_refused_and_nothing_is_recorded(app, sent):
    call_id, _, inv_id, token = sent
    response = _accept(app.test_client(), token, **{"accept-cv": (io.BytesIO(b"MZ\x90\x00 not a cv"), "cv.pdf")})
    assert response.status_code == 200
    assert "A CV must be a PDF or a Word (DOCX) document." in _text(response)
    assert invitation(app, inv_id)["state"].value == "pending"
    assert nominations(app, call_id) == []


def test_an_expired_link_gives_410_and_a_way_to_ask_for_a_new_one(app, sent):
    call_id, _, inv_id, token = sent
    app.config["STAFF_EMAIL"] = "nfp@example.org"
    move_deadline(app, call_id, TODAY - dt.timedelta(days=1))  # the link's stored expiry is still ahead
    client = app.test_client()
    response = client.get(f"/respond/{token}")
    assert response.status_code == 410
    assert "This invitation has expired" in _text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _accept(client, token).status_code == 410
    assert invitation(app, inv_id)["state"].value == "pending"
    asked = client.post(f"/respond/{token}", data={"action": "request", "request-message": "Still interested!"})
    assert asked.status_code == 200
    assert "Your request was passed on to the national focal point." in _text(asked)
    [mail] = outbox(app, category="link-request")
    assert mail["to_addr"] == "nfp@example.org"
    assert mail["subject"] == "New link asked for: Ann Smith — Nexus assessment: call for experts"
    assert "Still interested!" in mail["text_body"]
    assert f"http://focalpoint.test/invitations/{inv_id}" in mail["text_body"]
    assert token not in mail["text_body"]
    assert audit_actions(app, "invitations", inv_id)[-1] == ("invitation.link_requested",
                                                             {"message": "Still interested!"})
    client.post(f"/respond/{token}", data={"action": "request", "request-message": "Again"})
    assert len(outbox(app, category="link-request")) == 1  # one e-mail to staff a day


def test_an_expired_invitation_gives_410_even_before_its_date(app, sent):
    from focalpoint.invitations.models import InvitationState

    _, _, inv_id, token = sent
    update_invitation(app, inv_id, state=InvitationState.EXPIRED)
    response = app.test_client().get(f"/respond/{token}")
    assert response.status_code == 410
    assert "This invitation has expired" in _text(response)


def test_the_token_never_reaches_the_logs(app, sent, caplog):
    _, _, _, token = sent
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    client.get(f"/respond/{token}")
    _accept(client, token)
    _decline(client, token)
    client.get(f"/respond/{token[:-1]}")
    move_deadline(app, sent[0], TODAY - dt.timedelta(days=1))
    client.post(f"/respond/{token}", data={"action": "request"})
    assert token not in caplog.text
    assert token[:20] not in caplog.text


# --- staff: resend and remind ------------------------------------------------------------------------------
def test_resend_makes_a_new_link_and_the_old_one_stops_working(app, staff_client, sent):
    from focalpoint.invitations.models import InvitationState

    call_id, _, inv_id, old = sent
    update_invitation(app, inv_id, state=InvitationState.EXPIRED)
    response = staff_client.post(f"/invitations/{inv_id}/resend")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{call_id}"
    new = latest_token(app, inv_id)
    assert new != old
    assert [m["idem_key"] for m in outbox(app, category="invitation")] == [f"invitation:{inv_id}:send:1",
                                                                          f"invitation:{inv_id}:send:2"]
    assert invitation(app, inv_id)["state"].value == "pending"
    assert ("invitation.state", {"previous": "expired", "new": "pending", "note": "sent again"}) in \
        audit_actions(app, "invitations", inv_id)
    client = app.test_client()
    assert client.get(f"/respond/{old}").status_code == 404
    assert client.get(f"/respond/{new}").status_code == 200


def test_an_answered_invitation_is_not_sent_again(app, staff_client, sent):
    call_id, _, inv_id, token = sent
    _accept(app.test_client(), token)
    response = staff_client.post(f"/invitations/{inv_id}/resend", follow_redirects=False)
    assert response.status_code == 302
    assert len(outbox(app, category="invitation")) == 1
    with staff_client.session_transaction() as session:
        assert session["_flashes"] == [("danger", "Only an invitation without an answer can be sent again.")]


def test_remind_now_sends_one_reminder_a_day(app, staff_client, sent):
    call_id, _, inv_id, old = sent
    response = staff_client.post(f"/invitations/{inv_id}/remind")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{call_id}"
    staff_client.post(f"/invitations/{inv_id}/remind")
    [mail] = outbox(app, category="reminder")
    assert mail["idem_key"] == f"invitation:{inv_id}:reminder:manual:{TODAY.isoformat()}"
    assert mail["subject"] == "Reminder: Invitation: Nexus assessment: call for experts"
    assert "This link replaces the one in our earlier e-mails" in mail["text_body"]
    row = invitation(app, inv_id)
    assert (row["reminders_sent"], row["last_reminded_at"] is not None) == (1, True)
    client = app.test_client()
    assert client.get(f"/respond/{old}").status_code == 404
    assert client.get(f"/respond/{latest_token(app, inv_id)}").status_code == 200


# --- access: experts see their own, nothing else ------------------------------------------------------------
def test_experts_see_their_own_invitations_and_history_only(app, make_user, sent):
    call_id, ann_id, ann_inv, token = sent
    ann_user = make_user("ann.user@example.org", "expert")
    bob_user = make_user("bob.user@example.org", "expert")
    with app.app_context():
        from focalpoint.experts.models import Expert
        from focalpoint.extensions import db

        db.session.get(Expert, ann_id).user_id = ann_user
        db.session.commit()
    bob_id = make_expert(app, "bob@example.org", "Bob", "Other", user_id=bob_user)
    other_call = make_call(app, "Secret call about spatial planning")
    [bob_inv] = send(app, other_call, [bob_id])
    _decline(app.test_client(), latest_token(app, bob_inv), **{"decline-reason": "Bob's private reason"})
    _accept(app.test_client(), token)

    ann = app.test_client()
    assert login(ann, "ann.user@example.org").status_code == 302
    mine = _text(ann.get("/invitations"))
    assert "Nexus assessment: call for experts" in mine
    assert "Answer: accepts, as Lead author" in mine
    assert "Invitation sent" in mine
    assert "Secret call" not in mine
    assert "Bob" not in mine
    detail = ann.get(f"/invitations/{ann_inv}")
    assert detail.status_code == 200
    assert "I co-authored the values assessment." in _text(detail)
    other = ann.get(f"/invitations/{bob_inv}")
    assert other.status_code == 404
    assert "Bob" not in _text(other) and "Secret call" not in _text(other)
    for path in (f"/invitations/{bob_inv}/remind", f"/invitations/{bob_inv}/resend",
                 f"/invitations/{ann_inv}/remind", f"/invitations/{ann_inv}/resend"):
        assert ann.post(path).status_code == 403
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.invitations.models import InvitationTemplate

        template_id = db.session.scalar(sa.select(sa.func.min(InvitationTemplate.id)))
    for path in (f"/calls/{call_id}/invite", f"/calls/{other_call}/invite", "/invitations/templates",
                 "/invitations/templates/new", f"/invitations/templates/{template_id}"):
        assert ann.get(path).status_code == 403
    for path in (f"/calls/{call_id}/invite", f"/invitations/templates/{template_id}",
                 f"/invitations/templates/{template_id}/delete"):
        assert ann.post(path, data={"expert_id": str(bob_id), "template": "Standard invitation",
                                    "action": "send"}).status_code == 403
    with app.app_context():
        assert db.session.get(InvitationTemplate, template_id) is not None
    assert len(outbox(app, category="reminder")) == 0
    assert invitation(app, bob_inv)["state"].value == "declined"


def test_an_expert_without_a_record_sees_an_explanation(app, make_user):
    make_user("lonely@example.org", "expert")
    client = app.test_client()
    login(client, "lonely@example.org")
    assert "Your account is not linked to an expert record yet" in _text(client.get("/invitations"))


def test_reviewers_see_no_invitation(app, make_user, sent):
    make_user("rev@example.org", "reviewer")
    client = app.test_client()
    login(client, "rev@example.org")
    for path in ("/invitations", f"/invitations/{sent[2]}", "/invitations/templates", f"/calls/{sent[0]}/invite"):
        assert client.get(path).status_code == 403


# --- templates -------------------------------------------------------------------------------------------
def test_staff_create_edit_and_delete_templates(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.invitations.models import InvitationTemplate

    refused = staff_client.post("/invitations/templates/new", data={
        "name": "Fellows", "language": "en", "subject": "Fellowship: {call}", "body": "Dear {nom}: {link}"})
    assert refused.status_code == 200
    assert "Unknown placeholder(s): {nom}." in _text(refused)
    no_link = staff_client.post("/invitations/templates/new", data={
        "name": "Fellows", "language": "en", "subject": "Fellowship: {call}", "body": "Dear {name}"})
    assert "The text must contain {link}" in _text(no_link)
    created = staff_client.post("/invitations/templates/new", data={
        "name": "Fellows", "language": "en", "subject": "Fellowship: {call}", "body": "Dear {name}: {link}"})
    assert created.status_code == 302
    assert created.headers["Location"] == "/invitations/templates"
    with app.app_context():
        template_id = db.session.scalar(sa.select(InvitationTemplate.id).where(InvitationTemplate.name == "Fellows"))
    listing = _text(staff_client.get("/invitations/templates"))
    assert f'<a href="/invitations/templates/{template_id}">Fellows</a>' in listing
    duplicate = staff_client.post("/invitations/templates/new", data={
        "name": "Fellows", "language": "en", "subject": "Other", "body": "{link}"})
    assert "There is already a template named Fellows in this language." in _text(duplicate)
    edited = staff_client.post(f"/invitations/templates/{template_id}", data={
        "name": "Fellows", "language": "fr", "subject": "Bourse : {call}", "body": "Bonjour {first_name} : {link}"})
    assert edited.status_code == 302
    with app.app_context():
        row = db.session.get(InvitationTemplate, template_id)
        assert (row.language, row.subject, row.body) == ("fr", "Bourse : {call}", "Bonjour {first_name} : {link}")
    assert staff_client.post(f"/invitations/templates/{template_id}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(InvitationTemplate, template_id) is None
    assert [a for a, _ in audit_actions(app, "invitation_templates", template_id)] == [
        "invitation_template.created", "invitation_template.updated", "invitation_template.deleted"]
    assert staff_client.get("/invitations/templates/999999").status_code == 404


def test_even_a_failing_link_page_keeps_the_token_out_of_the_log(app, sent, caplog):
    """The 500 handler logs the route of the link page, not its path (the path is the secret)."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.extensions import db

    token = sent[3]
    failing = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])

    @failing.before_request
    def database_gone():
        raise RuntimeError("the database went away")

    caplog.set_level(logging.DEBUG)
    try:
        response = failing.test_client().get(f"/respond/{token}")
    finally:
        with failing.app_context():
            db.engine.dispose()
    assert response.status_code == 500
    assert "unhandled error on GET /respond/<token>" in caplog.text
    assert token not in caplog.text
    assert token not in response.get_data(as_text=True)
