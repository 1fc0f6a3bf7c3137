"""``focalpoint consultations list|export|import``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from focalpoint.extensions import db


@click.group("consultations", help="National consultations on IPBES drafts.")
def consultations_group():
    pass


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _get_consultation(consultation_id: int):
    from focalpoint.consultations.models import Consultation

    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None:
        raise click.ClickException(f"No consultation {consultation_id} (see: focalpoint consultations list).")
    return consultation


def consultations_as_dicts() -> list[dict]:
    """Every consultation with its dates, state and counts (four queries whatever their number)."""
    from focalpoint.consultations.comments import state
    from focalpoint.consultations.models import Consultation, Participant, ReviewComment
    from focalpoint.db import utcnow

    consultations = db.session.scalars(sa.select(Consultation).order_by(Consultation.opens_on.desc(),
                                                                        Consultation.id)).unique().all()
    participants = dict(db.session.execute(
        sa.select(Participant.consultation_id, sa.func.count()).where(Participant.removed_at.is_(None))
        .group_by(Participant.consultation_id)).all())
    comments = {row[0]: (row[1], row[2] or 0) for row in db.session.execute(
        sa.select(ReviewComment.consultation_id, sa.func.count(),
                  sa.func.sum(sa.case((ReviewComment.decision.is_not(None), 1), else_=0)))
        .group_by(ReviewComment.consultation_id)).all()}
    now = utcnow()
    return [{"id": c.id, "title": c.title, "deliverable": c.deliverable.code if c.deliverable else None,
             "draft": c.draft.value, "opens_on": c.opens_on.isoformat(), "closes_on": c.closes_on.isoformat(),
             "state": state(c, now), "participants": participants.get(c.id, 0),
             "comments": comments.get(c.id, (0, 0))[0], "decided": int(comments.get(c.id, (0, 0))[1])}
            for c in consultations]


@consultations_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(as_json: bool):
    """Every consultation: dates, state, invited experts, comments and how many are decided."""
    data = consultations_as_dicts()
    if as_json:
        _echo_json(data)
        return
    if not data:
        click.echo("No consultations.")
    for c in data:
        click.echo(f"{c['id']:4} {c['state']:8} {c['opens_on']} → {c['closes_on']}  {c['draft']:7} "
                   f"{c['deliverable'] or '-':12} {c['title'][:60]}\n"
                   f"     experts: {c['participants']}; comments: {c['comments']} ({c['decided']} decided)")


@consultations_group.command("export")
@click.argument("consultation_id", metavar="ID", type=int)
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--full", is_flag=True, help="Every comment with its decision, instead of the consolidated table.")
@with_appcontext
def export_command(consultation_id: int, file: str, full: bool):
    """Write the consolidated comments of consultation ID as the review template (XLSX) to FILE ("-" for
    standard output); with --full, every comment with its decision and staff note."""
    from focalpoint.consultations.comments import TEMPLATE_COLUMNS
    from focalpoint.consultations.sheets import FULL_EXTRA_COLUMNS, consolidated_rows, full_rows, table_xlsx

    consultation = _get_consultation(consultation_id)
    rows = full_rows(consultation) if full else consolidated_rows(consultation)
    data = table_xlsx(TEMPLATE_COLUMNS + FULL_EXTRA_COLUMNS if full else TEMPLATE_COLUMNS, rows)
    if file == "-":
        with click.open_file("-", "wb") as stream:
            stream.write(data)
        return
    try:
        Path(file).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {file}: {exc.strerror or exc}") from None
    click.echo(f"{len(rows)} {'comments' if full else 'consolidated comments'} written to {file}.", err=True)


def _find_reviewer(email: str):
    from focalpoint.experts.models import Expert, ExpertStatus

    email = (email or "").strip()
    expert = db.session.scalar(sa.select(Expert).where(sa.func.lower(Expert.email) == email.lower(),
                                                       Expert.status != ExpertStatus.ERASED))
    seen = set()
    while expert is not None and expert.merged_into_id is not None and expert.id not in seen:
        seen.add(expert.id)
        expert = db.session.get(Expert, expert.merged_into_id)
    if expert is None or expert.status == ExpertStatus.ERASED:
        raise click.ClickException(f"No expert with the e-mail address {email!r} in the registry.")
    return expert


@consultations_group.command("import")
@click.argument("consultation_id", metavar="ID", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reviewer", required=True, metavar="EMAIL", help="The expert who wrote the comments.")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@with_appcontext
def import_command(consultation_id: int, file: Path, reviewer: str, dry_run: bool, as_json: bool):
    """Import a filled review template (XLSX) into consultation ID as comments by the expert with the
    e-mail address EMAIL, even after the close (comments received by mail). Rows with a problem are
    listed by row and column; the others are imported. Exit status 1 when nothing could be imported."""
    from focalpoint.consultations.comments import active_participant
    from focalpoint.consultations.models import CommentSource
    from focalpoint.consultations.sheets import SheetError, import_comments, upload_max_bytes

    consultation = _get_consultation(consultation_id)
    expert = _find_reviewer(reviewer)
    participant = active_participant(consultation, expert)
    limit = upload_max_bytes()
    try:
        with file.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror or exc}") from None
    try:
        if len(data) > limit:
            raise SheetError(f"The file is larger than {limit // (1024 * 1024)} MB.")
        report = import_comments(consultation, data, actor=None, participant=participant,
                                 expert=None if participant is not None else expert, source=CommentSource.COMMAND,
                                 dry_run=dry_run, check_dates=False)
    except SheetError as exc:
        db.session.rollback()
        raise click.ClickException(f"{file.name}: {exc}") from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    if as_json:
        _echo_json(report.as_dict())
    else:
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        for row in report.errors:
            for message in row.messages():
                click.echo(message)
        who = expert.name + ("" if participant is not None else " (not invited to this consultation)")
        if dry_run:
            click.echo(f"Dry run (nothing written): {report.imported} comments would be imported for {who}, "
                       f"{report.failed} rows refused.")
        else:
            click.echo(f"{report.imported} comments imported for {who}, {report.failed} rows refused.")
    if not report.imported:
        sys.exit(1)
