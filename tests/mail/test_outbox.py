"""The e-mail outbox: queueing, delivery over real SMTP (aiosmtpd) or into a maildir, failures,
back-off, giving up, concurrent relays, crash recovery, the admin page and the command line."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import mailbox
import os
import socket
import threading
from email.utils import format_datetime

import pytest
import sqlalchemy as sa
from smtp import SmtpCatcher

SENDER = "Focal Point <focalpoint@localhost>"
SUBJECT = "Invitation : évaluation des pollinisateurs — réponse attendue"
TEXT = "Bonjour Zoë,\n\nVous êtes invitée à l'évaluation « nexus ».\nhttp://focalpoint.test/respond/abc\n"
HTML = "<p>Bonjour Zoë,</p><p>Vous êtes invitée à l'évaluation « nexus ».</p>"
MINUTE = dt.timedelta(minutes=1)
GONE = "recipient refused: gone@example.org: 550 No such user"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def closed_port() -> int:
    """A port nothing listens on (the kernel picked it free; we closed it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue(app, count: int = 1, *, prefix: str = "test", to: str = "zoe@example.org", **kw) -> list[int]:
    from focalpoint.extensions import db
    from focalpoint.mail import queue_email

    ids = []
    with app.app_context():
        for i in range(count):
            message = queue_email(to=kw.pop("to_" + str(i), to), subject=kw.get("subject", f"{SUBJECT} {i}"),
                                  text=kw.get("text", TEXT), html=kw.get("html", HTML),
                                  idem_key=f"{prefix}:{i}", category="test", headers=kw.get("headers"))
            ids.append(message.id)
        db.session.commit()
    return ids


def rows(app) -> list[tuple]:
    """(status, attempts, next_attempt_at, last_error) of every message, in id order."""
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        return [(str(m.status), m.attempts, m.next_attempt_at, m.last_error)
                for m in db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))]


def deliver(app, **kw) -> dict:
    from focalpoint.mail import deliver_outbox

    with app.app_context():
        return deliver_outbox(**kw)


def update(app, message_id: int, **values) -> None:
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        for key, value in values.items():
            setattr(message, key, value)
        db.session.commit()


def counts(sent=0, failed=0, dead=0, skipped=0) -> dict:
    return {"sent": sent, "failed": failed, "dead": dead, "skipped": skipped}


def refused_error(port: int) -> str:
    return f"cannot use SMTP 127.0.0.1:{port} (none): ConnectionRefusedError: [Errno 111] Connection refused"


# --- queueing -------------------------------------------------------------------------------------
def test_queue_email_is_idempotent_by_idem_key(app):
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage, queue_email

    with app.app_context():
        first = queue_email(to=" zoe@example.org ", subject="First\n  subject", text="t", html="<p>h</p>",
                            idem_key="invitation:1:sent:1", category="invitation")
        db.session.commit()
        again = queue_email(to="zoe@example.org", subject="Second", text="t", html="<p>h</p>",
                            idem_key="invitation:1:sent:1")
        other = queue_email(to="zoe@example.org", subject="Second", text="t", html="<p>h</p>",
                            idem_key="invitation:1:sent:2")
        db.session.commit()
        assert again is None
        assert other is not None
        stored = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.idem_key, m.to_addr, m.subject, str(m.status), m.attempts) for m in stored] == [
            ("invitation:1:sent:1", "zoe@example.org", "First subject", "pending", 0),
            ("invitation:1:sent:2", "zoe@example.org", "Second", "pending", 0)]
        assert first.id == stored[0].id
        for missing in ({"to": ""}, {"subject": ""}, {"text": ""}, {"html": ""}):
            with pytest.raises(ValueError):
                queue_email(**{"to": "a@example.org", "subject": "s", "text": "t", "html": "h",
                               "idem_key": "x", **missing})


