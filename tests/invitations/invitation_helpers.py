"""Rows for the invitation tests: calls, experts, invitations sent through the service, links read back
from the outbox (the only place a link's secret exists besides the expert's mailbox)."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa

BRUSSELS = ZoneInfo("Europe/Brussels")  # DISPLAY_TIMEZONE of TestConfig
TODAY = dt.datetime.now(BRUSSELS).date()
LINK = re.compile(r"http://focalpoint\.test/respond/([A-Za-z0-9_-]+)")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def make_call(app, title="Nexus assessment: call for experts", *, deadline: dt.date | None = None,
              roles=("LA", "CLA"), reminder_days="7;2", locked=False, application_deadline=None,
              nomination_deadline=None, deliverable="values", description="") -> int:
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall
    from focalpoint.reference.models import Deliverable, ReferenceTerm

    with app.app_context():
        call = NominationCall(
            title=title, call_kind="expert_call", national_deadline=deadline or TODAY + dt.timedelta(days=20),
            application_deadline=application_deadline, nomination_deadline=nomination_deadline,
            reminder_days=reminder_days, description=description,
            deliverable_id=db.session.scalar(sa.select(Deliverable.id).where(Deliverable.code == deliverable))
            if deliverable else None,
            locked_at=utc(2026, 1, 1) if locked else None)
        call.roles_sought = list(db.session.scalars(sa.select(ReferenceTerm).where(
            ReferenceTerm.vocabulary == "expert_role", ReferenceTerm.code.in_(roles)).order_by(ReferenceTerm.position)))
        db.session.add(call)
        db.session.commit()
        return call.id


def make_expert(app, email, first="Ann", last="Expert", *, language="en", consent=True, user_id=None) -> int:
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        expert = Expert(email=email.lower(), first_name=first, last_name=last, preferred_language=language,
                        consent_contact_at=utc(2025, 1, 1) if consent else None,
                        consent_processing_at=utc(2025, 1, 1) if consent else None, user_id=user_id)
        db.session.add(expert)
        db.session.commit()
        return expert.id


def seed_templates(app) -> None:
    from focalpoint.extensions import db
    from focalpoint.invitations.services import seed_default_templates

    with app.app_context():
        seed_default_templates()
        db.session.commit()


def send(app, call_id: int, expert_ids, *, template="Standard invitation", subject="", body="") -> list[int]:
    """Invite through the service (as the compose page does); returns the invitation ids."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.services import send_invitations
    from focalpoint.nominations.models import NominationCall

    seed_templates(app)
    with app.app_context():
        call = db.session.get(NominationCall, call_id)
        experts = [db.session.get(Expert, i) for i in expert_ids]
        created = send_invitations(call, experts, actor=None, template_name=template or None, subject=subject,
                                   body=body)
        db.session.commit()
        return [i.id for i in created]


def outbox(app, **where) -> list:
    """Outbox rows (detached copies as dicts), oldest first, filtered by column values."""
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        for column, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, column) == value)
        return [{c.name: getattr(row, c.name) for c in OutboxMessage.__table__.columns}
                for row in db.session.scalars(stmt)]


def latest_token(app, invitation_id: int) -> str:
    """The secret of the newest link mailed for the invitation (invitation or reminder)."""
    rows = [r for r in outbox(app, related_type="invitations", related_id=invitation_id)
            if r["category"] in ("invitation", "reminder")]
    assert rows, f"no link was mailed for invitation {invitation_id}"
    tokens = LINK.findall(rows[-1]["text_body"])
    assert len(set(tokens)) == 1, rows[-1]["text_body"]
    return tokens[0]


def path_of(url: str) -> str:
    return urlsplit(url).path


def invitation(app, invitation_id: int) -> dict:
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation

    with app.app_context():
        row = db.session.get(Invitation, invitation_id)
        return {c.name: getattr(row, c.name) for c in Invitation.__table__.columns}


def update_invitation(app, invitation_id: int, **values) -> None:
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation

    with app.app_context():
        db.session.execute(sa.update(Invitation).where(Invitation.id == invitation_id).values(**values))
        db.session.commit()


def nominations(app, call_id: int) -> list[tuple[int, str, str | None]]:
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination

    with app.app_context():
        return [(n.expert_id, n.state.value, n.role) for n in db.session.scalars(
            sa.select(Nomination).where(Nomination.call_id == call_id).order_by(Nomination.expert_id))]


def audit_actions(app, object_type: str, object_id: int) -> list[tuple[str, dict]]:
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        return [(e.action, e.data) for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id))]


def move_deadline(app, call_id: int, day: dt.date) -> None:
    """Staff move the call's national deadline (the invitations keep their stored expiry until synced)."""
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall

    with app.app_context():
        db.session.get(NominationCall, call_id).national_deadline = day
        db.session.commit()
