"""The e-mail outbox: mail is written in the same transaction as the change that causes it, and
delivered later by the scheduler (SMTP, or a local maildir when no SMTP server is configured).

A mail server being down loses nothing: rows wait with back-off until delivery works.
"""
from __future__ import annotations

import datetime as dt
import email.errors
import hashlib
import logging
import mailbox
import os
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from focalpoint.db import enum_column, utcnow
from focalpoint.extensions import db


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    #: Gave up after the maximum number of attempts.
    DEAD = "dead"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique per logical e-mail (e.g. "invitation:12:sent:1"): queueing twice adds one row.
    idem_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    to_addr: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    #: Extra headers (e.g. Reply-To, List-Unsubscribe) as a dict.
    headers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, length=10, default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: What the mail is about (for the record and for tests): "invitation", "reminder", …
    category: Mapped[str] = mapped_column(sa.String(40), default="")
    related_type: Mapped[str | None] = mapped_column(sa.String(40))
    related_id: Mapped[int | None]
    #: Small files sent with the mail (an iCalendar invitation …): [{"filename", "content_type", "text"}].
    attachments: Mapped[list | None] = mapped_column(sa.JSON)


def queue_email(*, to: str, subject: str, text: str, html: str, idem_key: str, category: str = "",
                related=None, headers: dict | None = None, attachments: list[dict] | None = None
                ) -> OutboxMessage | None:
    """Put an e-mail in the outbox, in the caller's transaction (flushes; the caller commits).

    Returns None when a mail with the same ``idem_key`` was queued before (nothing is added), so a
    double click or a job run twice never sends twice. Every mail has a plain-text and an HTML part.
    ``attachments``: small text files, ``[{"filename", "content_type", "text"}]`` (e.g. an iCalendar
    invitation with content type ``text/calendar; method=REQUEST``).
    """
    if not to or not subject or not text or not html:
        raise ValueError("an e-mail needs a recipient, a subject, a text part and an HTML part")
    attachments = [_check_attachment(a) for a in attachments or []] or None
    exists = db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idem_key == idem_key))
    if exists is not None:
        return None
    message = OutboxMessage(
        idem_key=idem_key[:200], to_addr=to.strip()[:254], subject=" ".join(subject.split())[:300], text_body=text,
        html_body=html, headers=dict(headers or {}), status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=utcnow(), category=category[:40],
        related_type=type(related).__tablename__ if related is not None else None,
        related_id=getattr(related, "id", None), attachments=attachments,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _check_attachment(attachment: dict) -> dict:
    filename = str(attachment.get("filename") or "")
    content_type = str(attachment.get("content_type") or "")
    text = attachment.get("text")
    if not filename or "/" in filename or "\\" in filename or any(ord(c) < 32 for c in filename):
        raise ValueError(f"an attachment needs a plain file name, not {filename!r}")
    if "/" not in content_type.split(";")[0] or "\n" in content_type or "\r" in content_type:
        raise ValueError(f"an attachment needs a content type, not {content_type!r}")
    if not isinstance(text, str):
        raise ValueError("an attachment's content is text")
    return {"filename": filename, "content_type": content_type, "text": text}


def render_email(template_base: str, **context) -> tuple[str, str]:
    """Render ``templates/<template_base>.txt`` and ``.html`` (the two parts of one e-mail)."""
    from flask import render_template

    return render_template(f"{template_base}.txt", **context), render_template(f"{template_base}.html", **context)


# --- delivery (the scheduler job) -----------------------------------------------------------------
#: A row left in "sending" longer than this belongs to a process that died mid-delivery.
STUCK_AFTER = dt.timedelta(minutes=15)
FIRST_RETRY = dt.timedelta(minutes=1)
MAX_RETRY = dt.timedelta(hours=6)
#: Headers the outbox sets itself; the same names in a row's ``headers`` are ignored.
RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
                    "content-type", "content-transfer-encoding", "sender", "return-path"}

log = logging.getLogger(__name__)


class TransportError(Exception):
    """The way out is unavailable (server unreachable, TLS or login refused, maildir unwritable).

    Not the message's fault: the message is retried with back-off but never given up.
    """


