"""``focalpoint plenary list`` and ``focalpoint positions list``."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("plenary", help="IPBES plenary sessions and their agendas.")
def plenary_group():
    pass


@plenary_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def plenary_list(as_json):
    """Every session, newest first: code, place, first and last day, agenda items, notes, approved notes."""
    from focalpoint.positions.plenary_services import session_rows

    rows = session_rows()
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("No plenary sessions.")
    for r in rows:
        dates = f"{r['start'] or '?'} to {r['end'] or '?'}"
        click.echo(f"{r['code']:9} {dates:24} {r['place'] or '-'}\n"
                   f"          items: {r['items']}; notes: {r['notes']} ({r['approved']} approved)")


@click.group("positions", help="Position notes for the plenary.")
def positions_group():
    pass


@positions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def positions_list(as_json):
    """Every position note: id, session, agenda item, status, current version and the administrations asked to
    review it with where each stands (pending, cleared, objected, stale)."""
    from focalpoint.positions.plenary_services import notes_as_dicts

    rows = notes_as_dicts()
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("No position notes.")
    for r in rows:
        asked = " ".join(f"{code}={state}" for code, state in r["administrations"].items()) or "-"
        click.echo(f"{r['id']:4} {r['session']:9} item {r['agenda_item']:10} {r['status']:9} v{r['version']}  "
                   f"{asked}")
