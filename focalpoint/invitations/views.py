"""Invitations: an expert's own list, and answering from a signed link without an account."""
from flask import Blueprint, render_template

from focalpoint.auth.models import Role
from focalpoint.security import roles_required

bp = Blueprint("invitations", __name__)


@bp.get("/invitations")
@roles_required(Role.EXPERT)
def mine():
    return render_template("invitations/mine.html")