class MessageRefused(Exception):
    """The server refused this message (recipient, content): retried, then given up."""


@dataclass(frozen=True)
class _Outgoing:
    """What delivery needs of a row, copied out before the claim commits (no lazy load later)."""

    id: int
    idem_key: str
    to_addr: str
    subject: str
    text_body: str
    html_body: str
    headers: dict
    attempts: int
    created_at: dt.datetime
    attachments: list | None = None


def retry_delay(attempts: int) -> dt.timedelta:
    """Back-off after the ``attempts``-th failure: 1 min, 2, 4 … capped at 6 h."""
    return min(FIRST_RETRY * 2 ** max(0, min(attempts - 1, 20)), MAX_RETRY)


def message_id_for(idem_key: str, sender: str) -> str:
    """A Message-ID that depends only on the idem_key and the sender's domain.

    Delivery is at-least-once: a message resent after a crash carries the same Message-ID, so
    mail clients and servers recognise the duplicate.
    """
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(idem_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.outbox@{domain}>"


class _PreEncoded(str):
    """A header value already encoded as RFC 2047 words and folded: stored and sent as it is."""


class _OutboxPolicy(EmailPolicy):
    """email.policy.default, except that it keeps _PreEncoded values untouched.

    Python's modern folding (before CPython gh-144156, fixed in 2026) drops the space between two
    encoded words when it folds a long non-ASCII header: "— réponse" arrives as "—réponse".
    Such headers are encoded by the older email.header.Header, which puts every space inside
    the encoded words, so nothing is lost.
    """

    def header_store_parse(self, name, value):
        if isinstance(value, _PreEncoded):
            return (name, str(value))
        return super().header_store_parse(name, value)


OUTBOX_POLICY = _OutboxPolicy()
ADDRESS_HEADERS = {"reply-to", "cc", "sender", "resent-to", "resent-cc", "resent-from", "resent-sender"}


def _text_header(name: str, value: str):
    """An unstructured header value: ASCII as it is, anything else as folded encoded words."""
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    if value.isascii():
        return value
    return _PreEncoded(Header(value, "utf-8", header_name=name).encode(maxlinelen=76))


def build_message(row, sender: str) -> EmailMessage:
    """The e-mail of an outbox row: multipart/alternative, text/plain then text/html, UTF-8; with
    attachments, multipart/mixed holding that alternative and then each file."""
    msg = EmailMessage(policy=OUTBOX_POLICY)
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = _text_header("Subject", row.subject)
    msg["Date"] = format_datetime(row.created_at.astimezone(dt.timezone.utc))
    msg["Message-ID"] = message_id_for(row.idem_key, sender)
    for name, value in (row.headers or {}).items():
        name, value = str(name), str(value)
        if name.lower() in ADDRESS_HEADERS:
            msg[name] = value
        elif name.lower() not in RESERVED_HEADERS:
            msg[name] = _text_header(name, value)
    # Quoted-printable keeps every line 7-bit and short, whatever the server's extensions.
    msg.set_content(row.text_body, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(row.html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in getattr(row, "attachments", None) or []:
        _attach(msg, attachment)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # belongs to the top level only
    return msg


def _attach(msg: EmailMessage, attachment: dict) -> None:
    """Add one stored attachment; ``content_type`` may carry parameters ("text/calendar; method=REQUEST")."""
    kind, *raw_params = (p.strip() for p in attachment["content_type"].split(";"))
    maintype, _sep, subtype = kind.lower().partition("/")
    params = {}
    for raw in raw_params:
        name, _sep, value = raw.partition("=")
        if name.strip() and name.strip().lower() != "charset":
            params[name.strip()] = value.strip().strip('"')
    if maintype == "text":
        msg.add_attachment(attachment["text"], subtype=subtype, charset="utf-8", cte="quoted-printable",
                           filename=attachment["filename"], params=params)
    else:
        msg.add_attachment(attachment["text"].encode("utf-8"), maintype=maintype, subtype=subtype,
                           filename=attachment["filename"], params=params)


class _SmtpTransport:
    """One SMTP connection per run, opened at the first message and reused."""

    def __init__(self, cfg):
        self.host, self.port = cfg["SMTP_HOST"], int(cfg.get("SMTP_PORT") or 587)
        self.user, self.password = cfg.get("SMTP_USER"), cfg.get("SMTP_PASSWORD") or ""
        self.security = (cfg.get("SMTP_SECURITY") or ("starttls" if self.user else "none")).lower()
        self.timeout = float(cfg.get("SMTP_TIMEOUT") or 20)
        self.conn: smtplib.SMTP | None = None
        #: Set when connecting failed: the rest of the run fails fast with the same error.
        self.broken: TransportError | None = None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    def _connect(self) -> smtplib.SMTP:
        if self.security not in ("starttls", "ssl", "none"):
            raise TransportError(f"SMTP_SECURITY must be starttls, ssl or none, not {self.security!r}")
        conn = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if self.user:
                conn.login(self.user, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            if conn is not None:
                _close_quietly(conn)
            raise TransportError(f"cannot use {self.describe()}: {_describe(exc)}") from exc
        return conn

    def send(self, msg: EmailMessage, from_addr: str, to_addr: str) -> None:
        if self.broken is not None:
            raise self.broken
        if self.conn is None:
            try:
                self.conn = self._connect()
            except TransportError as exc:
                self.broken = exc
                raise
        try:
            self.conn.send_message(msg, from_addr=from_addr, to_addrs=[to_addr])
        except smtplib.SMTPRecipientsRefused as exc:  # the connection stays usable
            raise MessageRefused(f"recipient refused: {_describe(exc)}") from exc
        except smtplib.SMTPDataError as exc:
            raise MessageRefused(f"message refused: {_describe(exc)}") from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. an address that needs SMTPUTF8
            raise MessageRefused(f"message refused: {_describe(exc)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Disconnected, or the sender refused: drop the connection; the next message reconnects.
            _close_quietly(self.conn)
            self.conn = None
            raise TransportError(f"{self.describe()}: {_describe(exc)}") from exc
        except Exception:  # the session is in an unknown state: start the next message afresh
            _close_quietly(self.conn)
            self.conn = None
            raise

    def close(self) -> None:
        if self.conn is not None:
            _close_quietly(self.conn, polite=True)
            self.conn = None


class _MaildirTransport:
    """No SMTP server configured: every message becomes one file in a local maildir."""

    def __init__(self, path: str):
        self.path = path
        self.box: mailbox.Maildir | None = None

    def describe(self) -> str:
        return f"maildir {self.path}"

    def send(self, msg: EmailMessage, from_addr: str, to_addr: str) -> None:
        try:
            if self.box is None:
                self.box = mailbox.Maildir(self.path, create=True)
            self.box.add(msg)
        except OSError as exc:
            raise TransportError(f"cannot write to {self.describe()}: {_describe(exc)}") from exc

    def close(self) -> None:
        self.box = None


def _close_quietly(conn: smtplib.SMTP, polite: bool = False) -> None:
    try:
        if polite:
            conn.quit()
        else:
            conn.close()
    except (OSError, smtplib.SMTPException):
        conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, smtplib.SMTPException) else f"{type(exc).__name__}: {text}"


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def transport_description() -> str:
    """Where mail goes with the current settings (for the admin page and the command line)."""
    cfg = current_app.config
    if cfg.get("SMTP_HOST"):
        return _SmtpTransport(cfg).describe()
    return _MaildirTransport(maildir_path()).describe()


def maildir_path() -> str:
    return current_app.config.get("MAILDIR") or os.path.join(current_app.instance_path, "maildir")


def _worker_id() -> str:
    """host:pid of this process, plus a token of this run (two threads never share a claim)."""
    return f"{socket.gethostname()}:{os.getpid()}#{secrets.token_hex(3)}"[-100:]


def recover_stuck(now: dt.datetime) -> int:
    """Put rows a crashed process left in "sending" back to pending (flushes; the caller commits)."""
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - STUCK_AFTER)
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, claimed_by=None, claimed_at=None,
                last_error="delivery interrupted (the sending process stopped); retried")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _claim(message_id: int, worker: str, now: dt.datetime) -> _Outgoing | None:
    """Claim one due row with a conditional UPDATE; None when another process was faster."""
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.next_attempt_at <= now)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    row = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.idem_key, OutboxMessage.to_addr, OutboxMessage.subject,
                  OutboxMessage.text_body, OutboxMessage.html_body, OutboxMessage.headers,
                  OutboxMessage.attempts, OutboxMessage.created_at, OutboxMessage.attachments)
        .where(OutboxMessage.id == message_id)
    ).one()
    return _Outgoing(*row)


