"""``focalpoint digests …``: the e-mail digests on the command line."""
from __future__ import annotations

import datetime as dt
import json

import click
from flask.cli import with_appcontext


@click.group("digests")
def digests_group():
    """E-mail digests of what is due and what is new (daily or weekly, chosen per person)."""


@digests_group.command("send")
@click.option("--dry-run", is_flag=True,
              help="Show who would get a digest now; queue nothing, change nothing.")
@click.option("--at", "at", metavar="ISO-DATETIME",
              help="Act as if it were this moment (e.g. 2026-11-23T08:00+01:00); default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def digests_send(dry_run, at, as_json):
    """Queue the digests whose time has come (the scheduler does this every 15 minutes).

    A digest already sent for its period is never sent again: running this twice is harmless. The mail
    goes out with the outbox (``focalpoint outbox deliver`` or the scheduler).
    """
    from focalpoint.due.digests import send_digests

    now = None
    if at:
        try:
            now = dt.datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(f"not a date and time: {at!r} (write e.g. 2026-11-23T08:00+01:00)",
                                     param_hint="--at") from None
        if now.tzinfo is None:
            raise click.BadParameter("give the time zone too (e.g. +01:00 or Z)", param_hint="--at")
    run = send_digests(now, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "counts": run.counts,
                               "digests": [o.as_dict() for o in run.outcomes]}, indent=2, ensure_ascii=False))
        return
    for o in run.outcomes:
        click.echo(f"{o.result:10} {o.email}  {o.frequency} {o.period}  due={o.due} new={o.new}"
                   + (f"  {o.subject}" if o.subject else ""))
    counts = run.counts
    if dry_run:
        would, empty = run.count("dry-queued"), run.count("dry-empty")
        click.echo(f"Dry run: {would} digest(s) would be queued, {empty} with nothing to say, "
                   f"{counts['already']} already sent, {counts['waiting']} not due yet. Nothing was changed.")
    else:
        click.echo(f"{counts['queued']} digest(s) queued, {counts['empty']} with nothing to say, "
                   f"{counts['already']} already sent, {counts['waiting']} not due yet.")
