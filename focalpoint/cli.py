"""The ``focalpoint`` command: Flask's CLI bound to the application, plus our commands."""
from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from focalpoint.extensions import db


def _create_app():
    from focalpoint import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Focal Point: the workbench of a national focal point to IPBES.")
def main():
    pass


def register_commands(app) -> None:
    from focalpoint.mail_cli import outbox_group

    for command in (init_command, serve_command, scheduler_command, users_group, administrations_group,
                    feeds_group, ingest_command, notifications_group, outbox_group):
        app.cli.add_command(command)
    from focalpoint.experts.cli import experts_group

    app.cli.add_command(experts_group)
    from focalpoint.nominations.cli import calls_group

    app.cli.add_command(calls_group)
    from focalpoint.consultations.cli import consultations_group

    app.cli.add_command(consultations_group)
    from focalpoint.positions.cli import plenary_group, positions_group

    app.cli.add_command(plenary_group)
    app.cli.add_command(positions_group)
    from focalpoint.due.cli import digests_group

    app.cli.add_command(digests_group)


def _json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --- init / serve / scheduler ---------------------------------------------------------------------
def run_init(demo: bool) -> None:
    from flask_migrate import upgrade

    from focalpoint.reference.services import load_reference_data

    upgrade(directory=current_app.extensions["migrate"].directory)
    added = load_reference_data(current_app.config["COUNTRY_CODE"])
    from focalpoint.invitations.services import seed_default_templates

    seed_default_templates()
    db.session.commit()
    click.echo("Database ready; reference data: " + ", ".join(f"{v} {k} added" for k, v in added.items()))
    if demo:
        from focalpoint.demo import load_demo

        for line in load_demo():
            click.echo(line)
        db.session.commit()


@click.command("init")
@click.option("--demo", is_flag=True, help="Add demo users (one per role) and demo notifications.")
@with_appcontext
def init_command(demo):
    """Create or upgrade the database and load reference data (idempotent)."""
    run_init(demo)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Add demo users and data first.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler in this process.")
