"""Ingestion end to end: feeds served over HTTP on 127.0.0.1, polled through the app, stored, shown.

(a) the real labelled IPBES notifications as RSS 2.0 + Atom 1.0, conditional GET, changed entries,
    relayed copies and reminders; (b) hostile feeds through poll_sources(); (c) feedparser's corpus
    ingested without a crash and its sanitize cases rendered with no executable markup.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import tracemalloc
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa
from markupsafe import escape as html_escape
from hostile_server import Conditional, Drip, GzipBomb, HostileServer, Redirect, Respond, Stream, closed_port

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}


# --- feeds written by hand (like shared/checks/lib/holdout_feed.py) ---------------------------------
def _when(published) -> dt.datetime | None:
    if not published:
        return None
    if isinstance(published, dt.datetime):
        return published
    return dt.datetime.fromisoformat(str(published) + "T09:00:00+00:00")


def rss_feed(items: list[dict], title: str = "IPBES notifications (relay)") -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
           f"<title>{escape(title)}</title><link>https://www.ipbes.net/</link>",
           "<description>Notifications of the IPBES secretariat</description>"]
    for x in items:
        out.append("<item>")
        out.append(f"<title>{escape(x['title'])}</title><link>{escape(x['link'])}</link>")
        out.append(f'<guid isPermaLink="false">{escape(x["guid"])}</guid>')
        if _when(x.get("published")):
            out.append(f"<pubDate>{format_datetime(_when(x['published']))}</pubDate>")
        out.append(f"<description>{escape('<p>' + escape(x['text']) + '</p>')}</description>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def atom_feed(items: list[dict], title: str = "IPBES calls") -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
           f"<title>{escape(title)}</title><id>urn:labelled:atom</id><updated>2025-03-01T00:00:00Z</updated>"]
    for x in items:
        t = _when(x.get("published"))
        out.append("<entry>")
        out.append(f"<title>{escape(x['title'])}</title><link href=\"{escape(x['link'])}\"/>")
        out.append(f"<id>{escape(x['guid'])}</id>")
        if t:
            out.append(f"<published>{t.isoformat()}</published><updated>{t.isoformat()}</updated>")
        out.append(f'<content type="html">{escape("<p>" + escape(x["text"]) + "</p>")}</content>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")


def item(guid, title, text, published="2025-01-10", link=None) -> dict:
    return {"guid": guid, "title": title, "text": text, "published": published,
            "link": link or f"https://www.ipbes.net/notifications/{guid.rsplit(':', 1)[-1]}"}


NEXUS = item("urn:ipbes:nexus-7", "EM/2025/07: Call for nominations of experts for the second nexus assessment",
             "The IPBES secretariat invites Governments to nominate experts for the second nexus assessment. "
             "Nominations must be submitted by 15 March 2025.")
NEXUS_REMINDER = item("urn:ipbes:nexus-12",
                      "EM/2025/12: Reminder: call for nominations of experts for the second nexus assessment",
                      "With reference to notification EM/2025/07, the secretariat reminds Governments that "
                      "nominations must be submitted by 15 March 2025.", published="2025-03-01")
NEXUS_RELAYED = item("https://relay.example.org/items/991",
                     "Relay: IPBES call for nominations of experts (EM/2025/07)",
                     "Reposted from IPBES. The IPBES secretariat invites Governments to nominate experts for the "
                     "second nexus assessment. Nominations must be submitted by 15 March 2025.",
                     published="2025-01-11", link="https://relay.example.org/items/991")


# --- helpers ------------------------------------------------------------------------------------------
def labelled_items(shared_dir: Path) -> list[dict]:
    return json.loads((shared_dir / "reference" / "ipbes-notifications-sample.json").read_text("utf-8"))


def add_sources(app, **urls) -> dict[str, int]:
    from focalpoint.extensions import db
    from focalpoint.notifications.services import add_source

    with app.app_context():
        ids = {name: add_source(name, url).id for name, url in urls.items()}
        db.session.commit()
    return ids


def poll_all(app, names=None):
    from focalpoint.notifications.jobs import poll_sources

    with app.app_context():
        return [(s.source, s.outcome, s.seen, s.new, s.updated) for s in poll_sources(names)]


def notification_dicts(app) -> list[dict]:
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification
    from focalpoint.notifications.services import notification_as_dict

    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
        return [notification_as_dict(n) for n in rows]


def fetch_logs(app, source_id: int) -> list[tuple]:
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FetchLog

    with app.app_context():
        return [(log.outcome, log.http_status, log.items_seen, log.items_new, log.items_updated, log.error_code)
                for log in db.session.scalars(sa.select(FetchLog).where(FetchLog.source_id == source_id)
                                              .order_by(FetchLog.id))]


def count_notifications(app) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Notification))


# =====================================================================================================
# (a) The real notifications, as RSS and Atom
# =====================================================================================================
@pytest.fixture
def labelled_server(shared_dir):
    items = labelled_items(shared_dir)
    rss_items, atom_items = items[0::2], items[1::2]
    routes = {
        "/ipbes.rss": Conditional(rss_feed(rss_items), etag='"rss-v1"', headers=RSS_TYPE),
        "/ipbes.atom": Conditional(atom_feed(atom_items), last_modified="Sat, 01 Mar 2025 00:00:00 GMT",
                                   headers=ATOM_TYPE),
    }
    server = HostileServer(routes).start()
    yield server, items
    server.stop()


def test_labelled_notifications_are_stored_once_with_their_labels(app, labelled_server):
    server, items = labelled_server
    add_sources(app, **{"IPBES Atom": server.url("/ipbes.atom"), "IPBES RSS": server.url("/ipbes.rss")})

    assert poll_all(app) == [("IPBES Atom", "ok", 6, 6, 0), ("IPBES RSS", "ok", 6, 6, 0)]

    got = notification_dicts(app)
    assert len(got) == len(items) == 12
    by_guid = {n["guid"]: n for n in got}
    assert sorted(by_guid) == sorted(x["guid"] for x in items)  # every item once, under its own GUID
    for index, x in enumerate(items):
        n, e = by_guid[x["guid"]], x["expected"]
        assert n["source"] == ("IPBES RSS" if index % 2 == 0 else "IPBES Atom"), x["guid"]
        assert n["title"] == x["title"]
        assert n["link"] == x["link"]
        assert (n["published"] or "")[:10] == (x["published"] or ""), x["guid"]
        assert n["kind"] in e["kinds"], (x["guid"], n["kind"], n["kind_rule"])
        assert (n["reference"] or "").upper() == (e["reference"] or "").upper(), x["guid"]
        dates = {d["date"] for d in n["deadlines"]}
        assert set(e["deadlines"]) <= dates, (x["guid"], sorted(dates))
        assert n["is_reminder"] is e["is_reminder"], x["guid"]
        assert set(e["related_references"]) <= set(n["related_references"]), x["guid"]
        assert n["status"] == "new"
        assert n["origin"] == "feed"
        for d in n["deadlines"]:  # every deadline keeps the sentence it came from
            came_from = " ".join((x["title"] if d["source"] == "title" else x["text"]).split())
            assert d["text"] and d["text"] in came_from, (x["guid"], d)


def test_labelled_feeds_text_and_deadline_sentences_reach_the_detail_page(app, labelled_server, staff_client):
    server, items = labelled_server
    add_sources(app, **{"IPBES RSS": server.url("/ipbes.rss")})
    poll_all(app)
    by_guid = {n["guid"]: n for n in notification_dicts(app)}
    x = items[0]  # EM/2024/46, deadline 24 Jan 2025 taken from the title
    n = by_guid[x["guid"]]
    page = staff_client.get(f"/notifications/{n['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"<p>{escape(x['text'])}</p>" in html
    assert "EM/2024/46" in html and "EM/2024/45" in html
    for d in n["deadlines"]:
        assert f'<div class="source-sentence">{html_escape(d["text"])}</div>' in html


def test_second_poll_sends_a_conditional_get_and_adds_nothing(app, labelled_server):
    server, items = labelled_server
    ids = add_sources(app, **{"IPBES Atom": server.url("/ipbes.atom"), "IPBES RSS": server.url("/ipbes.rss")})
    poll_all(app)
    before = notification_dicts(app)

    assert poll_all(app) == [("IPBES Atom", "not_modified", 0, 0, 0), ("IPBES RSS", "not_modified", 0, 0, 0)]

    assert notification_dicts(app) == before
    rss_requests = [r for r in server.requests if r.path == "/ipbes.rss"]
    atom_requests = [r for r in server.requests if r.path == "/ipbes.atom"]
    assert "if-none-match" not in rss_requests[0].headers
    assert rss_requests[1].headers["if-none-match"] == '"rss-v1"'
    assert "if-modified-since" not in atom_requests[0].headers
    assert atom_requests[1].headers["if-modified-since"] == "Sat, 01 Mar 2025 00:00:00 GMT"
    assert fetch_logs(app, ids["IPBES RSS"]) == [("ok", 200, 6, 6, 0, None), ("not_modified", 304, 0, 0, 0, None)]
    assert fetch_logs(app, ids["IPBES Atom"]) == [("ok", 200, 6, 6, 0, None), ("not_modified", 304, 0, 0, 0, None)]

    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource

    with app.app_context():
        rss = db.session.get(FeedSource, ids["IPBES RSS"])
        assert (rss.etag, rss.last_error, rss.error_count) == ('"rss-v1"', None, 0)
        assert rss.last_success_at is not None and rss.last_polled_at is not None


def test_second_poll_without_validators_reads_the_feed_again_and_adds_nothing(app, shared_dir):
    items = labelled_items(shared_dir)
    with HostileServer({"/feed": Respond(rss_feed(items), headers=RSS_TYPE)}) as base:
        ids = add_sources(app, relay=base + "/feed")
        assert poll_all(app) == [("relay", "ok", 12, 12, 0)]
        before = notification_dicts(app)
        assert poll_all(app) == [("relay", "ok", 12, 0, 0)]
    assert notification_dicts(app) == before
    assert fetch_logs(app, ids["relay"]) == [("ok", 200, 12, 12, 0, None), ("ok", 200, 12, 0, 0, None)]


def test_changed_entry_is_updated_and_re_extracted_keeping_staff_decisions(app, make_user):
    from focalpoint.audit import AuditEntry
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.notifications import services as svc
    from focalpoint.notifications.models import Notification, NotificationKind

    staff_id = make_user("staff@example.org", "staff")
    server = HostileServer({"/feed": Conditional(rss_feed([NEXUS]), etag='"v1"', headers=RSS_TYPE)}).start()
    try:
        add_sources(app, IPBES=server.url("/feed"))
        assert poll_all(app) == [("IPBES", "ok", 1, 1, 0)]
        with app.app_context():
            staff = db.session.get(User, staff_id)
            n = db.session.scalar(sa.select(Notification))
            assert [(d.date, d.label) for d in n.deadlines] == [(dt.date(2025, 3, 15), "nomination")]
            svc.correct_deadline(n.deadlines[0], date=dt.date(2025, 3, 20), time=None, label="nomination",
                                 actor=staff)
            svc.override_kind(n, NotificationKind.REVIEW, actor=staff)
            db.session.commit()
            notification_id = n.id

        changed = dict(NEXUS, title=NEXUS["title"] + " (updated)",
                       text=NEXUS["text"].replace("15 March 2025", "31 March 2025")
                       + " Fellows may apply until 10 April 2025.")
        server.routes["/feed"] = Conditional(rss_feed([changed]), etag='"v2"', headers=RSS_TYPE)
        assert poll_all(app) == [("IPBES", "ok", 1, 0, 1)]
        assert server.requests[-1].headers["if-none-match"] == '"v1"'
    finally:
        server.stop()

    with app.app_context():
        n = db.session.get(Notification, notification_id)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
        assert n.title == changed["title"]
        assert "31 March 2025" in n.text and "10 April 2025" in n.text
        assert [(d.date, d.label, d.is_corrected, d.source) for d in n.deadlines] == [
            (dt.date(2025, 3, 20), "nomination", True, "text"),      # staff's correction kept
            (dt.date(2025, 3, 31), "nomination", False, "text"),     # re-extracted
            (dt.date(2025, 4, 10), "application", False, "text"),
        ]
        assert (n.kind, n.kind_auto, n.is_kind_overridden) == (NotificationKind.REVIEW, NotificationKind.EXPERT_CALL,
                                                               True)
        assert n.national_deadline == dt.date(2025, 3, 6)  # 10 working days before the corrected 20 March
        actions = db.session.scalars(sa.select(AuditEntry.action).where(
            AuditEntry.object_type == "notifications", AuditEntry.object_id == n.id).order_by(AuditEntry.id)).all()
        assert actions == ["notification.deadline_corrected", "notification.kind", "notification.updated_from_feed"]


def test_staff_removed_deadline_is_not_brought_back_by_a_changed_entry(app, make_user):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.notifications import services as svc
    from focalpoint.notifications.models import Notification

    staff_id = make_user("staff@example.org", "staff")
    with HostileServer({"/feed": Respond(rss_feed([NEXUS]), headers=RSS_TYPE)}) as base:
        add_sources(app, IPBES=base + "/feed")
        poll_all(app)
        with app.app_context():
            n = db.session.scalar(sa.select(Notification))
            svc.set_deadline_removed(n.deadlines[0], True, actor=db.session.get(User, staff_id))
            db.session.commit()
        changed = dict(NEXUS, title=NEXUS["title"] + " (corrigendum)")
    with HostileServer({"/feed": Respond(rss_feed([changed]), headers=RSS_TYPE)}) as base:
        with app.app_context():
            from focalpoint.notifications.models import FeedSource

            db.session.scalar(sa.select(FeedSource)).url = base + "/feed"
            db.session.commit()
        assert poll_all(app) == [("IPBES", "ok", 1, 0, 1)]
    with app.app_context():
        n = db.session.scalar(sa.select(Notification))
        assert n.title == changed["title"]
        assert [(d.date, d.is_removed) for d in n.deadlines] == [(dt.date(2025, 3, 15), True)]
        assert n.national_deadline is None


def test_relayed_copy_with_the_same_reference_is_linked_to_the_first(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    routes = {"/ipbes": Respond(rss_feed([NEXUS]), headers=RSS_TYPE),
              "/relay": Respond(atom_feed([NEXUS_RELAYED]), headers=ATOM_TYPE)}
    with HostileServer(routes) as base:
        add_sources(app, **{"A secretariat": base + "/ipbes", "B relay": base + "/relay"})
        assert poll_all(app) == [("A secretariat", "ok", 1, 1, 0), ("B relay", "ok", 1, 1, 0)]
        assert poll_all(app) == [("A secretariat", "ok", 1, 0, 0), ("B relay", "ok", 1, 0, 0)]
    with app.app_context():
        first = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS["guid"]))
        copy = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS_RELAYED["guid"]))
        assert (first.reference, copy.reference) == ("EM/2025/07", "EM/2025/07")
        assert (first.duplicate_of_id, copy.duplicate_of_id) == (None, first.id)
        assert copy.original_id is None and copy.is_reminder is False
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2


def test_reminder_is_attached_to_its_original(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    server = HostileServer({"/feed": Respond(rss_feed([NEXUS]), headers=RSS_TYPE)}).start()
    try:
        add_sources(app, IPBES=server.url("/feed"))
        assert poll_all(app) == [("IPBES", "ok", 1, 1, 0)]
        server.routes["/feed"] = Respond(rss_feed([NEXUS_REMINDER, NEXUS]), headers=RSS_TYPE)  # newest first
        assert poll_all(app) == [("IPBES", "ok", 2, 1, 0)]
    finally:
        server.stop()
    with app.app_context():
        original = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS["guid"]))
        reminder = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS_REMINDER["guid"]))
        assert (reminder.reference, reminder.is_reminder, reminder.related_references) == (
            "EM/2025/12", True, ["EM/2025/07"])
        assert (reminder.original_id, reminder.duplicate_of_id) == (original.id, None)
        assert (original.original_id, original.duplicate_of_id, original.is_reminder) == (None, None, False)


@pytest.mark.parametrize("arrival", ["earlier poll", "same feed, reminder listed first"])
def test_reminder_that_arrives_before_its_original_is_attached_when_the_original_comes(app, arrival):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    routes = {"/relay": Respond(rss_feed([NEXUS_REMINDER]), headers=RSS_TYPE),
              "/ipbes": Respond(rss_feed([NEXUS]), headers=RSS_TYPE),
              "/both": Respond(rss_feed([NEXUS_REMINDER, NEXUS]), headers=RSS_TYPE)}
    with HostileServer(routes) as base:
        if arrival == "earlier poll":
            add_sources(app, relay=base + "/relay")
            assert poll_all(app) == [("relay", "ok", 1, 1, 0)]
            with app.app_context():
                waiting = db.session.scalar(sa.select(Notification))
                assert (waiting.is_reminder, waiting.original_id) == (True, None)
            add_sources(app, secretariat=base + "/ipbes")
            assert poll_all(app, ["secretariat"]) == [("secretariat", "ok", 1, 1, 0)]
        else:
            add_sources(app, secretariat=base + "/both")
            assert poll_all(app) == [("secretariat", "ok", 2, 2, 0)]
    with app.app_context():
        original = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS["guid"]))
        reminder = db.session.scalar(sa.select(Notification).where(Notification.guid == NEXUS_REMINDER["guid"]))
        assert reminder.original_id == original.id
        assert original.original_id is None and original.duplicate_of_id is None
        assert reminder.duplicate_of_id is None


# =====================================================================================================
# (b) Hostile feeds through the app
# =====================================================================================================
GOOD_ITEMS = [
    item("urn:flaky:1", "EM/2025/03: Call for nominations of experts for the business and biodiversity assessment",
         "Nominations must be submitted by 20 February 2025.", published="2025-01-05"),
    item("urn:flaky:2", "Call for inputs on the IPBES capacity-building rolling plan",
         "Inputs are invited until 28 February 2025.", published="2025-01-06"),
]
HEALTHY_ITEMS = [
    item("urn:healthy:1", "EM/2025/04: Call for offers to host a technical support unit",
         "Offers should be sent by 3 March 2025.", published="2025-01-07"),
    item("urn:healthy:2", "Save the date: twelfth session of the IPBES Plenary",
         "The twelfth session of the Plenary will take place in 2025.", published="2025-01-08"),
]

BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol0 "lol">\n'
                  + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
                  + b']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
                    b'<guid>urn:laughs</guid></item></channel></rss>')
XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       b'<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title><guid>urn:xxe</guid>'
       b'<description>&xxe;</description></item></channel></rss>')

# name -> (behaviour, FeedError code, words the message must contain)
HOSTILE = {
    "not XML": (Respond(b"Service temporarily unavailable, please come back later.",
                        headers={"Content-Type": "text/plain"}), "not_a_feed", "not a feed"),
    "HTML page": (Respond(b"<!doctype html><html><head><title>Maintenance</title></head><body><h1>We'll be back"
                          b"</h1><p>The site is down for maintenance.</p></body></html>",
                          headers={"Content-Type": "text/html; charset=utf-8"}), "not_a_feed", "html page"),
    "empty": (Respond(b"", headers=RSS_TYPE), "empty", "empty"),
    "binary": (Respond(bytes(range(256)) * 64, headers={"Content-Type": "application/octet-stream"}),
               "not_a_feed", "binary"),
    "billion laughs": (Respond(BILLION_LAUGHS, headers=RSS_TYPE), "entities", "entities"),
    "XXE": (Respond(XXE, headers=RSS_TYPE), "entities", "entities"),
    "40 MB body": (Stream(40 * 2**20, headers=RSS_TYPE), "too_large", "larger than"),
    "gzip bomb": (GzipBomb(2 * 2**30), "decompression", "decompress"),
    "redirect loop": (Redirect("/flaky"), "redirects", "redirect"),
    "1 byte/s drip": (Drip(rss_feed(GOOD_ITEMS), interval=1.0, headers=RSS_TYPE), "timeout", "longer than 3 s"),
    "404": (Respond(b"gone fishing", 404, {"Content-Type": "text/plain"}), "http_error", "404"),
    "refused connection": (None, "connection", "refused"),
}


def _snapshot(app, source_id: int) -> list[tuple]:
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).where(Notification.source_id == source_id)
                                  .order_by(Notification.id)).all()
        return [(n.id, n.guid, n.title, n.text, n.summary_html, n.link, n.reference, str(n.kind), n.content_hash,
                 n.version, n.national_deadline, [(d.date, d.label, d.text) for d in n.deadlines]) for n in rows]


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_feed_is_recorded_as_an_error_and_loses_nothing(app, case, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource, FetchLog, Notification

    behaviour, code, words = HOSTILE[case]
    app.config["FEED_TOTAL_TIMEOUT"] = 3
    server = HostileServer({"/flaky": Respond(rss_feed(GOOD_ITEMS), headers=RSS_TYPE),
                            "/healthy": Respond(atom_feed(HEALTHY_ITEMS), headers=ATOM_TYPE)}).start()
    try:
        ids = add_sources(app, flaky=server.url("/flaky"))
        assert poll_all(app) == [("flaky", "ok", 2, 2, 0)]
        stored = _snapshot(app, ids["flaky"])
        assert len(stored) == 2
        ids |= add_sources(app, healthy=server.url("/healthy"))
        with closed_port() as port:
            if behaviour is None:
                with app.app_context():
                    db.session.get(FeedSource, ids["flaky"]).url = f"http://127.0.0.1:{port}/flaky"
                    db.session.commit()
            else:
                server.routes["/flaky"] = behaviour
            tracemalloc.start()
            t0 = time.monotonic()
            summaries = poll_all(app)
            elapsed = time.monotonic() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    finally:
        server.stop()

    assert elapsed < 3 + 2.5, f"{case}: the poll took {elapsed:.1f} s"
    assert peak < 80 * 2**20, f"{case}: peak {peak / 2**20:.0f} MB"
    assert summaries == [("flaky", "error", 0, 0, 0), ("healthy", "ok", 2, 2, 0)]
    with app.app_context():
        flaky = db.session.get(FeedSource, ids["flaky"])
        assert flaky.last_error is not None and words in flaky.last_error.lower(), flaky.last_error
        assert "Traceback" not in flaky.last_error and len(flaky.last_error) < 200
        assert flaky.error_count == 1  # grew from 0 after the good poll
        assert flaky.last_error_at is not None and flaky.last_success_at < flaky.last_error_at
        logs = db.session.scalars(sa.select(FetchLog).where(FetchLog.source_id == flaky.id)
                                  .order_by(FetchLog.id)).all()
        assert [(log.outcome, log.error_code) for log in logs] == [("ok", None), ("error", code)]
        assert logs[-1].error == flaky.last_error
        assert logs[-1].duration_ms <= elapsed * 1000 + 50
        healthy = db.session.get(FeedSource, ids["healthy"])
        assert (healthy.last_error, healthy.error_count) == (None, 0)
        healthy_guids = db.session.scalars(sa.select(Notification.guid).where(Notification.source_id == healthy.id))
        assert sorted(healthy_guids) == [
            "urn:healthy:1", "urn:healthy:2"]
        error = flaky.last_error
    assert _snapshot(app, ids["flaky"]) == stored  # nothing already stored lost or changed

    # the error is shown to staff on the dashboard
    page = staff_client.get("/").get_data(as_text=True)
    assert f"<li>flaky: {html_escape(error)} (" in page


def test_failing_source_keeps_counting_errors_until_it_recovers(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource

    server = HostileServer({"/flaky": Respond(b"", 500)}).start()
    try:
        ids = add_sources(app, flaky=server.url("/flaky"))
        counts = []
        for _ in range(3):
            assert poll_all(app) == [("flaky", "error", 0, 0, 0)]
            with app.app_context():
                counts.append(db.session.get(FeedSource, ids["flaky"]).error_count)
        server.routes["/flaky"] = Respond(rss_feed(GOOD_ITEMS), headers=RSS_TYPE)
        assert poll_all(app) == [("flaky", "ok", 2, 2, 0)]
    finally:
        server.stop()
    assert counts == [1, 2, 3]
    with app.app_context():
        flaky = db.session.get(FeedSource, ids["flaky"])
        assert (flaky.error_count, flaky.last_error, flaky.last_error_at) == (0, None, None)
    assert [log[0] for log in fetch_logs(app, ids["flaky"])] == ["error", "error", "error", "ok"]


# =====================================================================================================
# (c) feedparser's corpus
# =====================================================================================================
class ExecutableMarkup(HTMLParser):
    """Collects anything in a page that could run: scripts other than ours, handlers, script URLs.

    ``ours`` holds the layout's own <script>, <link> and <meta> elements (tag and attributes, exactly):
    those are ours, everything else is checked.
    """

    FORBIDDEN = {"script", "iframe", "object", "embed", "style", "svg", "math", "frame", "frameset", "applet",
                 "base", "meta", "link", "form"}
    URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "data", "srcset",
                 "lowsrc", "dynsrc", "codebase", "cite", "longdesc", "usemap", "profile", "manifest"}

    def __init__(self, ours: set[tuple]):
        super().__init__(convert_charrefs=True)
        self.ours = ours
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if (tag, tuple(attrs)) in self.ours:
            return
        if tag in self.FORBIDDEN and not (tag == "form" and (dict(attrs).get("action") or "").startswith("/")):
            self.found.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in self.URL_ATTRS or name == "style":
                squeezed = "".join((value or "").split()).lower()
                if squeezed.startswith(("javascript:", "vbscript:", "data:", "livescript:")) or \
                        "expression(" in squeezed or "url(" in squeezed:
                    self.found.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def executable_markup(page: str, ours: set[tuple] = frozenset()) -> list[str]:
    scanner = ExecutableMarkup(set(ours))
    scanner.feed(page)
    scanner.close()
    return scanner.found


def layout_elements(page: str) -> set[tuple]:
    """The <script>, <link> and <meta> elements of a page that shows nothing from a feed."""
    class Layout(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.found: set[tuple] = set()

        def handle_starttag(self, tag, attrs):
            if tag in ("script", "link", "meta"):
                self.found.add((tag, tuple(attrs)))

    parser = Layout()
    parser.feed(page)
    return parser.found


def _corpus_files(shared_dir: Path, step: int, sanitize_step: int) -> tuple[list[Path], list[Path]]:
    root = shared_dir / "corpora" / "feedparser"
    if not root.is_dir():
        from conftest import missing

        missing(f"feedparser's corpus at {root}")
    sanitize = sorted(p for p in (root / "wellformed" / "sanitize").iterdir() if p.is_file())
    others = sorted(p for p in (root / "wellformed").rglob("*") if p.is_file() and "sanitize" not in p.parts)
    ill = sorted(p for p in (root / "illformed").rglob("*") if p.is_file())
    return others[::step] + ill[::step], sanitize[::sanitize_step]


def test_feedparser_corpus_is_ingested_and_sanitize_cases_render_inert(app, shared_dir, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications.feeds import FeedError, parse_feed
    from focalpoint.notifications.models import FeedSource, Notification
    from focalpoint.notifications.services import add_source, ingest_entries

    on_pg = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    sample, sanitize = _corpus_files(shared_dir, step=10, sanitize_step=3 if on_pg else 1)
    assert len(sample) >= 100 and len(sanitize) >= 240

    sanitize_ids: list[int] = []
    parsed_files = refused = 0
    with app.app_context():
        for index, path in enumerate(sample + sanitize):
            try:
                parsed = parse_feed(path.read_bytes())
            except FeedError:
                refused += 1
                continue
            parsed_files += 1
            # one source per file: the corpus reuses titles and links, hence GUIDs, across files
            source = add_source(f"corpus {index}", f"http://127.0.0.1/{path.parent.name}/{path.name}")
            counts = ingest_entries(source, parsed.entries)
            db.session.commit()
            assert counts.new == len({e.guid for e in parsed.entries}), path
            if path in sanitize:
                sanitize_ids += counts.new_ids
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
        sources = db.session.scalar(sa.select(sa.func.count()).select_from(FeedSource))
    assert parsed_files == sources and refused < len(sample) // 10
    assert stored >= len(sanitize_ids) >= len(sanitize) * 3 // 4

    ours = layout_elements(staff_client.get("/notifications/new").get_data(as_text=True))
    assert {dict(attrs)["src"] for tag, attrs in ours if tag == "script"} == {
        "/static/app.js", "/bootstrap/static/umd/popper.min.js", "/bootstrap/static/js/bootstrap.min.js"}
    assert all(attrs == (("src", dict(attrs)["src"]),) for tag, attrs in ours if tag == "script")
    dirty = {}
    for notification_id in sanitize_ids:
        response = staff_client.get(f"/notifications/{notification_id}")
        assert response.status_code == 200, notification_id
        found = executable_markup(response.get_data(as_text=True), ours)
        if found:
            dirty[notification_id] = found
    assert dirty == {}


def test_markup_scanner_finds_what_it_should():
    """The scanner above must not pass a page that carries executable markup."""
    ours = {("script", (("src", "/static/app.js"),)), ("link", (("rel", "stylesheet"), ("href", "/static/app.css")))}
    assert executable_markup('<script src="/static/app.js"></script><link rel="stylesheet" href="/static/app.css">'
                             '<a href="/x">x</a><form method="post" action="/n/1/status"></form>', ours) == []
    bad = ['<script>alert(1)</script>', '<script src="/static/evil.js"></script>', '<img src=x onerror="alert(1)">',
           '<a href=" jav&#x09;ascript:alert(1)">x</a>', '<a href="VBScript:x">x</a>',
           '<img src="data:image/svg+xml;base64,PHN2Zz4=">', "<iframe src='/x'></iframe>", "<object></object>",
           "<embed>", "<style>*{}</style>", "<svg><circle/></svg>", "<math></math>",
           '<p style="background:url(javascript:x)">x</p>', '<link rel="stylesheet" href="http://evil/x.css">',
           '<meta http-equiv="refresh" content="0;url=javascript:x">', '<form action="https://evil/"></form>']
    for markup in bad:
        assert executable_markup(markup, ours) != [], markup
