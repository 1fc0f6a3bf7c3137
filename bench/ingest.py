#!/usr/bin/env python
"""Ingest a generated 2,000-item feed through the app, then ingest it again; print items/s and peak memory.

    python bench/ingest.py                      # a fresh SQLite database in a temporary folder
    python bench/ingest.py --items 5000
    python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench

The feed (realistic IPBES-like notifications: varied kinds and titles, references EM/yyyy/nn, reminders
citing earlier notifications, deadlines in the shapes the secretariat writes them) is served over HTTP on
127.0.0.1 and polled with ``add_source`` + ``poll_source``, exactly as the scheduler does. The feed is
served without ETag/Last-Modified, so the second pass downloads, parses and compares every item (the
worst case of a re-poll); a third, conditional poll shows the 304 path. With --database-url the database
should be empty (the schema is migrated to the latest revision first).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ASSESSMENTS = [
    "the nexus assessment", "the transformative change assessment", "the business and biodiversity assessment",
    "the spatial planning assessment", "the second global assessment of biodiversity and ecosystem services",
    "the monitoring assessment", "the invasive alien species assessment", "the sustainable use of wild species "
    "assessment", "the values assessment", "the regional assessment for Europe and Central Asia",
]
TASK_FORCES = ["the task force on knowledge and data", "the task force on capacity-building",
               "the task force on indigenous and local knowledge", "the task force on scenarios and models"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def long_date(d: dt.date, year: bool = True) -> str:
    return f"{d.day} {MONTHS[d.month - 1]}" + (f" {d.year}" if year else "")


def notification(rng: random.Random, i: int, published: dt.date, ref: str, earlier: list[str]) -> dict:
    """One IPBES-like notification: title, plain text and HTML body."""
    d1 = published + dt.timedelta(days=rng.randint(20, 70))
    d2 = d1 + dt.timedelta(days=rng.randint(7, 21))
    thing = rng.choice(ASSESSMENTS)
    shape = rng.randrange(9)
    if earlier and rng.random() < 0.12:
        cited = rng.choice(earlier[-40:])
        title = f"{ref}: Reminder: call for nominations of experts for {thing}"
        text = (f"With reference to notification {cited}, the secretariat reminds Governments and stakeholders "
                f"that the deadline for nominations has been extended to {long_date(d1)}.")
    elif shape == 0:
        title = f"{ref}: Call for nominations of experts for {thing}"
        text = (f"Governments and relevant stakeholders are invited to nominate experts for {thing}. Experts "
                f"should complete the application form by {long_date(d1, year=False)}, and nominating "
                f"Governments should approve the nominations before {long_date(d2)}.")
    elif shape == 1:
        short = lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"  # noqa: E731
        span = f"{short(published)} - {short(d1)}"
        title = f"{ref}: Call for nominations for fellows for {thing} ({span})"
        text = (f"Further to the call for nominations of experts for {thing}, early-career researchers are invited "
                f"to apply to the IPBES fellowship programme.")
    elif shape == 2:
        title = f"External review of the first order draft of {thing} ({ref})"
        text = (f"The external review is open from {long_date(published + dt.timedelta(days=3), year=False)} to "
                f"{long_date(d1)}. Comments must be submitted by 23:59 (CET) on {long_date(d1)} using the "
                f"review template.")
    elif shape == 3:
        title = f"{ref}: Call for inputs on {rng.choice(TASK_FORCES)}"
        text = f"Action required by {d1.isoformat()}: please send your inputs through the online questionnaire."
    elif shape == 4:
        title = f"Call for offers to host the technical support unit for {thing} - deadline is {long_date(d1)}"
        text = "Offers of in-kind support are invited from Governments and institutions."
    elif shape == 5:
        title = f"{ref}: Save the date: session of the IPBES Plenary"
        text = (f"The next session of the Plenary will be held from {long_date(d2, year=False)} to "
                f"{long_date(d2 + dt.timedelta(days=5))}. Registration opens in due course.")
    elif shape == 6:
        title = f"{ref}: Invitation to the dialogue workshop on {thing}"
        text = (f"The workshop will take place online. Please register by 6 p.m. (Central European Time) on "
                f"{long_date(d1)}.")
    elif shape == 7:
        title = f"{ref}: Call for nominations for members of the Multidisciplinary Expert Panel"
        text = (f"Nominations should be submitted by {long_date(d1, year=False)} for the chapters and "
                f"{long_date(d2, year=False)} for the summary for policymakers.")
    else:
        title = f"Government review of the second order draft of {thing} ({ref})"
        text = (f"Governments are invited to review the draft chapters and summary for policymakers. Comments "
                f"are due on {long_date(d1)}.")
    html = f"<p>Dear National Focal Points,</p><p>{escape(text)}</p><p>Item {i}. <em>IPBES secretariat</em></p>"
    return {"guid": f"urn:ipbes:bench:{i}", "title": title, "html": html,
            "link": f"https://www.ipbes.net/notification/{ref.replace('/', '-').lower()}",
            "published": dt.datetime.combine(published, dt.time(9, 30), tzinfo=dt.timezone.utc)}


def generate_feed(count: int, seed: int = 2025) -> bytes:
    rng = random.Random(seed)
    day, year, number = dt.date(2013, 1, 7), None, 0
    items, earlier = [], []
    for i in range(count):
        day += dt.timedelta(days=rng.choice([1, 1, 2, 3]))
        if day.year != year:
            year, number = day.year, 0
        number += 1
        ref = f"EM/{day.year}/{number:02d}" if rng.random() < 0.5 else f"EM/{day.year}/{number}"
        items.append(notification(rng, i, day, ref, earlier))
        earlier.append(ref)
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
           "<title>IPBES notifications (bench)</title><link>https://www.ipbes.net/</link>",
           "<description>Generated for bench/ingest.py</description>"]
    for x in reversed(items):  # newest first, as feeds are
        out.append(f"<item><title>{escape(x['title'])}</title><link>{escape(x['link'])}</link>"
                   f'<guid isPermaLink="false">{x["guid"]}</guid><pubDate>{format_datetime(x["published"])}</pubDate>'
                   f"<description>{escape(x['html'])}</description></item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            conditional = self.path.endswith("?conditional")
            if conditional and self.headers.get("If-None-Match") == '"bench"':
                self.send_response(304)
                self.send_header("ETag", '"bench"')
                self.send_header("Connection", "close")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if conditional:
                self.send_header("ETag", '"bench"')
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="focalpoint-bench-")
    os.environ["FOCALPOINT_INSTANCE"] = tmp.name
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"

    import logging

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from config import LocalConfig
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.notifications.jobs import poll_source
    from focalpoint.notifications.models import Deadline, Notification
    from focalpoint.notifications.services import add_source

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40,
                     FEED_BLOCK_PRIVATE=False, FEED_TOTAL_TIMEOUT=120.0)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    def counts(source_id: int) -> tuple[int, int, int, int]:
        mine = Notification.source_id == source_id
        result = (db.session.scalar(sa.select(sa.func.count()).where(mine)),
                  db.session.scalar(sa.select(sa.func.count()).where(mine, Notification.reference.isnot(None))),
                  db.session.scalar(sa.select(sa.func.count()).select_from(Deadline).join(Notification).where(mine)),
                  db.session.scalar(sa.select(sa.func.count()).where(mine, Notification.original_id.isnot(None))))
        db.session.commit()
        return result

    t0 = time.perf_counter()
    feed = generate_feed(args.items)
    print(f"feed: {args.items} items, {len(feed) / 2**20:.2f} MB, generated in {time.perf_counter() - t0:.2f} s")
    server = serve(feed)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            print(f"database: {db.engine.url.render_as_string(hide_password=True)} ({db.engine.dialect.name})")
            stamp = dt.datetime.now().strftime("%H%M%S")
            source = add_source(f"bench {stamp}", base + "/feed.rss")
            conditional = add_source(f"bench {stamp} (conditional)", base + "/feed.rss?conditional")
            db.session.commit()
            source_id, conditional_id = source.id, conditional.id

            passes = (("first ingest", source_id), ("re-ingest (full download, nothing new)", source_id))
            timed = []
            for label, sid in passes:  # timed without tracemalloc (it slows allocation-heavy code down)
                t = time.perf_counter()
                summary = poll_source(sid)
                timed.append((summary, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
                if summary.failed:
                    print(f"{label}: FAILED {summary.error}")
                    return 1
            stored = counts(source_id)

            # the same two passes again from scratch, under tracemalloc, for the peak of each
            db.session.execute(sa.delete(Notification).where(Notification.source_id == source_id))
            db.session.commit()
            tracemalloc.start()
            peaks = []
            for label, sid in passes:
                tracemalloc.reset_peak()
                poll_source(sid)
                peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

            for (label, _), (summary, elapsed, maxrss), peak in zip(passes, timed, peaks):
                print(f"{label}: {summary.seen} items in {elapsed:.2f} s = {summary.seen / elapsed:,.0f} items/s "
                      f"({summary.new} new, {summary.updated} updated); tracemalloc peak {peak / 2**20:.1f} MB, "
                      f"ru_maxrss after it {maxrss / 1024:.0f} MB")

            poll_source(conditional_id)  # a second copy of the feed, with an ETag (its items are relayed copies)
            t = time.perf_counter()
            summary = poll_source(conditional_id)
            print(f"conditional re-poll: {summary.outcome} in {(time.perf_counter() - t) * 1000:.0f} ms")
            print("stored: {} notifications from the bench source ({} with a reference, {} deadlines, "
                  "{} reminders attached to their original)".format(*stored))
            db.session.commit()
            db.engine.dispose()
    finally:
        server.shutdown()
        server.server_close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS (ru_maxrss): {rss / 1024:.0f} MB")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