def test_retry_delay_doubles_from_one_minute_up_to_six_hours():
    from focalpoint.mail import retry_delay

    assert [retry_delay(n) / MINUTE for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert retry_delay(1000) == dt.timedelta(hours=6)


# --- delivery over SMTP ---------------------------------------------------------------------------
def test_delivery_over_smtp_has_both_parts_utf8_and_the_right_headers(app):
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage, message_id_for

    [message_id] = queue(app, to="zoe@example.org", subject=SUBJECT,
                         headers={"Reply-To": "nfp@example.org", "From": "forged@evil.example",
                                  "Bcc": "x@evil.example"})
    with app.app_context():
        created_at = db.session.get(OutboxMessage, message_id).created_at
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        now = utcnow()
        assert deliver(app, now=now) == counts(sent=1)
        assert deliver(app, now=now + MINUTE) == counts()  # nothing left to send
    [msg] = smtp.messages
    assert smtp.envelopes == [("focalpoint@localhost", ["zoe@example.org"])]
    assert msg["From"] == SENDER
    assert msg.get_all("From") == [SENDER]
    assert msg["To"] == "zoe@example.org"
    assert msg["Subject"] == SUBJECT
    assert msg["Reply-To"] == "nfp@example.org"
    assert msg["Bcc"] is None
    assert msg["Date"] == format_datetime(created_at)
    assert msg["Message-ID"] == message_id_for("test:0", SENDER)
    assert msg["Message-ID"].endswith(".outbox@localhost>")
    assert msg.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in msg.iter_parts()] == ["utf-8", "utf-8"]
    assert msg.get_body(("plain",)).get_content() == TEXT
    assert msg.get_body(("html",)).get_content() == HTML + "\n"
    raw = smtp.raw[0]
    assert raw.isascii()  # encoded words and quoted-printable: safe through any server
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]
    [(status, attempts, _next, error)] = rows(app)
    assert (status, attempts, error) == ("sent", 0, None)
    with app.app_context():
        stored = db.session.get(OutboxMessage, message_id)
        assert (stored.sent_at, stored.claimed_by, stored.claimed_at) == (now, None, None)


def test_message_id_is_stable_when_a_crash_makes_the_relay_send_again(app):
    """Sent, then the process died before recording it: the resend carries the same Message-ID."""
    [message_id] = queue(app)
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        t0 = utcnow()
        assert deliver(app, now=t0) == counts(sent=1)
        update(app, message_id, status="sending", sent_at=None, claimed_by="crashed-host:123",
               claimed_at=t0 + MINUTE)
        assert deliver(app, now=t0 + 16 * MINUTE) == counts()  # still within the 15-minute lease
        assert deliver(app, now=t0 + 17 * MINUTE) == counts(sent=1)
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Date"] == second["Date"]
    assert smtp.by_message_id() == {first["Message-ID"]: 2}


def test_server_down_loses_nothing_backs_off_and_delivers_once_it_is_up(app):
    port = closed_port()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none")
    ids = queue(app, 3)
    t0 = utcnow()
    assert deliver(app, now=t0) == counts(failed=3)
    assert rows(app) == [("pending", 1, t0 + MINUTE, refused_error(port))] * 3
    assert deliver(app, now=t0 + 59 * dt.timedelta(seconds=1)) == counts()  # not due yet
    assert deliver(app, now=t0 + MINUTE) == counts(failed=3)
    assert rows(app) == [("pending", 2, t0 + 3 * MINUTE, refused_error(port))] * 3

    with SmtpCatcher(port=port) as smtp:
        assert deliver(app, now=t0 + 2 * MINUTE) == counts()  # still backing off
        assert deliver(app, now=t0 + 3 * MINUTE) == counts(sent=3)
    assert [(s, a, e) for s, a, _n, e in rows(app)] == [("sent", 2, None)] * 3
    assert sorted(m["Subject"] for m in smtp.messages) == [f"{SUBJECT} {i}" for i in range(3)]
    assert len(smtp.by_message_id()) == 3 and set(smtp.by_message_id().values()) == {1}
    assert len(ids) == 3


