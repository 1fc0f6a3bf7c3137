"""``focalpoint calls …``: nomination calls on the command line."""
from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from focalpoint.extensions import db


@click.group("calls")
def calls_group():
    """Nomination calls: list them, rank the experts against one."""


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@calls_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def calls_list(as_json):
    """Every call with its deadlines, state and counts per invitation and nomination state."""
    from focalpoint.db import utcnow
    from focalpoint.nominations.models import NominationCall
    from focalpoint.nominations.services import calls_as_dicts

    calls = db.session.scalars(sa.select(NominationCall).order_by(NominationCall.id)).unique().all()
    data = calls_as_dicts(calls, utcnow().date())
    if as_json:
        _echo_json(data)
        return
    if not data:
        click.echo("No nomination calls.")
    for c in data:
        inv = " ".join(f"{k}={v}" for k, v in c["invitations"].items() if v) or "-"
        nom = " ".join(f"{k}={v}" for k, v in c["nominations"].items() if v) or "-"
        click.echo(f"{c['id']:4} {c['state']:8} national {c['national_deadline']}  {c['title'][:60]}\n"
                   f"     invitations: {inv}; slate: {nom}")


@calls_group.command("match")
@click.argument("call_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many experts.")
@with_appcontext
def calls_match(call_id, as_json, limit):
    """Rank the active experts of the registry against CALL_ID: expert_id, score, reasons."""
    from focalpoint.nominations.matching import match_call
    from focalpoint.nominations.models import NominationCall

    call = db.session.get(NominationCall, call_id)
    if call is None:
        raise click.ClickException(f"No nomination call {call_id} (see: focalpoint calls list).")
    matches = match_call(db.session, call)[:limit]
    if as_json:
        _echo_json([m.as_dict() for m in matches])
        return
    for m in matches:
        flags = f"  [{'; '.join(text for _code, text in m.flags)}]" if m.flags else ""
        click.echo(f"{m.expert.id:6} {m.score:5}  {m.expert.name}: {'; '.join(m.reasons) or '-'}{flags}")
