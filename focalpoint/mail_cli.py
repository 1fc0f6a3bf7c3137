"""``focalpoint outbox``: look at the e-mail outbox and deliver it by hand."""
from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from focalpoint.extensions import db

STATUSES = ("pending", "failed", "sending", "sent", "dead")


def message_as_dict(m) -> dict:
    return {"id": m.id, "idem_key": m.idem_key, "to": m.to_addr, "subject": m.subject,
            "status": str(m.status), "attempts": m.attempts, "category": m.category,
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "created_at": m.created_at.isoformat() if m.created_at else None, "last_error": m.last_error}


@click.group("outbox")
def outbox_group():
    """The e-mail outbox (delivered by the scheduler every 30 seconds)."""


@outbox_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--status", type=click.Choice(STATUSES), default=None,
              help="Only this status: pending (not tried yet), failed (waiting to retry after an error), "
                   "sending, sent, dead (given up).")
@click.option("--limit", type=int, default=None, help="At most this many, newest first.")
@with_appcontext
def outbox_list(as_json, status, limit):
    """List outbox messages, newest first."""
    from focalpoint.mail import OutboxMessage, OutboxStatus

    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status in ("pending", "failed"):
        tried = OutboxMessage.attempts > 0 if status == "failed" else OutboxMessage.attempts == 0
        stmt = stmt.where(OutboxMessage.status == OutboxStatus.PENDING, tried)
    elif status:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus(status))
    if limit:
        stmt = stmt.limit(limit)
    data = [message_as_dict(m) for m in db.session.scalars(stmt)]
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for m in data:
        when = m["sent_at"] if m["status"] == "sent" else m["next_attempt_at"]
        error = f"  [{m['last_error']}]" if m["last_error"] and m["status"] != "sent" else ""
        click.echo(f"{m['id']:6} {m['status']:8} {m['attempts']:2} {when or '':32} {m['to']:32} "
                   f"{m['subject'][:60]}{error}")


@outbox_group.command("deliver")
@click.option("--limit", type=int, default=None, help="At most this many messages (default MAIL_BATCH).")
@with_appcontext
def outbox_deliver(limit):
    """Deliver the due messages now (what the scheduler does); exit status 1 if any failed."""
    from focalpoint.mail import deliver_outbox, transport_description

    counts = deliver_outbox(limit)
    click.echo(f"{transport_description()}: sent {counts['sent']}, failed {counts['failed']}, "
               f"dead {counts['dead']}, skipped {counts['skipped']}")
    if counts["failed"] or counts["dead"]:
        sys.exit(1)
