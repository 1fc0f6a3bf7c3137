"""Demo data for a newcomer: one user per role and a realistic inbox whose deadlines lie ahead.

Idempotent: users are matched by e-mail; demo notifications by their GUID. Demo passwords are
generated once and kept in the instance folder, so they are the same at every start.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from focalpoint.auth.models import Administration, Role, User
from focalpoint.auth.services import create_user, hash_password
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.notifications.feeds import FeedEntry, sanitize_html
from focalpoint.notifications.models import FeedSource, Notification, NotificationStatus
from focalpoint.notifications.services import ingest_entries, set_status

DEMO_USERS = [
    ("admin@focalpoint.example", "Ada Admin", [Role.ADMIN, Role.STAFF], None),
    ("staff@focalpoint.example", "Sam Staff", [Role.STAFF], None),
    ("expert@focalpoint.example", "Eva Expert", [Role.EXPERT], None),
    ("reviewer@focalpoint.example", "Rik Reviewer", [Role.REVIEWER], "BE-VL"),
]

DEMO_SOURCE = "IPBES secretariat (demo)"


def _passwords() -> dict[str, str]:
    path = Path(current_app.instance_path) / "demo_passwords.json"
    if path.exists():
        return json.loads(path.read_text())
    passwords = {email: f"demo-{secrets.token_urlsafe(9)}" for email, *_ in DEMO_USERS}
    os.makedirs(path.parent, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh)
    return passwords


def _fmt(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def demo_entries(today: dt.date) -> list[FeedEntry]:
    year = today.year
    d = lambda n: today + dt.timedelta(days=n)  # noqa: E731
    items = [
        (f"EM/{year}/41: Call for nominations of experts for the second global assessment of biodiversity and ecosystem services",
         f"Governments and relevant organizations are invited to nominate experts as coordinating lead authors, lead authors "
         f"and review editors. Candidates are requested to complete the application form by {_fmt(d(24))}. Nominators should "
         f"approve the applications and submit their nominations by {_fmt(d(38))}.", -3),
        (f"EM/{year}/42: Call for nominations for fellows for the second global assessment",
         f"Further to the call for nominations of experts (EM/{year}/41), Governments are invited to nominate early-career "
         f"fellows. Nominations must be submitted no later than {_fmt(d(38))}, 23:59 (CET).", -3),
        (f"EM/{year}/39: External review of the second order draft of the monitoring assessment",
         f"The second order draft of the methodological assessment on monitoring biodiversity is open for external review "
         f"from {_fmt(d(-20))} to {_fmt(d(6))}. Please submit your comments using the review template by {_fmt(d(6))}.", -20),
        (f"REMINDER: EM/{year}/39: External review of the second order draft of the monitoring assessment closes soon",
         f"With reference to notification EM/{year}/39, we remind you that the review period closes on {_fmt(d(6))}.", -1),
        (f"EM/{year}/37: Call for inputs on the draft work plan of the task force on knowledge and data",
         f"Governments and stakeholders are invited to submit their inputs using the online form by {_fmt(d(-2))}.", -30),
        ("Save the date: Thirteenth session of the Plenary of IPBES (IPBES 13)",
         f"I am pleased to inform you that the thirteenth session of the IPBES Plenary will be held from {_fmt(d(120))} "
         f"to {_fmt(d(126))}.", -10),
        (f"Call for offers to host the technical support unit for the business and biodiversity follow-up - deadline is {_fmt(d(45))}",
         f"Interested Governments or relevant organizations are invited to submit their offers by {_fmt(d(45))}, 6 p.m. "
         f"(Central European Time) to the secretariat.", -5),
        ("Online dialogue workshop on Indigenous and local knowledge for the spatial planning assessment",
         f"The secretariat invites Indigenous peoples and local communities to an online dialogue workshop. "
         f"Please register by {_fmt(d(15))}.", -2),
    ]
    entries = []
    for n, (title, text, published_offset) in enumerate(items, 1):
        published = dt.datetime.combine(d(published_offset), dt.time(9), tzinfo=dt.timezone.utc)
        entries.append(FeedEntry(guid=f"urn:focalpoint:demo:{n}", link=f"https://www.ipbes.net/notifications#demo-{n}",
                                 title=title, summary_html=sanitize_html(f"<p>{text}</p>"), text=text,
                                 published=published))
    return entries


def load_demo() -> list[str]:
    lines = []
    passwords = _passwords()
    for email, name, roles, admin_code in DEMO_USERS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            admin = db.session.scalar(sa.select(Administration).where(Administration.code == admin_code)) \
                if admin_code else None
            if admin_code and admin is None:  # a country without that administration
                admin = db.session.scalar(sa.select(Administration).order_by(Administration.id))
            user = create_user(email, roles=roles, password=passwords[email], name=name, administration=admin)
        else:
            user.password_hash = hash_password(passwords[email])
        lines.append(f"  demo {'/'.join(sorted(str(r) for r in user.roles)):13} {email:30} password: {passwords[email]}")

    source = db.session.scalar(sa.select(FeedSource).where(FeedSource.name == DEMO_SOURCE))
    if source is None:
        # Inactive: the demo items are loaded from the package, nothing is fetched.
        source = FeedSource(name=DEMO_SOURCE, url="https://www.ipbes.net/notifications/feed", is_active=False,
                            interval_minutes=60)
        db.session.add(source)
        db.session.flush()
    today = dt.datetime.now(dt.timezone.utc).date()
    counts = ingest_entries(source, demo_entries(today))
    staff = db.session.scalar(sa.select(User).where(User.email == "staff@focalpoint.example"))
    if counts.new:
        first = db.session.scalar(sa.select(Notification).where(Notification.guid == "urn:focalpoint:demo:1"))
        if first is not None and first.status == NotificationStatus.NEW:
            set_status(first, NotificationStatus.IN_PROGRESS, actor=staff)
            first.assignee = staff
    source.last_polled_at = source.last_success_at = utcnow()
    lines.insert(0, f"Demo data: {counts.new} demo notifications added ({counts.seen} in the demo set)")
    return lines
