"""The e-mail digests: once per period whatever happens (a second run, a restart, two runs at once), daily and
weekly periods in the person's zone, who gets one, and what it says. Mail is caught by a real SMTP server."""
from __future__ import annotations

import datetime as dt
import re
import threading

import sqlalchemy as sa
from digest_helpers import (BASE_URL, CALL_TITLE, CONSULTATION_TITLE, NOTIFICATION_TITLE, NOW, OVERDUE_TITLE,
                            local, make_person, make_world, outbox, run)
from smtp import SmtpCatcher


def deliver(app, smtp) -> dict:
    from focalpoint.extensions import db
    from focalpoint.mail import deliver_outbox

    smtp.configure(app)
    with app.app_context():
        try:
            return deliver_outbox(now=dt.datetime.now(dt.timezone.utc))
        finally:
            db.session.remove()


def last_digest_at(app, user_id: int):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(User.last_digest_at).where(User.id == user_id))


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


# --- once per period --------------------------------------------------------------------------------
def test_the_digest_job_run_twice_sends_one_mail_per_person(app):
    from focalpoint.due.jobs import send_digests_job
    from focalpoint.extensions import db

    daily = make_person(app, "dora@example.org", "daily")
    weekly = make_person(app, "walt@example.org", "weekly")
    make_person(app, "nina@example.org", "none")
    make_person(app, "gone@example.org", "daily", enabled=False)
    make_world(app)

    with SmtpCatcher() as smtp:
        with app.app_context():
            first = send_digests_job(NOW)
            second = send_digests_job(NOW)
            db.session.remove()
        assert first == {"queued": 2, "empty": 0, "already": 0, "waiting": 0}
        assert second == {"queued": 0, "empty": 0, "already": 0, "waiting": 0}  # both periods are done
        assert deliver(app, smtp)["sent"] == 2
        # Later the same day (and the same week): still nothing more.
        with app.app_context():
            assert send_digests_job(NOW + dt.timedelta(hours=9))["queued"] == 0
            db.session.remove()
        assert deliver(app, smtp)["sent"] == 0
        assert sorted(m["To"] for m in smtp.messages) == ["dora@example.org", "walt@example.org"]
        assert set(smtp.by_message_id().values()) == {1}
    assert outbox(app) == [(f"digest:{daily}:2026-11-23", "dora@example.org"),
                           (f"digest:{weekly}:2026-W48", "walt@example.org")]
    assert last_digest_at(app, daily) == NOW
    assert last_digest_at(app, weekly) == NOW


