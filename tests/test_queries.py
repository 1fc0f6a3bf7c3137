"""Queries per page must not grow with the data (no N+1): the same pages with 5 and with 60 rows."""
from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from conftest import login

SMALL, LARGE = 5, 60
TODAY = dt.datetime.now(ZoneInfo("Europe/Brussels")).date()


def seed(app, rows: int) -> int:
    """``rows`` of everything a page lists; returns the id of a notification with ``rows`` of each relation.

    Every variant has the same shape (each kind of relation present), only the numbers differ.
    """
    from focalpoint.audit import log_action
    from focalpoint.auth.models import Administration, Role, User, UserRole
    from focalpoint.extensions import db
    from focalpoint.notifications.models import (Deadline, FeedSource, FetchLog, Notification, NotificationNote,
                                                 NotificationStatus, Origin)
    from focalpoint.notifications.services import due_moment

    def at(days: int) -> dt.datetime:
        return dt.datetime.combine(TODAY + dt.timedelta(days=days), dt.time(9), tzinfo=dt.timezone.utc)

    with app.app_context():
        administrations = db.session.scalars(sa.select(Administration).order_by(Administration.id)).all()
        users = []
        for i in range(rows):
            role = (Role.STAFF, Role.EXPERT, Role.REVIEWER)[i % 3]
            user = User(email=f"user{i:03d}@example.org", name=f"User {i:03d}", password_hash=None,
                        administration_id=administrations[i % len(administrations)].id if role == Role.REVIEWER
                        else None, last_login_at=at(-i))
            user.role_rows = [UserRole(role=role)] + ([UserRole(role=Role.ADMIN)] if i % 7 == 0 else [])
            users.append(user)
        db.session.add_all(users)
        sources = [FeedSource(name=f"Source {i:03d}", url=f"https://s{i}.example.org/feed", interval_minutes=60,
                              last_polled_at=at(0), last_success_at=at(-1) if i % 2 else None,
                              last_error="HTTP 404 Not Found" if i % 2 == 0 else None,
                              last_error_at=at(0) if i % 2 == 0 else None) for i in range(rows)]
        db.session.add_all(sources)
        db.session.flush()
        for source in sources:
            db.session.add(FetchLog(source_id=source.id, outcome="ok", items_seen=3))
        staff = [u for u in users if u.role_rows[0].role == Role.STAFF]

        def deadline(days: int, label: str = "nomination") -> Deadline:
            day = TODAY + dt.timedelta(days=days)
            return Deadline(date=day, due_at=due_moment(day, None, None), label=label,
                            text=f"Nominations by {day:%d %B %Y}.", source="text")

        target = Notification(source=sources[0], origin=Origin.FEED, guid="urn:target", title="EM/2025/01: Target",
                              reference="EM/2025/01", text="t", summary_html="<p>t</p>", published_at=at(-1),
                              related_references=[f"EM/2024/{i + 50}" for i in range(rows)], assignee=staff[0],
                              national_deadline=TODAY + dt.timedelta(days=2),
                              deadlines=[deadline(d) for d in range(-rows // 2, rows - rows // 2)])
        target.notes = [NotificationNote(body=f"note {i}", author_id=users[i].id) for i in range(rows)]
        db.session.add(target)
        db.session.flush()
        cited = [Notification(source=sources[i], origin=Origin.FEED, guid=f"urn:cited:{i}", title=f"EM/2024/{i + 50}",
                              reference=f"EM/2024/{i + 50}", published_at=at(-300), related_references=[],
                              assignee=staff[i % len(staff)]) for i in range(rows)]
        db.session.add_all(cited)
        target.original = cited[0]
        for i in range(rows):
            reminder = Notification(source=sources[i], origin=Origin.FEED, guid=f"urn:reminder:{i}",
                                    title=f"Reminder {i}: EM/2025/01", is_reminder=True,
                                    related_references=["EM/2025/01"], original=target, published_at=at(-i),
                                    assignee=staff[i % len(staff)], status=NotificationStatus.IN_PROGRESS,
                                    deadlines=[deadline(i + 1), deadline(-i - 1)],
                                    national_deadline=TODAY + dt.timedelta(days=i - 2))
            copy = Notification(source=sources[i], origin=Origin.FEED, guid=f"urn:copy:{i}",
                                title=f"Relayed copy {i}", reference="EM/2025/01", duplicate_of=target,
                                published_at=at(-i), related_references=[], deadlines=[deadline(i + 3)])
            other = Notification(origin=(Origin.MANUAL, Origin.EMAIL)[i % 2], guid=f"manual:{i}",
                                 title=f"Call {i}", reference=f"EM/2023/{i:02d}", published_at=at(-i - 5),
                                 related_references=[], assignee=staff[(i + 1) % len(staff)],
                                 deadlines=[deadline(i - 3, "application"), deadline(i + 10)],
                                 national_deadline=TODAY + dt.timedelta(days=i - 5))
            other.notes = [NotificationNote(body="n", author_id=users[i].id)]
            db.session.add_all([reminder, copy, other])
        db.session.flush()
        for i in range(rows):
            log_action(target, "notification.status", actor=users[i], data={"previous": "new", "new": "new"})
        db.session.commit()
        return target.id


@contextmanager
def counting(app):
    from focalpoint.extensions import db

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


PAGES = ["/", "/notifications", "/notifications?sort=deadline", "/notifications?sort=deadline&dir=desc&status=all"
         "&copies=1", "/notifications/{target}", "/feeds", "/admin/users", "/admin/users?sort=last_login&dir=desc"]


def queries_per_page(app, make_user, rows: int) -> dict[str, int]:
    target = seed(app, rows)
    make_user("admin@example.org", "admin", name="Ada Admin")
    client = app.test_client()
    assert login(client, "admin@example.org").status_code == 302
    counts = {}
    for page in PAGES:
        path = page.format(target=target)
        client.get(path)  # warm caches (compiled statements, templates) first
        with counting(app) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[page] = len(statements)
    return counts


def test_queries_per_page_do_not_grow_with_the_data(app, make_user):
    from conftest import _empty_all_tables
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    small = queries_per_page(app, make_user, SMALL)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    large = queries_per_page(app, make_user, LARGE)
    assert large == small
    assert max(small.values()) <= 20, small  # and a handful each, whatever the data


def test_the_counter_sees_every_statement(app, make_user):
    """The listener counts one statement per query, so an N+1 would show."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    seed(app, SMALL)
    with counting(app) as statements, app.app_context():
        reminders = db.session.scalars(sa.select(Notification).where(Notification.is_reminder.is_(True))).all()
        for n in reminders:
            _ = [d.date for d in n.deadlines]  # lazy: one query each
    assert len(reminders) == SMALL
    assert [re.search(r"\bFROM\s+(\w+)", s).group(1) for s in statements if s.startswith("SELECT")] == [
        "notifications"] + ["notification_deadlines"] * SMALL
