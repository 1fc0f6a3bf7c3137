"""Scheduling: claims won by exactly one process, polls only when due, back-off, the APScheduler wiring."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from hostile_server import HostileServer, Respond

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>IPBES</title>'
        b"<item><title>EM/2025/03: Call for nominations of experts</title><guid>urn:jobs:1</guid>"
        b"<description>Nominations must be submitted by 20 February 2025.</description></item></channel></rss>")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def make_source(app, name="IPBES", url="https://www.ipbes.net/feed", *, next_poll_at=None, is_active=True,
                interval=60) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import add_source

    with app.app_context():
        source = add_source(name, url, interval_minutes=interval)
        source.is_active = is_active
        source.next_poll_at = next_poll_at
        db.session.commit()
        return source.id


def source_state(app, source_id: int):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource, FetchLog

    with app.app_context():
        source = db.session.get(FeedSource, source_id)
        logs = db.session.scalars(sa.select(FetchLog).where(FetchLog.source_id == source_id)
                                  .order_by(FetchLog.id)).all()
        return source.next_poll_at, source.error_count, [(log.outcome, log.started_at) for log in logs]


# --- claims ---------------------------------------------------------------------------------------------
def test_claim_is_won_by_exactly_one_of_two_concurrent_claimers(app):
    """Two app instances (two engines, two connection pools) on one database, claiming at once."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource
    from focalpoint.notifications.services import claim_source

    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    source_id = make_source(app)
    rounds = 12
    outcomes: list[list[bool]] = []
    errors: list[BaseException] = []

    def claimer(instance, barrier, results, now):
        try:
            with instance.app_context():
                barrier.wait(timeout=10)
                won = claim_source(source_id, now)
                time.sleep(0.05)  # hold the transaction open: the other claimer must wait or lose
                db.session.commit()
                results.append(won)
                db.session.remove()
        except BaseException as exc:  # reported below: a thread cannot fail the test by itself
            errors.append(exc)

    try:
        for i in range(rounds):
            with app.app_context():
                db.session.get(FeedSource, source_id).next_poll_at = utc(2025, 1, 1) + dt.timedelta(minutes=i)
                db.session.commit()
            now = dt.datetime.now(dt.timezone.utc)
            barrier, results = threading.Barrier(2), []
            threads = [threading.Thread(target=claimer, args=(instance, barrier, results, now))
                       for instance in (app, other)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            outcomes.append(sorted(results))
    finally:
        with other.app_context():
            db.engine.dispose()
    assert errors == []
    assert outcomes == [[False, True]] * rounds
    with app.app_context():  # the winner holds a 15-minute lease
        assert db.session.get(FeedSource, source_id).next_poll_at == now + dt.timedelta(minutes=15)


def test_claim_lease_expires_after_fifteen_minutes(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.services import claim_source

    now = utc(2030, 5, 1, 12)
    source_id = make_source(app, next_poll_at=now - dt.timedelta(seconds=1))
    paused = make_source(app, "Paused", next_poll_at=now - dt.timedelta(days=1), is_active=False)
    never = make_source(app, "Never polled", next_poll_at=None)
    with app.app_context():
        results = [claim_source(source_id, now), claim_source(source_id, now + dt.timedelta(minutes=14)),
                   claim_source(source_id, now + dt.timedelta(minutes=15)), claim_source(paused, now),
                   claim_source(never, now), claim_source(never, now), claim_source(999_999, now)]
        db.session.commit()
    assert results == [True, False, True, False, True, False, False]


# --- poll_if_due ------------------------------------------------------------------------------------------
def test_poll_if_due_does_nothing_when_not_due(app):
    from focalpoint.notifications.jobs import poll_if_due

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
    with HostileServer({"/feed": Respond(FEED)}) as server_url:
        waiting = make_source(app, "Waiting", server_url + "/feed", next_poll_at=later)
        paused = make_source(app, "Paused", server_url + "/feed", next_poll_at=utc(2020, 1, 1), is_active=False)
        with app.app_context():
            assert poll_if_due(waiting) is None
            assert poll_if_due(paused) is None
    assert source_state(app, waiting) == (later, 0, [])
    assert source_state(app, paused) == (utc(2020, 1, 1), 0, [])
    assert count_notifications(app) == 0


def test_poll_if_due_polls_once_and_schedules_the_next_poll(app):
    from focalpoint.notifications.jobs import poll_if_due

    server = HostileServer({"/feed": Respond(FEED)}).start()
    try:
        source_id = make_source(app, url=server.url("/feed"), next_poll_at=utc(2020, 1, 1), interval=30)
        with app.app_context():
            summary = poll_if_due(source_id)
            again = poll_if_due(source_id)
    finally:
        server.stop()
    assert (summary.outcome, summary.seen, summary.new) == ("ok", 1, 1)
    assert again is None
    assert server.hits("/feed") == 1
    next_poll_at, error_count, logs = source_state(app, source_id)
    assert error_count == 0 and [outcome for outcome, _ in logs] == ["ok"]
    assert next_poll_at == logs[0][1] - dt.timedelta(seconds=30) + dt.timedelta(minutes=30)
    assert count_notifications(app) == 1


def test_poll_due_sources_polls_only_the_due_ones(app):
    from focalpoint.notifications.jobs import poll_due_sources

    server = HostileServer({"/a": Respond(FEED), "/b": Respond(FEED), "/c": Respond(FEED)}).start()
    try:
        make_source(app, "A due", server.url("/a"), next_poll_at=utc(2020, 1, 1))
        make_source(app, "B not due", server.url("/b"), next_poll_at=utc(2999, 1, 1))
        make_source(app, "C paused", server.url("/c"), next_poll_at=utc(2020, 1, 1), is_active=False)
        with app.app_context():
            done = [(s.source, s.outcome, s.new) for s in poll_due_sources()]
            assert poll_due_sources() == []
    finally:
        server.stop()
    assert done == [("A due", "ok", 1)]
    assert [server.hits(p) for p in ("/a", "/b", "/c")] == [1, 0, 0]


def count_notifications(app) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Notification))


