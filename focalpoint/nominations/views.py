"""Nomination calls: matching, the slate, endorsement and selection (staff)."""
from flask import Blueprint, render_template

from focalpoint.auth.models import Role
from focalpoint.security import roles_required

bp = Blueprint("nominations", __name__)


@bp.get("/calls")
@roles_required(Role.STAFF)
def index():
    return render_template("nominations/index.html")
