"""Events: staff manage sessions, registrations and attendance; experts register."""
from __future__ import annotations

from flask import Blueprint, render_template

from focalpoint.security import roles_required

bp = Blueprint("events", __name__)


@bp.get("/events")
@roles_required("staff", "expert")
def index():
    return render_template("events/index.html")