def test_an_unreachable_server_never_makes_a_message_dead(app):
    """Not the message's fault: it keeps backing off (capped at 6 h) beyond MAIL_MAX_ATTEMPTS."""
    port = closed_port()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none", MAIL_MAX_ATTEMPTS=3)
    [a, b] = queue(app, 2)
    update(app, a, attempts=2)
    update(app, b, attempts=30)
    t0 = utcnow()
    assert deliver(app, now=t0) == counts(failed=2)
    assert rows(app) == [("pending", 3, t0 + 4 * MINUTE, refused_error(port)),
                         ("pending", 31, t0 + dt.timedelta(hours=6), refused_error(port))]


def test_a_temporary_refusal_then_success(app):
    queue(app, 2)
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        smtp.refuse_next(1, code=451)
        t0 = utcnow()
        assert deliver(app, now=t0) == counts(sent=1, failed=1)
        first, second = rows(app)
        assert first == ("pending", 1, t0 + MINUTE, "message refused: 451 4.3.0 Try again later")
        assert second[:2] + second[3:] == ("sent", 0, None)
        assert deliver(app, now=t0 + MINUTE) == counts(sent=1)
    assert [(s, a, e) for s, a, _n, e in rows(app)] == [("sent", 1, None), ("sent", 0, None)]
    assert smtp.attempts == 3
    assert [m["Subject"] for m in smtp.messages] == [f"{SUBJECT} 1", f"{SUBJECT} 0"]


def test_a_message_refused_max_attempts_times_is_dead(app):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    queue(app, 1)
    error = "message refused: 550 5.7.1 Message rejected"
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        smtp.refuse_next(10, code=550)
        t0 = utcnow()
        assert deliver(app, now=t0) == counts(failed=1)
        assert rows(app) == [("pending", 1, t0 + MINUTE, error)]
        assert deliver(app, now=t0 + MINUTE) == counts(failed=1)
        assert rows(app) == [("pending", 2, t0 + 3 * MINUTE, error)]
        assert deliver(app, now=t0 + 3 * MINUTE) == counts(dead=1)
        assert [(s, a, e) for s, a, _n, e in rows(app)] == [("dead", 3, error)]
        assert deliver(app, now=t0 + dt.timedelta(days=2)) == counts()  # given up: never tried again
    assert smtp.attempts == 3
    assert smtp.messages == []


def test_a_refused_recipient_fails_that_message_only(app):
    queue(app, 3, to_1="gone@example.org")
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        smtp.refuse_recipient("gone@example.org", code=550)
        t0 = utcnow()
        assert deliver(app, now=t0) == counts(sent=2, failed=1)
    assert [(s, a, e) for s, a, _n, e in rows(app)] == [
        ("sent", 0, None),
        ("pending", 1, "recipient refused: gone@example.org: 550 5.1.1 No such user here"),
        ("sent", 0, None)]
    assert [rcpt for _from, rcpt in smtp.envelopes] == [["zoe@example.org"], ["zoe@example.org"]]


def test_login_when_a_user_is_set(app):
    queue(app, 1)
    with SmtpCatcher(users={"mailer": "s3cret pass"}) as smtp:
        smtp.configure(app, SMTP_USER="mailer", SMTP_PASSWORD="wrong", SMTP_SECURITY="none")
        t0 = utcnow()
        assert deliver(app, now=t0) == counts(failed=1)
        [(_s, _a, _n, error)] = rows(app)
        assert error == (f"cannot use SMTP 127.0.0.1:{smtp.port} (none): "
                         "535 5.7.8 Authentication credentials invalid")
        app.config["SMTP_PASSWORD"] = "s3cret pass"
        assert deliver(app, now=t0 + MINUTE) == counts(sent=1)
    assert smtp.logins == ["mailer"]
    assert len(smtp.messages) == 1


def test_starttls_is_required_when_a_user_is_set_and_never_skipped(app):
    """SMTP_SECURITY defaults to starttls with a user: a server without STARTTLS gets no password."""
    queue(app, 1)
    with SmtpCatcher(users={"mailer": "pw"}) as smtp:
        smtp.configure(app, SMTP_USER="mailer", SMTP_PASSWORD="pw", SMTP_SECURITY=None)
        assert deliver(app) == counts(failed=1)
    [(status, attempts, _n, error)] = rows(app)
    assert (status, attempts) == ("pending", 1)
    assert error == (f"cannot use SMTP 127.0.0.1:{smtp.port} (starttls): "
                     "STARTTLS extension not supported by server.")
    assert smtp.logins == [] and smtp.messages == []


