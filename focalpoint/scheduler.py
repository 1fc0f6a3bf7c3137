"""The APScheduler set-up, used by ``focalpoint serve`` (in-process) and ``focalpoint scheduler``.

Never started by ``create_app``. Every job is idempotent at the database level (claims with a
conditional UPDATE), so two scheduler processes cost CPU, not correctness (RELIABILITY 2.3).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from focalpoint.extensions import db

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def run_in_app(app, func, *args):
    """Run ``func`` inside an application context; log and swallow errors (the next run retries)."""
    with app.app_context():
        try:
            return func(*args)
        except Exception:
            log.exception("job %s failed", getattr(func, "__name__", func))
            db.session.rollback()
        finally:
            db.session.remove()


def sync_feed_jobs(app, scheduler) -> None:
    """One interval job per active feed source, following changes to sources."""
    from focalpoint.notifications.jobs import poll_if_due
    from focalpoint.notifications.models import FeedSource

    with app.app_context():
        try:
            rows = db.session.execute(
                sa.select(FeedSource.id, FeedSource.interval_minutes, FeedSource.next_poll_at)
                .where(FeedSource.is_active.is_(True))
            ).all()
        finally:
            db.session.remove()
    now = dt.datetime.now(dt.timezone.utc)
    wanted = {f"feed:{source_id}": minutes for source_id, minutes, _ in rows}
    due = {f"feed:{source_id}" for source_id, _, next_at in rows if next_at is None or next_at <= now}
    for job in scheduler.get_jobs():
        if job.id.startswith("feed:") and job.id not in wanted:
            job.remove()
    for job_id, minutes in wanted.items():
        job = scheduler.get_job(job_id)
        source_id = int(job_id.split(":", 1)[1])
        if job is None:
            scheduler.add_job(run_in_app, IntervalTrigger(minutes=minutes), args=[app, poll_if_due, source_id],
                              id=job_id, name=f"poll feed source {source_id}",
                              next_run_time=dt.datetime.now(dt.timezone.utc))
        else:
            if job.trigger.interval != dt.timedelta(minutes=minutes):
                job.reschedule(IntervalTrigger(minutes=minutes))
            if job_id in due:  # a new URL, a backlog, a failed source's back-off that ended
                job.modify(next_run_time=now)


def build_scheduler(app, *, blocking: bool = False):
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=dt.timezone.utc, job_defaults=JOB_DEFAULTS)
    tick = app.config["SCHEDULER_TICK_SECONDS"]
    scheduler.add_job(sync_feed_jobs, IntervalTrigger(seconds=tick), args=[app, scheduler], id="feeds.sync",
                      name="follow feed sources", next_run_time=dt.datetime.now(dt.timezone.utc))
    from focalpoint.mail import deliver_outbox

    scheduler.add_job(run_in_app, IntervalTrigger(seconds=30), args=[app, deliver_outbox], id="mail.deliver",
                      name="deliver the e-mail outbox", next_run_time=dt.datetime.now(dt.timezone.utc))
    from focalpoint.invitations.jobs import expire_invitations, send_reminders

    scheduler.add_job(run_in_app, IntervalTrigger(minutes=15), args=[app, expire_invitations],
                      id="invitations.expire", name="expire invitations at the national deadline")
    scheduler.add_job(run_in_app, IntervalTrigger(minutes=15), args=[app, send_reminders],
                      id="invitations.remind", name="remind experts who have not answered")
    from focalpoint.positions.jobs import remind_due_reviews

    scheduler.add_job(run_in_app, IntervalTrigger(minutes=60), args=[app, remind_due_reviews],
                      id="positions.remind", name="remind administrations whose review is nearly due")
    from focalpoint.consultations.jobs import send_consultation_reminders

    scheduler.add_job(run_in_app, IntervalTrigger(minutes=15), args=[app, send_consultation_reminders],
                      id="consultations.remind", name="remind invited experts who have not commented")
    from focalpoint.due.jobs import send_digests_job

    scheduler.add_job(run_in_app, IntervalTrigger(minutes=15), args=[app, send_digests_job],
                      id="due.digests", name="send the daily and weekly digests")
    return scheduler