@with_appcontext
def serve_command(host, port, threads, demo, no_scheduler):
    """Initialise, then serve with waitress, with the scheduler in the same process."""
    import waitress

    from focalpoint.scheduler import build_scheduler

    run_init(demo)
    db.session.remove()
    app = current_app._get_current_object()
    scheduler = None
    if not no_scheduler:
        scheduler = build_scheduler(app)
        scheduler.start()
    click.echo(f"Focal Point on http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="focalpoint",
                       max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduler alone (for deployments with several web workers)."""
    from focalpoint.scheduler import build_scheduler

    app = current_app._get_current_object()
    scheduler = build_scheduler(app, blocking=True)
    click.echo("Scheduler running (Ctrl+C to stop)")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


# --- users & administrations ----------------------------------------------------------------------
@click.group("users")
def users_group():
    """Manage user accounts."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["staff", "expert", "reviewer", "admin"]), help="Repeat for several roles.")
@click.option("--name", default="")
@click.option("--administration", default="", help="Name or code (required for reviewers).")
@with_appcontext
def users_add(email, roles, name, administration):
    """Create a user; the password is prompted for (read from standard input when not a terminal)."""
    from focalpoint.auth.services import AccountError, create_user, find_administration

    admin = None
    if administration:
        admin = find_administration(administration)
        if admin is None:
            raise click.ClickException(f"No administration named or coded {administration!r} "
                                       "(see: focalpoint administrations list).")
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(email, roles=roles, password=password, name=name, administration=admin)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({', '.join(sorted(str(r) for r in user.roles))})")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_list(as_json):
    """List users."""
    from focalpoint.auth.models import User

    rows = db.session.scalars(sa.select(User).order_by(User.email)).all()
    data = [{"id": u.id, "email": u.email, "name": u.name, "roles": sorted(str(r) for r in u.roles),
             "administration": u.administration.code if u.administration else None, "enabled": u.is_enabled}
            for u in rows]
    if as_json:
        _json(data)
    else:
        for u in data:
            click.echo(f"{u['email']:40} {','.join(u['roles']):24} {u['administration'] or ''}")


@click.group("administrations")
def administrations_group():
    """Administrations whose reviewers clear position notes."""


@administrations_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def administrations_list(as_json):
    from focalpoint.auth.models import Administration

    rows = db.session.scalars(sa.select(Administration).order_by(Administration.name)).all()
    data = [{"id": a.id, "code": a.code, "name": a.name, "active": a.is_active} for a in rows]
    if as_json:
        _json(data)
    else:
        for a in data:
            click.echo(f"{a['code']:12} {a['name']}")


# --- feeds & ingestion ----------------------------------------------------------------------------
@click.group("feeds")
def feeds_group():
    """Feed sources of notifications."""


@feeds_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--interval", type=int, default=None, help="Minutes between polls (default from FEED_INTERVAL_MINUTES).")
@with_appcontext
def feeds_add(name, url, interval):
    from focalpoint.notifications.services import NotificationError, add_source

    try:
        source = add_source(name, url, interval_minutes=interval)
    except NotificationError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Added feed source {source.name}: {source.url} (every {source.interval_minutes} min)")


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def feeds_list(as_json):
    from focalpoint.notifications.models import FeedSource, Notification

    counts = dict(db.session.execute(
        sa.select(Notification.source_id, sa.func.count()).group_by(Notification.source_id)).all())
    rows = db.session.scalars(sa.select(FeedSource).order_by(FeedSource.name)).all()
    data = [{"id": s.id, "name": s.name, "url": s.url, "active": s.is_active,
             "interval_minutes": s.interval_minutes,
             "last_polled_at": s.last_polled_at.isoformat() if s.last_polled_at else None,
             "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
             "last_error": s.last_error, "error_count": s.error_count,
             "next_poll_at": s.next_poll_at.isoformat() if s.next_poll_at else None,
             "notifications": counts.get(s.id, 0)} for s in rows]
    if as_json:
        _json(data)
    else:
        for s in data:
            state = f"ERROR: {s['last_error']}" if s["last_error"] else f"ok, last polled {s['last_polled_at'] or 'never'}"
            click.echo(f"{s['name']:24} {s['url']}  [{state}]")


@click.command("ingest")
@click.argument("name", required=False)
@with_appcontext
def ingest_command(name):
    """Poll feed sources now (all active ones, or NAME) and print a summary per source."""
    from focalpoint.notifications.jobs import poll_sources
    from focalpoint.notifications.services import find_source

    if name and find_source(name) is None:
        raise click.ClickException(f"No feed source named {name!r} (see: focalpoint feeds list).")
    summaries = poll_sources([name] if name else None)
    if not summaries:
        click.echo("No active feed sources.")
    for summary in summaries:
        click.echo(summary.line())
    if any(s.failed for s in summaries):
        sys.exit(1)


@click.group("notifications")
def notifications_group():
    """Secretariat notifications."""


@notifications_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--status", default=None, help="Only this status (new, in_progress, done, archived).")
@with_appcontext
def notifications_list(as_json, status):
    from sqlalchemy.orm import selectinload

    from focalpoint.notifications.models import Notification
    from focalpoint.notifications.services import notification_as_dict

    stmt = (sa.select(Notification).options(selectinload(Notification.deadlines))
            .order_by(Notification.published_at.desc().nulls_last(), Notification.id.desc()))
    if status:
        stmt = stmt.where(Notification.status == status)
    rows = db.session.scalars(stmt).unique().all()
    data = [notification_as_dict(n) for n in rows]
    if as_json:
        _json(data)
    else:
        for n in data:
            deadlines = ", ".join(d["date"] for d in n["deadlines"]) or "-"
            click.echo(f"{n['id']:5} {n['reference'] or '':12} {n['kind']:15} {n['status']:12} "
                       f"{deadlines:24} {n['title'][:70]}")