# --- back-off ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("interval,errors,minutes", [
    (60, 0, 60), (60, 1, 60), (60, 2, 120), (60, 3, 240), (60, 4, 480), (60, 5, 960), (60, 6, 1440),
    (60, 40, 1440), (5, 6, 160), (5, 7, 160), (720, 2, 1440), (720, 1, 720),
])
def test_schedule_next_poll_backs_off_while_failing(interval, errors, minutes):
    from focalpoint.notifications.models import FeedSource
    from focalpoint.notifications.services import schedule_next_poll

    source = FeedSource(name="x", url="https://x.example.org/", interval_minutes=interval, error_count=errors)
    schedule_next_poll(source, after=utc(2025, 6, 1, 8))
    assert source.next_poll_at == utc(2025, 6, 1, 8) + dt.timedelta(minutes=minutes)


def test_failing_polls_back_off_and_a_success_resets(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.jobs import poll_if_due
    from focalpoint.notifications.models import FeedSource

    server = HostileServer({"/feed": Respond(b"down", 503)}).start()
    gaps = []
    try:
        source_id = make_source(app, url=server.url("/feed"), next_poll_at=utc(2020, 1, 1), interval=10)
        for attempt in range(5):
            if attempt == 4:
                server.routes["/feed"] = Respond(FEED)
            with app.app_context():
                assert poll_if_due(source_id).outcome == ("ok" if attempt == 4 else "error")
            next_poll_at, error_count, logs = source_state(app, source_id)
            gaps.append((error_count, next_poll_at - logs[-1][1] + dt.timedelta(seconds=30)))
            with app.app_context():  # make it due again
                db.session.get(FeedSource, source_id).next_poll_at = utc(2020, 1, 1)
                db.session.commit()
    finally:
        server.stop()
    assert gaps == [(1, dt.timedelta(minutes=10)), (2, dt.timedelta(minutes=20)), (3, dt.timedelta(minutes=40)),
                    (4, dt.timedelta(minutes=80)), (0, dt.timedelta(minutes=10))]


# --- APScheduler wiring -------------------------------------------------------------------------------
def apscheduler_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("APScheduler") and t.is_alive()]


def test_create_app_never_starts_a_scheduler(app):
    from config import TestConfig
    from focalpoint import create_app

    before = set(threading.enumerate())
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    with other.test_client() as client:
        assert client.get("/healthz").get_json() == {"status": "ok"}
    started = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert started == []
    assert apscheduler_threads() == []
    assert [name for name, ext in other.extensions.items() if "scheduler" in type(ext).__name__.lower()] == []
    with other.app_context():
        from focalpoint.extensions import db

        db.engine.dispose()


def test_build_scheduler_registers_the_sync_job(app):
    from apscheduler.triggers.interval import IntervalTrigger

    from focalpoint.scheduler import JOB_DEFAULTS, build_scheduler, sync_feed_jobs

    scheduler = build_scheduler(app)
    assert scheduler.running is False and apscheduler_threads() == []
    job = scheduler.get_job("feeds.sync")  # other domains add their own jobs
    assert (job.id, job.func, job.args) == ("feeds.sync", sync_feed_jobs, (app, scheduler))
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == dt.timedelta(seconds=app.config["SCHEDULER_TICK_SECONDS"])
    scheduler.start(paused=True)  # job stores and defaults are filled in at start; paused: nothing runs
    try:
        job = scheduler.get_job("feeds.sync")
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (
            JOB_DEFAULTS["coalesce"], JOB_DEFAULTS["max_instances"], JOB_DEFAULTS["misfire_grace_time"])
    finally:
        scheduler.shutdown(wait=True)
    assert apscheduler_threads() == []