def test_a_restart_does_not_send_again_even_without_the_last_digest_mark(app):
    """A new application (new engine, nothing in memory) after the digests went out finds them in the outbox."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    daily = make_person(app, "dora@example.org", "daily")
    make_world(app)
    assert run(app).counts["queued"] == 1
    with SmtpCatcher() as smtp:
        assert deliver(app, smtp)["sent"] == 1

    restarted = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        later = run(restarted, NOW + dt.timedelta(hours=3))
        assert later.counts == {"queued": 0, "empty": 0, "already": 0, "waiting": 0}
        # Even with the period's mark gone (an operator reset it), the outbox key holds.
        with restarted.app_context():
            db.session.execute(sa.update(User).where(User.id == daily).values(last_digest_at=None))
            db.session.commit()
        again = run(restarted, NOW + dt.timedelta(hours=4))
        assert [(o.email, o.period, o.result) for o in again.outcomes] == [
            ("dora@example.org", "2026-11-23", "already")]
    finally:
        with restarted.app_context():
            db.engine.dispose()
    assert outbox(app) == [(f"digest:{daily}:2026-11-23", "dora@example.org")]


def test_two_runs_at_once_send_one_digest_per_person(app):
    """Two scheduler processes (two app instances, two engines) run the job at the same moment."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.due.digests import send_digests
    from focalpoint.extensions import db

    people = [make_person(app, f"staff{i}@example.org", "daily" if i % 2 else "weekly") for i in range(6)]
    make_world(app)
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    barrier, results, errors = threading.Barrier(2), [], []

    def scheduler(instance):
        try:
            with instance.app_context():
                barrier.wait(timeout=10)
                results.append(send_digests(NOW).counts)
                db.session.remove()
        except BaseException as exc:  # reported below: a thread cannot fail the test by itself
            errors.append(exc)

    try:
        threads = [threading.Thread(target=scheduler, args=(instance,)) for instance in (app, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert errors == []
    assert len(results) == 2
    assert sum(r["queued"] for r in results) == 6
    assert [key for key, _to in outbox(app)] == sorted(
        f"digest:{uid}:{'2026-11-23' if i % 2 else '2026-W48'}" for i, uid in enumerate(people))
    with SmtpCatcher() as smtp:
        assert deliver(app, smtp)["sent"] == 6
        assert sorted(m["To"] for m in smtp.messages) == sorted(f"staff{i}@example.org" for i in range(6))


def test_two_runs_writing_the_same_digest_at_the_same_moment_queue_it_once(app, monkeypatch):
    """Both runs composed the digest and both reach the outbox before either commits (PostgreSQL: the unique
    key makes the second insert wait, then fail; that run sends nothing). SQLite runs writers one at a time
    (BEGIN IMMEDIATE), so there the second run finds the first one's digest instead."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.due import digests
    from focalpoint.extensions import db

    dora = make_person(app, "dora@example.org", "daily")
    make_world(app)
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    together = threading.Barrier(2)
    real_queue = digests.queue_email
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        def queue_together(**kw):
            together.wait(timeout=10)
            return real_queue(**kw)

        monkeypatch.setattr(digests, "queue_email", queue_together)
    results, errors = [], []

    def scheduler(instance):
        try:
            with instance.app_context():
                results.append([(o.email, o.result) for o in digests.send_digests(NOW).outcomes])
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=scheduler, args=(instance,)) for instance in (app, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert errors == []
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert sorted(results) == [[("dora@example.org", "already")], [("dora@example.org", "queued")]]
    else:  # the second run saw the first one's mark (or its outbox row)
        assert sorted(results) in ([[], [("dora@example.org", "queued")]],
                                   [[("dora@example.org", "already")], [("dora@example.org", "queued")]])
    assert outbox(app) == [(f"digest:{dora}:2026-11-23", "dora@example.org")]
    assert last_digest_at(app, dora) == NOW


# --- periods ----------------------------------------------------------------------------------------
def test_daily_and_weekly_periods_across_a_week_boundary_in_brussels(app):
    daily = make_person(app, "dora@example.org", "daily")
    weekly = make_person(app, "walt@example.org", "weekly")
    new_york = make_person(app, "nyla@example.org", "daily", timezone="America/New_York")
    make_world(app)
    moments = [
        local(2026, 11, 23, 6, 59),   # Monday, before the sending hour: nothing yet
        local(2026, 11, 23, 7, 0),    # Monday 07:00: day 23 and week 48
        local(2026, 11, 24, 13, 30),  # Tuesday: day 24 only (07:30 in New York)
        local(2026, 11, 29, 23, 30),  # Sunday night: day 29 (week 48 is done)
        local(2026, 11, 30, 0, 30),   # Monday 00:30 in Brussels (Sunday 23:30 UTC): the new week, not yet due
        local(2026, 11, 30, 7, 15),   # Monday 07:15: day 30 and week 49
        local(2026, 12, 2, 14, 0),    # Wednesday: day 2 December (week 49 is done; 08:00 in New York)
    ]
    for moment in moments:
        run(app, moment)
    keys = [key for key, _to in outbox(app)]
    assert sorted(k for k in keys if k.startswith(f"digest:{daily}:")) == [
        f"digest:{daily}:2026-11-23", f"digest:{daily}:2026-11-24", f"digest:{daily}:2026-11-29",
        f"digest:{daily}:2026-11-30", f"digest:{daily}:2026-12-02"]
    assert sorted(k for k in keys if k.startswith(f"digest:{weekly}:")) == [
        f"digest:{weekly}:2026-W48", f"digest:{weekly}:2026-W49"]
    # New York: 07:00 there is 13:00 in Brussels. Sunday 23:30 in Brussels is Sunday 17:30 there; Monday 07:15
    # in Brussels is 01:15 there (not yet due); the 23rd was never reached after 07:00 New York time.
    assert sorted(k for k in keys if k.startswith(f"digest:{new_york}:")) == [
        f"digest:{new_york}:2026-11-24", f"digest:{new_york}:2026-11-29", f"digest:{new_york}:2026-12-02"]


def test_periods_are_keyed_in_the_persons_zone():
    from zoneinfo import ZoneInfo

    from focalpoint.due.digests import period_for

    brussels = ZoneInfo("Europe/Brussels")
    sunday_night_utc = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.timezone.utc)  # Monday 00:30 in Brussels
    day = period_for("daily", sunday_night_utc, brussels, hour=7)
    week = period_for("weekly", sunday_night_utc, brussels, hour=7)
    assert (day.key, week.key) == ("2026-11-30", "2026-W49")
    assert day.starts_at == dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.timezone.utc)
    assert day.sends_at == dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc)
    assert week.ends_at == dt.datetime(2026, 12, 6, 23, 0, tzinfo=dt.timezone.utc)
    utc = period_for("weekly", sunday_night_utc, ZoneInfo("UTC"), hour=7)
    assert utc.key == "2026-W48"
    # ISO weeks across the new year; a summer-time day.
    new_year = dt.datetime(2027, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert period_for("weekly", new_year, brussels, hour=7).key == "2026-W53"
    summer = period_for("daily", dt.datetime(2026, 7, 1, 12, tzinfo=dt.timezone.utc), brussels, hour=7)
    assert summer.sends_at == dt.datetime(2026, 7, 1, 5, 0, tzinfo=dt.timezone.utc)


def test_the_sending_hour_is_a_setting(app):
    make_person(app, "dora@example.org", "daily")
    make_world(app)
    app.config["DIGEST_HOUR"] = 9
    assert run(app).counts == {"queued": 0, "empty": 0, "already": 0, "waiting": 1}  # 08:00 in Brussels
    assert run(app, local(2026, 11, 23, 9, 0)).counts["queued"] == 1


# --- who gets one ---------------------------------------------------------------------------------------
def test_none_and_disabled_people_get_nothing(app):
    make_person(app, "nina@example.org", "none")
    gone = make_person(app, "gone@example.org", "weekly", enabled=False)
    make_world(app)
    assert run(app).outcomes == []
    assert outbox(app) == []
    assert last_digest_at(app, gone) is None


def test_a_period_with_nothing_to_say_sends_nothing_and_is_done(app):
    quiet = make_person(app, "quiet@example.org", "daily")
    result = run(app)
    assert [(o.email, o.result) for o in result.outcomes] == [("quiet@example.org", "empty")]
    assert outbox(app) == []
    assert last_digest_at(app, quiet) == NOW
    assert run(app, NOW + dt.timedelta(hours=2)).outcomes == []  # not looked at again this period


def test_an_expert_with_an_account_gets_their_own_open_items_only(app):
    """Experts may choose a digest too: their open invitations and consultations, no staff news."""
    from focalpoint.consultations.models import Participant
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall

    expert_user = make_person(app, "ann.peeters@example.org", "daily", "expert", name="Ann Peeters")
    world = make_world(app)
    with app.app_context():
        expert = db.session.get(Expert, world["expert"])
        expert.user_id = expert_user
        call = NominationCall(title="Fellows for the nexus assessment",
                              national_deadline=NOW.date() + dt.timedelta(days=5))
        db.session.add(call)
        db.session.flush()
        db.session.add(Invitation(call_id=call.id, expert_id=expert.id, state=InvitationState.PENDING,
                                  token_hash="b" * 64, expires_at=NOW + dt.timedelta(days=6), sent_at=NOW))
        assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == 1
        db.session.commit()
    result = run(app)
    assert [(o.email, o.result, o.new) for o in result.outcomes] == [("ann.peeters@example.org", "queued", 0)]
    with SmtpCatcher() as smtp:
        deliver(app, smtp)
        [msg] = smtp.messages
    text, html = parts(msg)
    assert "Fellows for the nexus assessment" in text and "Answer the invitation" in text
    assert CONSULTATION_TITLE in text
    assert f"{BASE_URL}/consultations/{world['consultation']}" in text
    for staff_only in (OVERDUE_TITLE, NOTIFICATION_TITLE, "New since", "Clearances and objections", CALL_TITLE):
        assert staff_only not in text and staff_only not in html


# --- what it says ---------------------------------------------------------------------------------------
def test_the_digest_lists_what_is_due_and_what_is_new_with_absolute_links(app):
    dora = make_person(app, "dora@example.org", "daily", name="Dora Staff")
    world = make_world(app)
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.notifications.models import Notification

        db.session.get(Notification, world["overdue"]).assignee_id = dora  # hers: marked "yours"
        db.session.commit()
    run(app)
    with SmtpCatcher() as smtp:
        deliver(app, smtp)
        [msg] = smtp.messages
    assert msg["Subject"] == "Focal Point digest for November 23, 2026"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = parts(msg)
    assert text.startswith("Dear Dora Staff,\n\nYour daily digest for Monday, November 23, 2026.\n")
    overdue = text.index("== Overdue (1) ==")
    upcoming = text.index("== Due in the next 7 days (1) ==")
    new = text.index("== New since Nov 22, 2026, 8:00\u202fAM ==") if "\u202f" in text else \
        text.index("== New since Nov 22, 2026, 8:00 AM ==")
    assert overdue < upcoming < new
    assert text[overdue:upcoming].strip().splitlines()[1:] == [
        f"- Nov 21, 2026 · {OVERDUE_TITLE} (yours)",
        "  National deadline · Dora Staff",
        f"  {BASE_URL}/notifications/{world['overdue']}"]
    assert text[upcoming:new].strip().splitlines()[1:] == [
        f"- Nov 26, 2026 · {CONSULTATION_TITLE}",
        "  The consultation closes: experts' comments due · 1 invited expert",
        f"  {BASE_URL}/consultations/{world['consultation']}"]
    news = text[new:text.index("\n--\n")]
    for line in (
            "Notifications received (1)", f"- {NOTIFICATION_TITLE}",
            f"  {BASE_URL}/notifications/{world['notification']}",
            "Comments on consultations (3)", f"- {CONSULTATION_TITLE}: 3 new comments",
            f"  {BASE_URL}/consultations/{world['consultation']}/comments",
            "Clearances and objections (1)",
            "- Item 7 (b): Nexus assessment (IPBES-13): Flemish administration (Department of Environment) "
            "objected to version 2 — “The budget paragraph goes too far.”",
            f"  {BASE_URL}/positions/{world['note']}",
            "Answers to invitations (1)", f"- Ann Peeters accepted the invitation to \"{CALL_TITLE}\"",
            f"  {BASE_URL}/invitations/{world['invitation']}"):
        assert line in news.splitlines()
    assert text.endswith(f"{BASE_URL}/account\nThe national focal point to IPBES\n")
    # The HTML part says the same, with links; overdue stands out.
    assert f'<a href="{BASE_URL}/notifications/{world["overdue"]}">{OVERDUE_TITLE}</a>' in html
    assert '<h2 style="font-size: 1.15em; color: #b02a37;">Overdue (1)</h2>' in html
    comments_link = f'{BASE_URL}/consultations/{world["consultation"]}/comments'
    assert f'<a href="{comments_link}">{CONSULTATION_TITLE}: 3 new comments</a>' in html
    assert "Flemish administration (Department of Environment) objected to version 2</span>" in html
    assert f'<a href="{BASE_URL}/account">' in html
    # Every link is absolute, on BASE_URL.
    assert {u.split("/")[2] for u in re.findall(r'href="([^"]+)"', html)} == {"focalpoint.test"}


def test_new_since_the_last_digest_only(app):
    """The next day's digest tells only what came after the previous one."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification, NotificationStatus, Origin

    make_person(app, "dora@example.org", "daily")
    make_world(app)
    run(app)
    with app.app_context():
        later = Notification(origin=Origin.MANUAL, guid="manual:later", title="EM/2026/32: Call for reviewers",
                             reference="EM/2026/32", status=NotificationStatus.NEW, related_references=[],
                             created_at=NOW + dt.timedelta(hours=5))
        db.session.add(later)
        db.session.commit()
    second = run(app, NOW + dt.timedelta(days=1))
    assert [(o.period, o.result, o.new) for o in second.outcomes] == [("2026-11-24", "queued", 1)]
    with SmtpCatcher() as smtp:
        deliver(app, smtp)
        texts = {m["Subject"]: parts(m)[0] for m in smtp.messages}
    tuesday = texts["Focal Point digest for November 24, 2026"]
    assert "EM/2026/32: Call for reviewers" in tuesday
    assert NOTIFICATION_TITLE not in tuesday and "Comments on consultations" not in tuesday
    assert NOTIFICATION_TITLE in texts["Focal Point digest for November 23, 2026"]


def test_the_digest_speaks_the_persons_language_and_zone(app):
    make_person(app, "fleur@example.org", "weekly", locale="fr", timezone="America/Montreal", name="Fleur")
    make_world(app, created=local(2026, 11, 23, 13, 0) - dt.timedelta(hours=2))
    # 07:00 in Montreal on Monday 23 November is 13:00 in Brussels.
    assert run(app).counts["waiting"] == 1
    assert run(app, local(2026, 11, 23, 13, 0)).counts["queued"] == 1
    with SmtpCatcher() as smtp:
        deliver(app, smtp)
        [msg] = smtp.messages
    text, html = parts(msg)
    assert msg["Subject"] == "Récapitulatif Focal Point de la semaine du 23 novembre 2026"
    assert "lundi 23 novembre 2026" in text
    assert "Date limite nationale" in text  # translated strings of the due list
    assert "== Nouveau depuis le 16 nov. 2026, 07:00 ==" in text  # one week back, in Montreal time
    assert '<html lang="fr">' in html


def test_long_lists_are_cut_with_a_link_to_the_rest(app):
    from focalpoint.due.digests import MAX_LISTED
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification, NotificationStatus, Origin

    make_person(app, "dora@example.org", "daily")
    with app.app_context():
        for i in range(MAX_LISTED + 3):
            db.session.add(Notification(origin=Origin.MANUAL, guid=f"manual:{i}",
                                        title=f"Notification number {i}", status=NotificationStatus.NEW,
                                        related_references=[], created_at=NOW - dt.timedelta(minutes=i + 1)))
        db.session.commit()
    run(app)
    with SmtpCatcher() as smtp:
        deliver(app, smtp)
        text, html = parts(smtp.messages[0])
    assert f"Notifications received ({MAX_LISTED + 3})" in text
    assert "- Notification number 0\n" in text and f"- Notification number {MAX_LISTED - 1}\n" in text
    assert f"Notification number {MAX_LISTED}\n" not in text
    assert f"… and 3 more: {BASE_URL}/notifications\n" in text
    assert f'<a href="{BASE_URL}/notifications">… and 3 more</a>' in html


# --- reading in constant queries ------------------------------------------------------------------------
def test_queries_grow_by_a_constant_per_person_and_new_items_are_read_once(app):
    from contextlib import contextmanager

    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    make_world(app)

    @contextmanager
    def counting():
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)

    counts = {}
    added = 0
    for people in (1, 3, 6):
        while added < people:
            make_person(app, f"staff{added}@example.org", "daily")
            added += 1
        with app.app_context():  # a fresh period for everyone
            db.session.execute(sa.update(User).values(last_digest_at=None))
            db.session.commit()
        day = NOW + dt.timedelta(days=len(counts))
        with counting() as statements:
            assert run(app, day).counts["queued"] == people
        counts[people] = statements
    per_person = (len(counts[3]) - len(counts[1])) / 2
    assert len(counts[6]) - len(counts[3]) == 3 * per_person
    assert per_person <= 20
    for people, statements in counts.items():
        comment_reads = [s for s in statements if "FROM consultation_comments" in s]
        assert len(comment_reads) == 1, people


# --- the scheduler ----------------------------------------------------------------------------------------
def test_the_scheduler_runs_the_digests_every_fifteen_minutes(app):
    from apscheduler.triggers.interval import IntervalTrigger

    from focalpoint.due.jobs import send_digests_job
    from focalpoint.scheduler import build_scheduler, run_in_app

    scheduler = build_scheduler(app)
    job = scheduler.get_job("due.digests")
    assert (job.func, job.args) == (run_in_app, (app, send_digests_job))
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == dt.timedelta(minutes=15)
    assert scheduler.running is False
    make_person(app, "quiet@example.org", "daily")
    counts = run_in_app(app, send_digests_job)
    assert set(counts) == {"queued", "empty", "already", "waiting"}
