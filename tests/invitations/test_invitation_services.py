"""Invitation services: templates and placeholders, language choice, tokens, the state choke point."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from invitation_helpers import (TODAY, audit_actions, invitation, latest_token, make_call, make_expert, nominations,
                                outbox, send, update_invitation, utc)

STATES = ["pending", "accepted", "declined", "expired"]
ALLOWED = {("pending", "accepted"), ("pending", "declined"), ("pending", "expired"), ("accepted", "declined"),
           ("declined", "accepted"), ("expired", "pending")}


# --- templates and placeholders -----------------------------------------------------------------------
def test_unknown_placeholders_are_named_and_refused(app):
    from focalpoint.invitations import services as svc

    with app.app_context():
        assert svc.unknown_placeholders("Dear {name}, by {deadline} see {link} or {Call}") == ["Call", "deadline"]
        with pytest.raises(svc.InvitationError) as exc:
            svc.save_template(None, name="Short", language="en", subject="Hello {name}",
                              body="Answer by {deadline}: {link}", actor=None)
        assert str(exc.value) == ("Unknown placeholder(s): {deadline}. Use only {name}, {first_name}, {call}, "
                                  "{deliverable}, {national_deadline}, {application_deadline}, "
                                  "{nomination_deadline}, {link}.")


def test_a_template_needs_the_link_in_its_text_and_not_in_its_subject(app):
    from focalpoint.invitations import services as svc

    with app.app_context():
        assert svc.template_text_errors("Invitation", "Dear {name}") == {
            "body": "The text must contain {link}: the expert answers through it."}
        assert svc.template_text_errors("Go to {link}", "{link}") == {
            "subject": "The link belongs in the text, not in the subject."}
        assert svc.template_text_errors("Invitation: {call}", "Dear {first_name}, {link}") == {}


def test_default_templates_are_seeded_once_in_three_languages(app):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.invitations.models import InvitationTemplate

    with app.app_context():
        assert svc.seed_default_templates() == 3
        db.session.commit()
        assert svc.seed_default_templates() == 0
        rows = db.session.scalars(sa.select(InvitationTemplate).order_by(InvitationTemplate.language)).all()
        assert [(t.name, t.language) for t in rows] == [("Standard invitation", "en"), ("Standard invitation", "fr"),
                                                        ("Standard invitation", "nl")]
        assert [t.subject for t in rows] == ["Invitation: {call}", "Invitation : {call}", "Uitnodiging: {call}"]
        assert all(svc.template_text_errors(t.subject, t.body) == {} for t in rows)


def test_focalpoint_init_seeds_the_templates_idempotently(app):
    from focalpoint.extensions import db
    from focalpoint.invitations.models import InvitationTemplate

    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert db.session.execute(sa.select(InvitationTemplate.name, InvitationTemplate.language)
                                      .order_by(InvitationTemplate.language)).all() == [
                ("Standard invitation", "en"), ("Standard invitation", "fr"), ("Standard invitation", "nl")]


def test_the_same_name_and_language_cannot_be_saved_twice(app):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc

    with app.app_context():
        svc.save_template(None, name="Short", language="fr", subject="Invitation", body="{link}", actor=None)
        db.session.commit()
        with pytest.raises(svc.InvitationError) as exc:
            svc.save_template(None, name=" Short ", language="fr", subject="Autre", body="{link}", actor=None)
        assert str(exc.value) == "There is already a template named Short in this language."
        svc.save_template(None, name="Short", language="nl", subject="Uitnodiging", body="{link}", actor=None)


@pytest.mark.parametrize(("preferred", "available", "expected"), [
    ("fr", ("en", "fr", "nl"), "fr"),
    ("nl", ("en", "fr", "nl"), "nl"),
    ("nl", ("en", "fr"), "en"),
    ("en", ("fr", "nl"), "fr"),  # no English version: the first there is
])
def test_the_template_in_the_experts_language_else_english(app, preferred, available, expected):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.nominations.models import NominationCall

    call_id = make_call(app, deadline=dt.date(2026, 3, 31), application_deadline=dt.date(2026, 4, 15))
    expert_id = make_expert(app, "chloe@example.org", "Chloé", "Martin", language=preferred)
    with app.app_context():
        for language in available:
            svc.save_template(None, name="Short", language=language, subject=f"[{language}] {{call}}",
                              body=f"[{language}] {{first_name}} — {{application_deadline}} — {{link}}", actor=None)
        message = svc.compose(db.session.get(NominationCall, call_id), db.session.get(Expert, expert_id),
                              template_name="Short")
        assert message.language == expected
        assert message.subject == f"[{expected}] Nexus assessment: call for experts"
        day = {"en": "April 15, 2026", "fr": "15 avril 2026", "nl": "15 april 2026"}[expected]
        assert message.body == f"[{expected}] Chloé — {day} — {{link}}"
        assert message.preview_body() == f"[{expected}] Chloé — {day} — " \
                                         "http://focalpoint.test/respond/personal-link-made-when-sending"


def test_placeholders_are_filled_and_missing_dates_shown_as_a_dash(app):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.nominations.models import NominationCall

    call_id = make_call(app, deadline=dt.date(2026, 1, 15), nomination_deadline=dt.date(2026, 2, 1))
    expert_id = make_expert(app, "ann@example.org", "Ann", "Smith")
    with app.app_context():
        message = svc.compose(db.session.get(NominationCall, call_id), db.session.get(Expert, expert_id),
                              subject="{call}", body="{name}|{first_name}|{call}|{deliverable}|{national_deadline}|"
                                                     "{application_deadline}|{nomination_deadline}|{link}|{ x }")
        assert message.body == ("Ann Smith|Ann|Nexus assessment: call for experts|"
                                "Values (diverse values and valuation of nature)|January 15, 2026|—|February 1, 2026|"
                                "{link}|{ x }")


def test_links_expire_at_the_end_of_the_national_deadline_in_brussels(app):
    from focalpoint.invitations.services import link_expiry
    from focalpoint.nominations.models import NominationCall

    with app.app_context():
        assert link_expiry(NominationCall(national_deadline=dt.date(2026, 1, 15))) == utc(2026, 1, 15, 23)
        assert link_expiry(NominationCall(national_deadline=dt.date(2026, 3, 31))) == utc(2026, 3, 31, 22)


# --- tokens ----------------------------------------------------------------------------------------------
def test_only_the_hash_of_the_link_is_stored(app):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc

    call_id = make_call(app, deadline=TODAY + dt.timedelta(days=10))
    [inv_id] = send(app, call_id, [make_expert(app, "ann@example.org")])
    token = latest_token(app, inv_id)
    assert len(token) == 43  # 32 random bytes
    row = invitation(app, inv_id)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row)
    with app.app_context():
        assert svc.find_by_token(token).id == inv_id
        assert svc.find_by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert svc.find_by_token(row["token_hash"]) is None
        assert svc.find_by_token("") is None
        assert svc.find_by_token("../../etc/passwd") is None
        dump = "\n".join(str(r) for r in db.session.execute(sa.text("SELECT * FROM invitations")).all())
        audit = "\n".join(str(r) for r in db.session.execute(sa.text("SELECT * FROM audit_entries")).all())
    assert token not in dump
    assert token not in audit


# --- the state choke point --------------------------------------------------------------------------------
@pytest.mark.parametrize("target", STATES)
@pytest.mark.parametrize("start", STATES)
def test_transitions_follow_the_table(app, start, target):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.invitations.models import INVITATION_TRANSITIONS, Invitation, InvitationState

    assert {(a.value, b.value) for a, nexts in INVITATION_TRANSITIONS.items() for b in nexts} == ALLOWED
    call_id = make_call(app)
    [inv_id] = send(app, call_id, [make_expert(app, "ann@example.org")])
    update_invitation(app, inv_id, state=InvitationState(start),
                      responded_at=utc(2026, 1, 2) if start in ("accepted", "declined") else None)
    before = len(audit_actions(app, "invitations", inv_id))
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        if start == target:
            assert svc.set_invitation_state(inv, InvitationState(target), actor=None) is False
        elif (start, target) in ALLOWED:
            assert svc.set_invitation_state(inv, InvitationState(target), actor=None, note="test") is True
        else:
            with pytest.raises(svc.TransitionError):
                svc.set_invitation_state(inv, InvitationState(target), actor=None)
        db.session.commit()
    row = invitation(app, inv_id)
    actions = audit_actions(app, "invitations", inv_id)[before:]
    if (start, target) in ALLOWED:
        assert row["state"].value == target
        assert (row["responded_at"] is not None) == (target in ("accepted", "declined"))
        assert actions == [("invitation.state", {"previous": start, "new": target, "note": "test"})]
    else:
        assert row["state"].value == start
        assert actions == []


def test_accepting_puts_the_expert_on_the_slate_and_declining_takes_them_off(app):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.invitations.models import Invitation, InvitationState

    call_id = make_call(app)
    expert_id = make_expert(app, "ann@example.org")
    [inv_id] = send(app, call_id, [expert_id])
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.role_wanted = "CLA"
        svc.set_invitation_state(inv, InvitationState.ACCEPTED, actor=None)
        db.session.commit()
    assert nominations(app, call_id) == [(expert_id, "candidate", "CLA")]
    with app.app_context():
        svc.set_invitation_state(db.session.get(Invitation, inv_id), InvitationState.DECLINED, actor=None)
        db.session.commit()
    assert nominations(app, call_id) == [(expert_id, "withdrawn", "CLA")]
    with app.app_context():
        svc.set_invitation_state(db.session.get(Invitation, inv_id), InvitationState.ACCEPTED, actor=None)
        db.session.commit()
    assert nominations(app, call_id) == [(expert_id, "candidate", "CLA")]
    confirmations = outbox(app, category="answer-confirmation")
    assert [(m["to_addr"], m["subject"]) for m in confirmations] == [
        ("ann@example.org", "Your answer: you accept — Nexus assessment: call for experts"),
        ("ann@example.org", "Your answer: you decline — Nexus assessment: call for experts"),
        ("ann@example.org", "Your answer: you accept — Nexus assessment: call for experts"),
    ]
    assert all(m["text_body"] and m["html_body"].startswith("<!doctype html>") for m in confirmations)
    assert "as Coordinating lead author." in confirmations[0]["text_body"]


def test_declining_before_accepting_puts_nobody_on_the_slate(app):
    from focalpoint.extensions import db
    from focalpoint.invitations import services as svc
    from focalpoint.invitations.models import Invitation, InvitationState

    call_id = make_call(app)
    [inv_id] = send(app, call_id, [make_expert(app, "ann@example.org")])
    with app.app_context():
        svc.set_invitation_state(db.session.get(Invitation, inv_id), InvitationState.DECLINED, actor=None)
        db.session.commit()
    assert nominations(app, call_id) == []


def test_invitation_counts_per_call_and_state_in_one_query(app):
    from focalpoint.extensions import db
    from focalpoint.invitations.models import InvitationState
    from focalpoint.invitations.services import invitation_counts

    first, second, empty = make_call(app, "First"), make_call(app, "Second"), make_call(app, "Empty")
    experts = [make_expert(app, f"e{i}@example.org") for i in range(4)]
    ids = send(app, first, experts)
    send(app, second, experts[:1])
    update_invitation(app, ids[0], state=InvitationState.ACCEPTED, responded_at=utc(2026, 1, 2))
    update_invitation(app, ids[1], state=InvitationState.EXPIRED)
    statements = []

    with app.app_context():
        def count(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            counts = invitation_counts([first, second, empty])
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert counts == {first: {"accepted": 1, "expired": 1, "pending": 2}, second: {"pending": 1}, empty: {}}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    with app.app_context():
        assert invitation_counts([]) == {}


def test_experts_without_consent_or_already_invited_are_set_apart(app):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.services import select_invitees
    from focalpoint.nominations.models import NominationCall

    call_id = make_call(app)
    invited = make_expert(app, "old@example.org", "Olga", "Old")
    send(app, call_id, [invited])
    fine = make_expert(app, "fine@example.org", "Fiona", "Fine")
    silent = make_expert(app, "silent@example.org", "Sam", "Silent", consent=False)
    with app.app_context():
        selection = select_invitees(db.session.get(NominationCall, call_id),
                                    [db.session.get(Expert, i) for i in (invited, fine, silent)])
        assert [e.id for e in selection.invitable] == [fine]
        assert [(e.id, reason) for e, reason in selection.refused] == [
            (invited, "already invited to this call"), (silent, "has not consented to be contacted")]
