"""End to end: staff send, the outbox delivers to a real SMTP server (aiosmtpd), the expert follows the
link from the caught message and answers; the confirmation arrives the same way."""
from __future__ import annotations

import datetime as dt

from invitation_helpers import LINK, TODAY, invitation, make_call, make_expert, nominations, path_of, seed_templates
from smtp import SmtpCatcher


def _parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_an_invitation_travels_by_smtp_and_is_answered_through_its_link(app, staff_client):
    from focalpoint.mail import deliver_outbox

    seed_templates(app)
    call_id = make_call(app, deadline=TODAY + dt.timedelta(days=14))
    ann = make_expert(app, "ann@example.org", "Ann", "Smith")
    chloe = make_expert(app, "chloe@example.org", "Chloé", "Martin", language="fr")
    response = staff_client.post(f"/calls/{call_id}/invite", data={
        "expert_id": [str(ann), str(chloe)], "template": "Standard invitation", "action": "send"})
    assert response.status_code == 302

    with SmtpCatcher() as smtp:
        smtp.configure(app)
        with app.app_context():
            assert deliver_outbox()["sent"] == 2
        by_recipient = {m["To"]: m for m in smtp.messages}
        assert sorted(by_recipient) == ["ann@example.org", "chloe@example.org"]
        mail = by_recipient["ann@example.org"]
        assert mail["Subject"] == "Invitation: Nexus assessment: call for experts"
        text, html = _parts(mail)
        [link] = {m.group(0) for m in LINK.finditer(text)}
        assert {m.group(0) for m in LINK.finditer(html)} == {link}
        assert text.startswith("Dear Ann Smith,\n")
        french = by_recipient["chloe@example.org"]
        assert french["Subject"] == "Invitation : Nexus assessment: call for experts"
        assert _parts(french)[0].startswith("Bonjour Chloé Martin,\n")

        client = app.test_client()
        page = client.get(path_of(link))
        assert page.status_code == 200
        assert "You have not answered yet." in page.get_data(as_text=True)
        answer = client.post(path_of(link), data={
            "action": "accept", "accept-role": "LA", "accept-motivation": "Happy to contribute.",
            "accept-availability": "", "accept-has_conflict": "no", "accept-conflict_note": ""})
        assert answer.status_code == 200
        assert "Thank you: your acceptance is recorded." in answer.get_data(as_text=True)

        with app.app_context():
            assert deliver_outbox()["sent"] == 1
        confirmation = smtp.messages[-1]
        assert confirmation["To"] == "ann@example.org"
        assert confirmation["Subject"] == "Your answer: you accept — Nexus assessment: call for experts"
        confirmation_text, confirmation_html = _parts(confirmation)
        assert "we recorded that you accept to be nominated for \"Nexus assessment: call for experts\" as " \
               "Lead author." in confirmation_text
        assert "Lead author" in confirmation_html

    assert sorted((invitation(app, i)["expert_id"], invitation(app, i)["state"].value) for i in (1, 2)) == [
        (ann, "accepted"), (chloe, "pending")]
    assert nominations(app, call_id) == [(ann, "candidate", "LA")]
