"""/reports: national reporting with charts, tables, CSV/XLSX and the annual DOCX (staff)."""
from __future__ import annotations

from flask import Blueprint, render_template

from focalpoint.security import roles_required

bp = Blueprint("reports", __name__)


@bp.get("/reports")
@roles_required("staff")
def index():
    return render_template("reports/index.html")