def _feed_jobs(scheduler) -> dict[str, tuple]:
    return {job.id: (job.trigger.interval, job.args[1].__name__, job.args[2]) for job in scheduler.get_jobs()
            if job.id.startswith("feed:")}


def test_sync_feed_jobs_follows_the_sources(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource
    from focalpoint.notifications.services import delete_source
    from focalpoint.scheduler import run_in_app, sync_feed_jobs

    a = make_source(app, "A", next_poll_at=utc(2999, 1, 1), interval=60)
    b = make_source(app, "B", next_poll_at=utc(2999, 1, 1), interval=15)
    c = make_source(app, "C", is_active=False)
    scheduler = BackgroundScheduler(timezone=dt.timezone.utc)  # never started: nothing runs
    sync_feed_jobs(app, scheduler)
    assert _feed_jobs(scheduler) == {f"feed:{a}": (dt.timedelta(minutes=60), "poll_if_due", a),
                                     f"feed:{b}": (dt.timedelta(minutes=15), "poll_if_due", b)}
    assert all(job.func is run_in_app and job.args[0] is app for job in scheduler.get_jobs())

    sync_feed_jobs(app, scheduler)  # idempotent
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted([f"feed:{a}", f"feed:{b}"])

    with app.app_context():
        delete_source(db.session.get(FeedSource, b))
        db.session.get(FeedSource, c).is_active = True
        db.session.get(FeedSource, a).interval_minutes = 30
        db.session.commit()
    sync_feed_jobs(app, scheduler)
    assert _feed_jobs(scheduler) == {f"feed:{a}": (dt.timedelta(minutes=30), "poll_if_due", a),
                                     f"feed:{c}": (dt.timedelta(minutes=60), "poll_if_due", c)}

    with app.app_context():
        for source in db.session.scalars(sa.select(FeedSource)):
            source.is_active = False
        db.session.commit()
    sync_feed_jobs(app, scheduler)
    assert scheduler.get_jobs() == []
    assert apscheduler_threads() == []


def test_sync_feed_jobs_on_a_started_scheduler(app):
    """The same against real job stores: start paused, sync, shut down."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource
    from focalpoint.scheduler import build_scheduler, sync_feed_jobs

    a = make_source(app, "A", next_poll_at=utc(2999, 1, 1), interval=20)
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    try:
        sync_feed_jobs(app, scheduler)
        assert sorted(job.id for job in scheduler.get_jobs() if job.id.startswith("feed")) == sorted(
            ["feeds.sync", f"feed:{a}"])  # other domains' jobs (mail.deliver, …) aside
        assert _feed_jobs(scheduler) == {f"feed:{a}": (dt.timedelta(minutes=20), "poll_if_due", a)}
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
        scheduler.modify_job(f"feed:{a}", next_run_time=later)  # as after a run
        sync_feed_jobs(app, scheduler)  # not due: left alone
        assert scheduler.get_job(f"feed:{a}").next_run_time == later
        with app.app_context():
            db.session.get(FeedSource, a).next_poll_at = utc(2020, 1, 1)  # due (a new URL, a back-off that ended)
            db.session.commit()
        sync_feed_jobs(app, scheduler)
        assert scheduler.get_job(f"feed:{a}").next_run_time <= dt.datetime.now(dt.timezone.utc)
    finally:
        scheduler.shutdown(wait=True)
    assert apscheduler_threads() == []


def test_run_in_app_runs_a_job_and_swallows_its_failure(app, caplog):
    from focalpoint.scheduler import run_in_app

    server = HostileServer({"/feed": Respond(FEED)}).start()
    try:
        source_id = make_source(app, url=server.url("/feed"), next_poll_at=utc(2020, 1, 1))
        from focalpoint.notifications.jobs import poll_if_due

        summary = run_in_app(app, poll_if_due, source_id)
    finally:
        server.stop()
    assert (summary.outcome, summary.new) == ("ok", 1)

    def broken(_):
        raise RuntimeError("boom")

    assert run_in_app(app, broken, 1) is None
    assert [r.getMessage() for r in caplog.records if r.name == "focalpoint.scheduler"] == ["job broken failed"]
