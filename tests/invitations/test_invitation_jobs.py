"""Invitation jobs: expiry at the national deadline, one reminder per mark however often the job runs."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from invitation_helpers import (BRUSSELS, audit_actions, invitation, latest_token, make_call, make_expert,
                                move_deadline, outbox, send, update_invitation, utc)

DEADLINE = dt.date(2031, 3, 20)


def at_local(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BRUSSELS).astimezone(dt.timezone.utc)


def days_before(days: int, hour: int = 9) -> dt.datetime:
    return at_local(DEADLINE - dt.timedelta(days=days), hour)


@pytest.fixture
def call_with_invitations(app):
    """A call with its national deadline on DEADLINE and reminders "7;2"; three experts invited 10 days before."""
    call_id = make_call(app, deadline=DEADLINE, reminder_days="7;2")
    experts = [make_expert(app, f"e{i}@example.org", f"E{i}", "Expert") for i in range(3)]
    ids = send(app, call_id, experts)
    for inv_id in ids:
        update_invitation(app, inv_id, sent_at=days_before(10))
    return call_id, ids


def _reminders(app) -> list[str]:
    return [m["idem_key"] for m in outbox(app, category="reminder")]


def test_expiry_moves_pending_invitations_past_their_deadline_and_nothing_else(app, call_with_invitations):
    from focalpoint.invitations.jobs import expire_invitations
    from focalpoint.invitations.models import InvitationState

    _, (pending, accepted, _) = call_with_invitations
    update_invitation(app, accepted, state=InvitationState.ACCEPTED, responded_at=utc(2031, 3, 1))
    [later] = send(app, make_call(app, "Later call", deadline=dt.date(2031, 4, 30)),
                   [make_expert(app, "late@example.org")])
    with app.app_context():
        assert expire_invitations(now=utc(2031, 3, 20, 22, 59)) == 0  # 23:59 in Brussels: still open
        assert expire_invitations(now=utc(2031, 3, 20, 23, 0)) == 2  # the first and the third
        assert expire_invitations(now=utc(2031, 3, 20, 23, 15)) == 0
    assert [invitation(app, i)["state"].value for i in (pending, accepted, later)] == ["expired", "accepted", "pending"]
    assert audit_actions(app, "invitations", pending)[-1] == (
        "invitation.state", {"previous": "pending", "new": "expired", "note": "the national deadline passed"})


def test_links_follow_a_national_deadline_moved_after_sending(app, call_with_invitations):
    from focalpoint.invitations.jobs import expire_invitations

    call_id, (first, *_) = call_with_invitations
    move_deadline(app, call_id, DEADLINE + dt.timedelta(days=5))
    with app.app_context():
        assert expire_invitations(now=utc(2031, 3, 21, 8)) == 0  # the old deadline passed, the new one not
    assert invitation(app, first)["expires_at"] == utc(2031, 3, 25, 23)
    token = latest_token(app, first)
    assert app.test_client().get(f"/respond/{token}").status_code == 200  # (today is long before 2031)
    move_deadline(app, call_id, dt.date(2031, 3, 10))
    with app.app_context():
        assert expire_invitations(now=utc(2031, 3, 12, 8)) == 3
    assert invitation(app, first)["expires_at"] == utc(2031, 3, 10, 23)


def test_one_reminder_per_mark_even_when_the_job_runs_again(app, call_with_invitations):
    from focalpoint.invitations.jobs import send_reminders

    _, ids = call_with_invitations
    with app.app_context():
        assert send_reminders(now=days_before(8)) == 0
        assert send_reminders(now=days_before(7, 0)) == 3
        assert send_reminders(now=days_before(7, 12)) == 0
        assert send_reminders(now=days_before(6)) == 0
        assert send_reminders(now=days_before(2)) == 3
        assert send_reminders(now=days_before(2, 23)) == 0
        assert send_reminders(now=days_before(0)) == 0
    assert sorted(_reminders(app)) == sorted([f"invitation:{i}:reminder:{mark}" for i in ids for mark in (7, 2)])
    assert [(invitation(app, i)["reminders_sent"]) for i in ids] == [2, 2, 2]
    assert invitation(app, ids[0])["last_reminded_at"] == days_before(2)


def test_a_missed_mark_is_caught_up_once_and_earlier_marks_are_skipped(app, call_with_invitations):
    from focalpoint.invitations.jobs import send_reminders

    _, ids = call_with_invitations
    with app.app_context():
        assert send_reminders(now=days_before(1)) == 3  # the scheduler was down on both mark days
        assert send_reminders(now=days_before(1, 15)) == 0
    assert sorted(_reminders(app)) == sorted(f"invitation:{i}:reminder:2" for i in ids)


def test_no_reminder_after_an_answer_on_a_locked_call_or_for_those_invited_late(app, call_with_invitations):
    from focalpoint.extensions import db
    from focalpoint.invitations.jobs import send_reminders
    from focalpoint.invitations.models import InvitationState
    from focalpoint.nominations.models import NominationCall

    call_id, (answered, late, reminded) = call_with_invitations
    update_invitation(app, answered, state=InvitationState.DECLINED, responded_at=utc(2031, 3, 1))
    update_invitation(app, late, sent_at=days_before(7, 8))  # invited on the mark's day itself
    with app.app_context():
        assert send_reminders(now=days_before(7, 10)) == 1
    assert _reminders(app) == [f"invitation:{reminded}:reminder:7"]
    with app.app_context():
        db.session.get(NominationCall, call_id).locked_at = utc(2031, 3, 14)
        db.session.commit()
        assert send_reminders(now=days_before(2)) == 0


def test_a_reminder_carries_a_new_link_that_replaces_the_old(app, call_with_invitations):
    from focalpoint.invitations.jobs import send_reminders

    _, ids = call_with_invitations
    old = latest_token(app, ids[0])
    with app.app_context():
        send_reminders(now=days_before(7))
    [mail] = [m for m in outbox(app, category="reminder") if m["related_id"] == ids[0]]
    assert mail["subject"] == "Reminder: Invitation: Nexus assessment: call for experts"
    assert "Please answer by March 20, 2031 through your personal link" in mail["text_body"]
    assert "On March 10, 2031 we invited you" in mail["text_body"]
    new = latest_token(app, ids[0])
    assert new != old
    assert new in mail["html_body"]
    client = app.test_client()
    client_now = client.get(f"/respond/{new}")
    assert client_now.status_code == 200
    assert client.get(f"/respond/{old}").status_code == 404


def test_two_processes_reminding_at_once_send_each_reminder_once(app, call_with_invitations):
    """Two app instances (two connection pools) run the job at the same moment, several times."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.invitations.jobs import send_reminders

    _, ids = call_with_invitations
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    errors, results = [], []

    def run(instance, barrier, now):
        try:
            with instance.app_context():
                barrier.wait(timeout=10)
                results.append(send_reminders(now=now))
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        for now in (days_before(7), days_before(7, 10), days_before(2)):
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(instance, barrier, now)) for instance in (app, other)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert errors == []
    assert sum(results) == 6
    assert sorted(_reminders(app)) == sorted([f"invitation:{i}:reminder:{mark}" for i in ids for mark in (7, 2)])
    assert [invitation(app, i)["reminders_sent"] for i in ids] == [2, 2, 2]
    for inv_id in ids:  # the link in the last reminder is the one that works
        assert app.test_client().get(f"/respond/{latest_token(app, inv_id)}").status_code == 200


def test_the_scheduler_runs_both_jobs_every_15_minutes(app):
    from focalpoint.scheduler import build_scheduler

    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    for job_id, func in (("invitations.expire", "expire_invitations"), ("invitations.remind", "send_reminders")):
        assert jobs[job_id].trigger.interval == dt.timedelta(minutes=15)
        assert jobs[job_id].args[1].__name__ == func


def test_reminder_marks_are_read_leniently(app):
    from focalpoint.invitations.jobs import current_mark, reminder_marks
    from focalpoint.nominations.models import NominationCall

    call = NominationCall(national_deadline=DEADLINE, reminder_days=" 2; 7;x;; 14,1 ")
    assert reminder_marks(call) == [14, 7, 2, 1]
    assert [current_mark(call, DEADLINE - dt.timedelta(days=d)) for d in (20, 14, 10, 7, 3, 2, 1, 0, -1)] == [
        None, 14, 14, 7, 7, 2, 1, 1, None]