def test_a_message_that_cannot_be_built_is_dead_at_once(app):
    """A header with a line break (injection attempt) never reaches the server."""
    queue(app, 2, headers={"X-Note": "ok\r\nBcc: victim@example.org"})
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        assert deliver(app) == counts(dead=2)
    assert smtp.attempts == 0
    assert {(s, a) for s, a, _n, _e in rows(app)} == {("dead", 1)}
    assert rows(app)[0][3].startswith("cannot build the message: Header values may not contain linefeed")


def test_headers_refuse_line_breaks_and_keep_every_space_when_folded():
    """Python's own folding drops the space between two encoded words (CPython gh-144156):
    a long French subject must come back exactly as it was written."""
    from types import SimpleNamespace

    from focalpoint.mail import build_message

    subject = "Invitation : évaluation des pollinisateurs — réponse attendue"  # "—réponse" without the fix
    row = SimpleNamespace(idem_key="k", to_addr="zoe@example.org", subject=subject, text_body="t",
                          html_body="<p>t</p>", created_at=utcnow(),
                          headers={"X-Note": "Àh oui très bien, " * 6,
                                   "Reply-To": "Zoë Müller <z@example.org>"})
    raw = build_message(row, SENDER).as_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\n\n", 1)[0].split(b"\n")) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert (parsed["Subject"], parsed["X-Note"], parsed["Reply-To"]) == (
        subject, "Àh oui très bien, " * 6, "Zoë Müller <z@example.org>")
    for value in ("é\nBcc: victim@example.org", "ok\r\nBcc: victim@example.org"):
        with pytest.raises(ValueError):
            build_message(SimpleNamespace(**{**vars(row), "headers": {"X-Note": value}}), SENDER)


def test_limit_takes_the_oldest_due_messages_first(app):
    ids = queue(app, 5)
    t0 = utcnow()
    update(app, ids[0], next_attempt_at=t0 - 5 * MINUTE)
    update(app, ids[3], next_attempt_at=t0 - 10 * MINUTE)
    update(app, ids[4], next_attempt_at=t0 + MINUTE)  # not due
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        assert deliver(app, limit=2, now=t0) == counts(sent=2)
        assert [m["Subject"] for m in smtp.messages] == [f"{SUBJECT} 3", f"{SUBJECT} 0"]
        app.config["MAIL_BATCH"] = 1
        assert deliver(app, now=t0) == counts(sent=1)
        assert deliver(app, now=t0) == counts(sent=1)
        assert deliver(app, now=t0) == counts()
    assert [m["Subject"] for m in smtp.messages][2:] == [f"{SUBJECT} 1", f"{SUBJECT} 2"]


def test_rows_stuck_in_sending_are_recovered_after_fifteen_minutes(app):
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    stuck, recent, fresh = queue(app, 3)
    t0 = utcnow()
    update(app, stuck, status="sending", claimed_by="crashed-host:4242", claimed_at=t0 - 16 * MINUTE)
    update(app, recent, status="sending", claimed_by="busy-host:77", claimed_at=t0 - 5 * MINUTE)
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        assert deliver(app, now=t0) == counts(sent=2)
    assert sorted(m["Subject"] for m in smtp.messages) == [f"{SUBJECT} 0", f"{SUBJECT} 2"]
    with app.app_context():
        got = {m.id: (str(m.status), m.claimed_by, m.last_error)
               for m in db.session.scalars(sa.select(OutboxMessage))}
    assert got == {stuck: ("sent", None, None), recent: ("sending", "busy-host:77", None),
                   fresh: ("sent", None, None)}


