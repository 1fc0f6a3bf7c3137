"""/due: every dated obligation across the workflows, nearest first."""
from __future__ import annotations

from flask import Blueprint, render_template

from focalpoint.security import roles_required

bp = Blueprint("due", __name__)


@bp.get("/due")
@roles_required("staff")
def index():
    return render_template("due/index.html")
