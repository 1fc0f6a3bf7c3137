"""The expert registry (staff) and an expert's own profile."""
from flask import Blueprint, render_template

from focalpoint.auth.models import Role
from focalpoint.security import roles_required

bp = Blueprint("experts", __name__)


@bp.get("/experts")
@roles_required(Role.STAFF)
def index():
    return render_template("experts/index.html")


@bp.get("/profile")
@roles_required(Role.EXPERT)
def profile():
    return render_template("experts/profile.html")