def test_two_relays_at_once_send_each_message_exactly_once(app):
    """Two app instances (two engines) on one database, delivering at the same moment, three times."""
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.mail import deliver_outbox

    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    rounds, results, errors = 3, [], []

    def relay(instance, barrier):
        try:
            with instance.app_context():
                barrier.wait(timeout=10)
                results.append(deliver_outbox())
                db.session.remove()
        except BaseException as exc:  # reported below: a thread cannot fail the test by itself
            errors.append(exc)

    try:
        with SmtpCatcher() as smtp:
            for instance in (app, other):
                smtp.configure(instance)
            for r in range(rounds):
                queue(app, 25, prefix=f"round{r}")
                barrier = threading.Barrier(2)
                threads = [threading.Thread(target=relay, args=(instance, barrier))
                           for instance in (app, other)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(60)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert errors == []
    assert len(results) == 2 * rounds
    # The relays really competed: in some round both sent and both lost claims to the other.
    pairs = [results[i:i + 2] for i in range(0, len(results), 2)]
    assert any(a["sent"] and b["sent"] and (a["skipped"] or b["skipped"]) for a, b in pairs)
    assert sum(r["sent"] for r in results) == 25 * rounds
    assert sum(r["failed"] + r["dead"] for r in results) == 0
    assert len(smtp.messages) == 25 * rounds
    assert set(smtp.by_message_id().values()) == {1}
    assert {(s, a, e) for s, a, _n, e in rows(app)} == {("sent", 0, None)}


# --- the maildir fallback -------------------------------------------------------------------------
def test_without_smtp_mail_goes_to_the_instance_maildir(app):
    from focalpoint.mail import message_id_for

    assert app.config["SMTP_HOST"] is None
    queue(app, 2)
    assert deliver(app) == counts(sent=2)
    assert deliver(app) == counts()
    box = os.path.join(app.instance_path, "maildir")
    assert sorted(os.listdir(box)) == ["cur", "new", "tmp"]
    assert os.listdir(os.path.join(box, "cur")) == os.listdir(os.path.join(box, "tmp")) == []
    files = sorted(os.listdir(os.path.join(box, "new")))
    assert len(files) == 2
    messages = []
    for name in files:
        with open(os.path.join(box, "new", name), "rb") as fh:
            messages.append(email.message_from_bytes(fh.read(), policy=email.policy.default))
    assert sorted(m["Message-ID"] for m in messages) == sorted(message_id_for(f"test:{i}", SENDER)
                                                               for i in range(2))
    for msg in messages:
        assert msg["From"] == SENDER and msg["To"] == "zoe@example.org"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert msg.get_body(("plain",)).get_content() == TEXT
        assert msg.get_body(("html",)).get_content() == HTML + "\n"
    assert sorted(m["Subject"] for m in messages) == [f"{SUBJECT} 0", f"{SUBJECT} 1"]
    assert len(mailbox.Maildir(box, create=False)) == 2


def test_maildir_setting_and_an_unwritable_maildir(app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app.config["MAILDIR"] = str(blocker / "maildir")
    queue(app, 1)
    t0 = utcnow()
    assert deliver(app, now=t0) == counts(failed=1)
    [(status, attempts, next_at, error)] = rows(app)
    assert (status, attempts, next_at) == ("pending", 1, t0 + MINUTE)
    assert error.startswith(f"cannot write to maildir {blocker / 'maildir'}: NotADirectoryError")
    app.config["MAILDIR"] = str(tmp_path / "box")
    assert deliver(app, now=t0 + MINUTE) == counts(sent=1)
    assert len(os.listdir(tmp_path / "box" / "new")) == 1


# --- the scheduler ----------------------------------------------------------------------------------
def test_the_scheduler_delivers_every_thirty_seconds(app):
    from apscheduler.triggers.interval import IntervalTrigger

    from focalpoint.mail import deliver_outbox
    from focalpoint.scheduler import build_scheduler, run_in_app

    scheduler = build_scheduler(app)
    job = scheduler.get_job("mail.deliver")
    assert (job.func, job.args) == (run_in_app, (app, deliver_outbox))
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == dt.timedelta(seconds=30)
    assert scheduler.running is False
    queue(app, 1)
    assert run_in_app(app, deliver_outbox) == counts(sent=1)


# --- the admin page -----------------------------------------------------------------------------------
def _outbox_with_every_status(app) -> dict[str, int]:
    ids = queue(app, 30, prefix="page")
    t0 = utcnow()
    for i, message_id in enumerate(ids[:26]):
        update(app, message_id, status="sent", sent_at=t0, created_at=t0 - dt.timedelta(hours=30 - i))
    update(app, ids[26], attempts=2, last_error="message refused: 451 4.3.0 Try again later",
           next_attempt_at=t0 + 2 * MINUTE, created_at=t0 - dt.timedelta(hours=3))
    update(app, ids[27], status="dead", attempts=8, last_error=GONE, to_addr="gone@example.org",
           created_at=t0 - dt.timedelta(hours=2))
    update(app, ids[28], status="sending", claimed_by="host:1", claimed_at=t0,
           created_at=t0 - dt.timedelta(hours=1))
    return {"failed": ids[26], "dead": ids[27], "sending": ids[28], "pending": ids[29], "sent": ids[0]}


def test_admin_outbox_page_lists_filters_and_paginates(app, admin_client):
    ids = _outbox_with_every_status(app)
    body = admin_client.get("/admin/outbox").get_data(as_text=True)
    assert body.count('<tr id="message-') == 25
    assert "1–25 of 30" in body
    assert "Mail goes to: maildir " + os.path.join(app.instance_path, "maildir") in body
    assert 'href="/admin/outbox"' in body  # the nav link, next to Users
    # Newest first: the pending one (queued last) leads; the failed and dead show their errors.
    assert body.index(f'id="message-{ids["pending"]}"') < body.index(f'id="message-{ids["dead"]}"')
    assert GONE in body
    assert "message refused: 451 4.3.0 Try again later" in body
    assert body.count('>Retry now</button>') == 2
    assert f'action="/admin/outbox/{ids["dead"]}/retry"' in body
    assert f'action="/admin/outbox/{ids["failed"]}/retry"' in body
    assert 'data-confirm="Send this message to gone@example.org again now?"' in body

    page2 = admin_client.get("/admin/outbox?page=2").get_data(as_text=True)
    assert page2.count('<tr id="message-') == 5
    assert "26–30 of 30" in page2

    expected = {"dead": [ids["dead"]], "failed": [ids["failed"]], "sending": [ids["sending"]],
                "pending": [ids["pending"]]}
    for status, wanted in expected.items():
        html = admin_client.get(f"/admin/outbox?status={status}").get_data(as_text=True)
        assert [int(x) for x in _row_ids(html)] == wanted, status
    sent = admin_client.get("/admin/outbox?status=sent").get_data(as_text=True)
    assert "1–25 of 26" in sent and "Retry now" not in sent
    found = admin_client.get("/admin/outbox?q=gone@").get_data(as_text=True)
    assert [int(x) for x in _row_ids(found)] == [ids["dead"]]
    assert _row_ids(admin_client.get("/admin/outbox?q=100%25").get_data(as_text=True)) == []

    detail = admin_client.get(f"/admin/outbox/{ids['dead']}").get_data(as_text=True)
    assert GONE in detail
    assert "Bonjour Zoë," in detail and "&lt;p&gt;Bonjour Zoë,&lt;/p&gt;" in detail
    assert "Retry now" in detail


def _row_ids(html: str) -> list[str]:
    import re

    return re.findall(r'<tr id="message-(\d+)"', html)


def test_retry_now_puts_a_dead_message_back_and_it_is_delivered(app, admin_client):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    ids = _outbox_with_every_status(app)
    before = utcnow()
    response = admin_client.post(f"/admin/outbox/{ids['dead']}/retry",
                                 data={"back": "/admin/outbox?status=dead"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/outbox?status=dead"
    status, attempts, next_at, error = rows(app)[27]  # the dead one
    assert (status, attempts, error) == ("pending", 8, GONE)
    assert before <= next_at <= utcnow()
    page = admin_client.get("/admin/outbox?status=dead").get_data(as_text=True)
    assert "The message to gone@example.org will be sent again within a minute." in page
    with app.app_context():
        [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry")).all()
        assert (entry.object_type, entry.object_id, entry.data) == (
            "outbox_messages", ids["dead"], {"previous_status": "dead", "attempts": 8})

    with SmtpCatcher() as smtp:
        smtp.configure(app)
        assert deliver(app) == counts(sent=2)  # the retried dead one and the never-tried pending one
    assert sorted(m["To"] for m in smtp.messages) == ["gone@example.org", "zoe@example.org"]

    # An open redirect through "back" is refused; a sent message cannot be retried.
    response = admin_client.post(f"/admin/outbox/{ids['sent']}/retry", data={"back": "//evil.example/"})
    assert response.headers["Location"] == "/admin/outbox"
    assert "Only a message that failed or was given up can be retried." in admin_client.get(
        "/admin/outbox").get_data(as_text=True)
    assert rows(app)[0][0] == "sent"
    assert admin_client.post("/admin/outbox/999999/retry").status_code == 404


def test_staff_cannot_see_or_retry_the_outbox(app, staff_client):
    ids = _outbox_with_every_status(app)
    assert staff_client.get("/admin/outbox").status_code == 403
    assert staff_client.get(f"/admin/outbox/{ids['dead']}").status_code == 403
    assert staff_client.post(f"/admin/outbox/{ids['dead']}/retry").status_code == 403
    assert rows(app)[27][0] == "dead"
    assert 'href="/admin/outbox"' not in staff_client.get("/").get_data(as_text=True)


# --- the command line ---------------------------------------------------------------------------------
def test_cli_outbox_list_and_deliver(app):
    runner = app.test_cli_runner()
    ids = _outbox_with_every_status(app)

    result = runner.invoke(args=["outbox", "list", "--json", "--status", "dead"])
    assert result.exit_code == 0, result.output
    [dead] = json.loads(result.output)
    assert (dead["id"], dead["to"], dead["status"], dead["attempts"], dead["last_error"]) == (
        ids["dead"], "gone@example.org", "dead", 8, GONE)
    result = runner.invoke(args=["outbox", "list", "--json", "--status", "failed"])
    assert [m["id"] for m in json.loads(result.output)] == [ids["failed"]]
    result = runner.invoke(args=["outbox", "list", "--json"])
    assert len(json.loads(result.output)) == 30
    result = runner.invoke(args=["outbox", "list", "--status", "pending"])
    assert result.exit_code == 0
    [line] = result.output.splitlines()
    assert line.split()[:3] == [str(ids["pending"]), "pending", "0"]
    assert runner.invoke(args=["outbox", "list", "--status", "bogus"]).exit_code == 2

    port = closed_port()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none")
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 1
    assert result.output == f"SMTP 127.0.0.1:{port} (none): sent 0, failed 1, dead 0, skipped 0\n"

    app.config.update(SMTP_HOST=None)
    update(app, ids["pending"], next_attempt_at=utcnow() - MINUTE)
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    box = os.path.join(app.instance_path, "maildir")
    assert result.output == f"maildir {box}: sent 1, failed 0, dead 0, skipped 0\n"


def test_no_database_transaction_is_open_while_the_server_is_talked_to(app):
    """While the SMTP server holds the DATA reply, another connection can take the write lock
    (SQLite: BEGIN IMMEDIATE with no wait) and no session sits idle in a transaction (PostgreSQL)."""
    import sqlite3

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    seen: list[str] = []

    def probe(_envelope):
        try:
            if url.startswith("sqlite"):
                conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("ROLLBACK")
                    seen.append("free")
                finally:
                    conn.close()
            else:
                engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
                with engine.connect() as conn:
                    busy = conn.scalar(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
                engine.dispose()
                seen.append("free" if busy == 0 else f"{busy} idle in transaction")
        except Exception as exc:  # recorded, asserted below
            seen.append(f"{type(exc).__name__}: {exc}")

    queue(app, 3)
    with SmtpCatcher() as smtp:
        smtp.configure(app)
        smtp.on_data = probe
        assert deliver(app) == counts(sent=3)
    assert seen == ["free", "free", "free"]
