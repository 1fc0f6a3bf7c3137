"""``focalpoint experts …``: import a spreadsheet into the registry, list the registry."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from focalpoint.extensions import db


@click.group("experts")
def experts_group():
    """The expert registry."""


@experts_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@with_appcontext
def import_command(file: Path, dry_run: bool, as_json: bool):
    """Import experts from a CSV or XLSX file (columns: email, first_name, last_name, gender, affiliation,
    region, disciplines, expertise, deliverables, roles_wanted, languages, orcid, career_stage; lists
    separated by ";"). A report line per row; exit status 1 when no row could be imported."""
    from focalpoint.experts.services import ExpertError, import_experts, read_import_file

    try:
        rows, warnings = read_import_file(file.read_bytes(), file.name)
    except ExpertError as exc:
        raise click.ClickException(str(exc)) from None
    report = import_experts(rows, dry_run=dry_run)
    report.warnings = warnings
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        for row in report.rows:
            click.echo(row.line_text())
        counts = report.counts
        click.echo(f"{'Dry run (nothing written): ' if dry_run else ''}{counts['created']} created, "
                   f"{counts['updated']} updated, {counts['skipped']} skipped")
    if not report.imported:
        sys.exit(1)


@experts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool):
    """List the registry (records merged into another are left out)."""
    from focalpoint.experts.models import Expert
    from focalpoint.experts.services import expert_as_dict

    experts = db.session.scalars(sa.select(Expert).where(Expert.merged_into_id.is_(None))
                                 .order_by(Expert.last_name, Expert.first_name, Expert.id)).all()
    data = [expert_as_dict(e) for e in experts]
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for e in data:
        click.echo(f"{e['id']:6} {e['name'][:30]:30} {(e['email'] or '')[:36]:36} {e['region'] or '':9} "
                   f"{e['gender'] or '':11} {e['career_stage'] or '':6} {','.join(e['disciplines'])[:30]:30} "
                   f"{e['status']}")