def _finish(message: _Outgoing, worker: str, **values) -> bool:
    """Record the outcome, only if this process still holds the claim."""
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.SENDING,
               OutboxMessage.claimed_by == worker)
        .values(claimed_by=None, claimed_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def deliver_outbox(limit: int | None = None, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Deliver due outbox messages; the scheduler job (commits). Safe in several processes at once.

    Each message is claimed (pending → sending) with a conditional UPDATE that exactly one process
    wins, and the claim is committed before the server is contacted: no database transaction is
    open while talking to SMTP. Then the row is marked sent, or put back to pending with
    exponential back-off (1 min, 2, 4 … 6 h) and the error; a message the server refuses
    MAIL_MAX_ATTEMPTS times is "dead". An unreachable server is never the message's fault: such
    failures back off but never kill a message. ``now`` is for tests (a fixed clock).

    Returns ``{"sent", "failed", "dead", "skipped"}``: failed = will be retried, dead = given up,
    skipped = claimed by another process first.
    """
    cfg = current_app.config
    clock = (lambda: now) if now is not None else utcnow
    limit = limit or int(cfg.get("MAIL_BATCH") or 100)
    max_attempts = int(cfg.get("MAIL_MAX_ATTEMPTS") or 8)
    sender = cfg.get("MAIL_SENDER") or "Focal Point <focalpoint@localhost>"
    envelope_from = parseaddr(sender)[1]
    counts = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}

    started = clock()
    recovered = recover_stuck(started)
    if recovered:
        log.warning("outbox: %d message(s) left in 'sending' by a stopped process put back to pending",
                    recovered)
    due = db.session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= started)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    ).all()
    db.session.commit()
    if not due:
        return counts

    worker = _worker_id()
    transport = _SmtpTransport(cfg) if cfg.get("SMTP_HOST") else _MaildirTransport(maildir_path())
    try:
        for message_id in due:
            message = _claim(message_id, worker, clock())
            db.session.commit()  # the claim is visible before the server is contacted
            if message is None:
                counts["skipped"] += 1
                continue
            error, permanent = None, False
            try:
                msg = build_message(message, sender)
                msg.as_bytes()  # a header that cannot be encoded fails here, not halfway through SMTP
            except (ValueError, TypeError, email.errors.MessageError) as exc:
                error, permanent = f"cannot build the message: {exc}", True
            else:
                try:
                    transport.send(msg, envelope_from, message.to_addr)
                except MessageRefused as exc:
                    error = str(exc)
                    permanent = message.attempts + 1 >= max_attempts
                except TransportError as exc:
                    error = str(exc)
                except Exception as exc:  # a bug or an exotic failure: recorded, the batch goes on
                    log.exception("outbox message %s: unexpected error", message.id)
                    error = f"unexpected error: {type(exc).__name__}: {exc}"
                    permanent = message.attempts + 1 >= max_attempts
            finished_at = clock()
            if error is None:
                kept = _finish(message, worker, status=OutboxStatus.SENT, sent_at=finished_at,
                               last_error=None)
                counts["sent"] += 1
            else:
                attempts = message.attempts + 1
                status = OutboxStatus.DEAD if permanent else OutboxStatus.PENDING
                kept = _finish(message, worker, status=status, attempts=attempts, last_error=error[:500],
                               next_attempt_at=finished_at + retry_delay(attempts))
                counts["dead" if permanent else "failed"] += 1
                log.warning("outbox message %s to %s: %s (attempt %d%s)", message.id, message.to_addr, error,
                            attempts, ", given up" if permanent else "")
            if not kept:
                log.warning("outbox message %s: the claim was taken back as stuck before the outcome was "
                            "recorded", message.id)
            db.session.commit()
    finally:
        db.session.rollback()
        transport.close()
    return counts
