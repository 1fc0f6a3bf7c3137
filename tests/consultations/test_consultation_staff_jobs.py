"""Consultation reminders: on each reminder day before the close (NFP's time zone), once per participant
who was invited, is still in and has not commented, however often the job runs; a missed day catches up once."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from consultation_helpers import make_comment, make_consultation, make_expert, make_participant

BRUSSELS = ZoneInfo("Europe/Brussels")  # DISPLAY_TIMEZONE of TestConfig
CLOSE = dt.date(2031, 3, 20)
LINK = re.compile(r"http://focalpoint\.test/review/([A-Za-z0-9_-]+)")


def at_local(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BRUSSELS).astimezone(dt.timezone.utc)


def days_before(days: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return at_local(CLOSE - dt.timedelta(days=days), hour, minute)


@pytest.fixture
def world(app):
    """Reminders "7;2" before CLOSE. Ann: invited 10 days before, silent. Bob: invited, commented. Carl:
    removed. Dora: added, never sent. Eli: invited 1 day before the close (after both marks)."""
    from focalpoint.extensions import db

    with app.app_context():
        c = make_consultation(opens_on=CLOSE - dt.timedelta(days=20), closes_on=CLOSE, reminder_days="7;2")
        sent = days_before(10)
        people = {name: make_expert(name, "Expert") for name in ("Ann", "Bob", "Carl", "Dora", "Eli")}
        ps = {"ann": make_participant(c, people["Ann"], sent=False),
              "bob": make_participant(c, people["Bob"], sent=False),
              "carl": make_participant(c, people["Carl"], removed=True, sent=False),
              "dora": make_participant(c, people["Dora"], sent=False),
              "eli": make_participant(c, people["Eli"], sent=False)}
        for key in ("ann", "bob", "carl"):
            ps[key].sent_at = sent
        ps["eli"].sent_at = days_before(1)
        make_comment(c, ps["bob"], comment="Bob commented.")
        db.session.commit()
        return {"cid": c.id, **{k: p.id for k, p in ps.items()}}


def reminders(app) -> list[dict]:
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        return [{"key": m.idem_key, "to": m.to_addr, "text": m.text_body, "html": m.html_body, "subject": m.subject}
                for m in db.session.scalars(sa.select(OutboxMessage).where(
                    OutboxMessage.category == "consultation-reminder").order_by(OutboxMessage.id))]


def run(app, now) -> int:
    from focalpoint.consultations.jobs import send_consultation_reminders

    with app.app_context():
        return send_consultation_reminders(now=now)


def test_one_reminder_per_mark_to_the_silent_participant_however_often_the_job_runs(app, world):
    assert run(app, days_before(8)) == 0
    assert run(app, days_before(7, 0, 5)) == 1
    assert run(app, days_before(7, 12)) == 0
    assert run(app, days_before(6)) == 0
    assert run(app, days_before(2)) == 1
    assert run(app, days_before(2, 23, 50)) == 0
    assert run(app, days_before(0, 23, 59)) == 0
    assert run(app, days_before(-1)) == 0  # closed
    assert [r["key"] for r in reminders(app)] == [
        f"consultation:{world['cid']}:participant:{world['ann']}:reminder:7",
        f"consultation:{world['cid']}:participant:{world['ann']}:reminder:2"]
    assert {r["to"] for r in reminders(app)} == {"ann.expert@example.org"}


def test_the_day_is_the_nfps_day_not_utc(app, world):
    # 23:30 UTC the day before the mark is already the mark's day in Brussels (UTC+1 in March).
    eve = CLOSE - dt.timedelta(days=8)
    assert run(app, dt.datetime.combine(eve, dt.time(22, 59), tzinfo=dt.timezone.utc)) == 0  # 23:59 in Brussels
    assert run(app, dt.datetime.combine(eve, dt.time(23, 30), tzinfo=dt.timezone.utc)) == 1  # 00:30, the mark's day


def test_a_missed_day_catches_up_once_not_once_per_missed_day(app, world):
    assert run(app, days_before(1)) == 1  # both marks missed: one reminder, the latest mark's
    assert run(app, days_before(1, 18)) == 0
    assert [r["key"].rsplit(":", 1)[1] for r in reminders(app)] == ["2"]


def test_a_late_run_sends_the_first_mark_then_the_second_on_its_day(app, world):
    assert run(app, days_before(5)) == 1
    assert run(app, days_before(4)) == 0
    assert run(app, days_before(2)) == 1
    assert [r["key"].rsplit(":", 1)[1] for r in reminders(app)] == ["7", "2"]


def test_the_reminder_carries_a_fresh_link_that_replaces_the_older_one(app, world):
    from focalpoint.consultations import links
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    with app.app_context():
        old = links.new_secret(db.session.get(Participant, world["ann"]))
        db.session.commit()
    run(app, days_before(7))
    [mail] = reminders(app)
    [secret] = set(LINK.findall(mail["text"]))
    assert set(LINK.findall(mail["html"])) == {secret}
    assert mail["subject"] == "Reminder: your comments on Nexus assessment, second order draft"
    assert "closes in 7 days, at the end of March 20, 2031" in mail["text"]
    assert "This link replaces the one in our earlier e-mails, which no longer works." in mail["text"]
    with app.app_context():
        assert links.find_participant(secret).id == world["ann"]
        assert links.find_participant(old) is None
        participant = db.session.get(Participant, world["ann"])
        assert (participant.reminders_sent, participant.last_reminded_at) == (1, days_before(7))


def test_a_participant_who_withdrew_consent_gets_no_reminder_and_the_others_still_do(app, world):
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    with app.app_context():
        c = db.session.get(Participant, world["ann"]).consultation
        frank = make_participant(c, make_expert("Frank", "Expert"), sent=False)
        frank.sent_at = days_before(10)
        db.session.get(Participant, world["ann"]).expert.consent_contact_at = None
        db.session.commit()
        frank_id = frank.id
    assert run(app, days_before(7)) == 1
    assert [r["key"] for r in reminders(app)] == [f"consultation:{world['cid']}:participant:{frank_id}:reminder:7"]


def test_no_reminder_days_means_no_reminder(app, world):
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db

    with app.app_context():
        db.session.get(Consultation, world["cid"]).reminder_days = ""
        db.session.commit()
    assert run(app, days_before(7)) == 0
    assert run(app, days_before(2)) == 0


def test_the_scheduler_runs_the_reminders_every_quarter_of_an_hour(app):
    from focalpoint.consultations.jobs import send_consultation_reminders
    from focalpoint.scheduler import build_scheduler

    scheduler = build_scheduler(app)
    job = scheduler.get_job("consultations.remind")
    assert job.args[1] is send_consultation_reminders
    assert job.trigger.interval == dt.timedelta(minutes=15)
