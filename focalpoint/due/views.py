"""/due: every dated obligation across the workflows, nearest first; its calendar files and feed.

Staff choose whose items (mine / my team / all); experts and reviewers see the same page with their
own items only (their pending invitations, consultations and events; their administration's reviews),
so the page is open to anyone logged in and the rows, not the door, do the access check.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from focalpoint.due import feed as feeds
from focalpoint.due.ics import feed_ics, item_ics
from focalpoint.due.services import (SCOPE_LABELS, WINDOW_LABELS, WORKFLOW_LABELS, due_items, find_item)
from focalpoint.listing import Listing, Page
from focalpoint.security import authenticated, public

bp = Blueprint("due", __name__)

ICS = "text/calendar; charset=utf-8"
#: The workflows whose rows someone who is not staff can have.
_OWN_WORKFLOWS = {"expert": ("invitations", "consultations", "events"), "reviewer": ("positions",)}


def workflows_for(user) -> list[str]:
    """The workflow filter's choices for ``user``."""
    if user.is_staff:
        return list(WORKFLOW_LABELS)
    own = {w for role, names in _OWN_WORKFLOWS.items() if user.has_role(role) for w in names}
    return [w for w in WORKFLOW_LABELS if w in own]


def _choice(name: str, allowed, default=None):
    value = request.args.get(name) or default
    return value if value in allowed else default


@bp.get("/due")
@authenticated
def index():
    is_staff = current_user.is_staff
    workflows = workflows_for(current_user)
    scope = _choice("scope", SCOPE_LABELS, "team") if is_staff else "mine"
    workflow = _choice("workflow", workflows)
    window = _choice("window", WINDOW_LABELS)
    listing = Listing(request.args, sorts={"date": None}, default_sort="date")
    items = due_items(current_user, scope=scope, workflow=workflow or workflows, window=window)
    total = len(items)
    pages = max(1, -(-total // listing.per_page))
    number = min(listing.page, pages)
    start = (number - 1) * listing.per_page
    page = Page(items=items[start:start + listing.per_page], page=number, per_page=listing.per_page, total=total,
                pages=pages)
    return render_template("due/index.html", page=page, listing=listing, scope=scope, workflow=workflow,
                           window=window, workflows=workflows, is_staff=is_staff,
                           overdue_count=sum(1 for item in items if item.overdue), SCOPE_LABELS=SCOPE_LABELS,
                           WINDOW_LABELS=WINDOW_LABELS, WORKFLOW_LABELS=WORKFLOW_LABELS)


@bp.get("/due/<kind>/<int:item_id>.ics")
@authenticated
def item_file(kind: str, item_id: int):
    """One item as a calendar file, for whoever may see it (anyone else: not found)."""
    item = find_item(current_user, kind, item_id)
    if item is None:
        abort(404)
    return Response(item_ics(item), content_type=ICS,
                    headers={"Content-Disposition": f'attachment; filename="{kind}-{item_id}.ics"'})


@bp.get("/calendar/<secret>.ics")
@public
def feed(secret: str):
    """The personal feed: the owner's due items. A wrong or revoked secret is a bare 404."""
    user = feeds.find_calendar_user(secret)
    if user is None:
        abort(404)
    scope = request.args.get("scope", "mine")
    if scope not in feeds.FEED_SCOPES or not user.is_staff:
        scope = "mine"
    languages = current_app.config.get("LANGUAGES", ())
    locale = user.locale if user.locale in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    with force_locale(locale):
        name = (_("Focal Point: my team's dates") if scope == "team"
                else _("Focal Point: %(name)s's dates", name=user.display_name))
        body = feed_ics(due_items(user, scope=scope), name)
    return Response(body, content_type=ICS, headers={"Content-Disposition": 'inline; filename="focalpoint.ics"'})
