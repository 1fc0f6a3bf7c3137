"""Consultations: staff's pages (list, detail, documents, invitations, consolidation, export)."""
from __future__ import annotations

from flask import render_template

from focalpoint.consultations.blueprint import bp
from focalpoint.security import roles_required


@bp.get("/consultations")
@roles_required("staff", "expert")
def index():
    return render_template("consultations/index.html")
