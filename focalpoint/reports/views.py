"""/reports: national reporting with charts, tables, CSV/XLSX and the annual DOCX (staff).

Each report page reads its figures in a fixed number of queries (see services), filtered by years and
deliverables from the query string; the exports take the same filters, so a download is what the page
shows. Addresses are fixed (no URL parameter), one rule per report and format.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from focalpoint.auth.models import Role
from focalpoint.reports import content as reports
from focalpoint.reports import services as svc
from focalpoint.reports.charts import svg_layout
from focalpoint.security import roles_required

bp = Blueprint("reports", __name__)

STAFF = (Role.STAFF,)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def labels() -> dict[str, dict[str, str]]:
    """Readable labels: the balance dimensions' (as on a call's matching page), roles and drafts (2 queries)."""
    from focalpoint.consultations.services import DRAFT_LABELS
    from focalpoint.nominations.views import labels as nomination_labels
    from focalpoint.reference.services import terms

    return {**nomination_labels(), "role": {t.code: t.label for t in terms("expert_role")},
            "draft": {k.value: str(v) for k, v in DRAFT_LABELS.items()}}


def balance_titles() -> dict[str, str]:
    from focalpoint.nominations.views import BALANCE_TITLES

    return {k: str(v) for k, v in BALANCE_TITLES.items()}


PROBLEMS = {
    "year_from": lambda: _("The first year is not a year between %(a)d and %(b)d: it was left out.",
                           a=svc.MIN_YEAR, b=svc.MAX_YEAR),
    "year_to": lambda: _("The last year is not a year between %(a)d and %(b)d: it was left out.",
                         a=svc.MIN_YEAR, b=svc.MAX_YEAR),
    "swapped": lambda: _("The first year came after the last: the two were swapped."),
    "deliverable": lambda: _("A deliverable asked for is not in the list: it was left out."),
}


def _filters() -> tuple[svc.ReportFilters, list[tuple[int, str]], list[str]]:
    choices = svc.deliverable_choices()
    filters, problems = svc.parse_filters(request.args, {did for did, _name in choices})
    return filters, choices, [PROBLEMS[p]() for p in problems]


def _period(filters: svc.ReportFilters) -> str:
    if filters.year_from is None and filters.year_to is None:
        return "all"
    return f"{filters.year_from or ''}-{filters.year_to or ''}".strip("-") if filters.year_from != filters.year_to \
        else str(filters.year_from)


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                      "Cache-Control": "no-store"})


@bp.get("/reports")
@roles_required(*STAFF)
def index():
    filters, choices, problems = _filters()
    this_year = svc.today().year
    return render_template("reports/index.html", reports=reports.REPORTS, filters=filters, deliverables=choices,
                           problems=problems, annual_years=list(range(this_year, this_year - 12, -1)),
                           annual_default=this_year - 1)


@bp.get("/reports/involvement", defaults={"report": "involvement"})
@bp.get("/reports/balance", defaults={"report": "balance"})
@bp.get("/reports/consultations", defaults={"report": "consultations"})
@bp.get("/reports/positions", defaults={"report": "positions"})
@roles_required(*STAFF)
def show(report: str):
    filters, choices, problems = _filters()
    content = reports.build(report, filters, labels(), balance_titles())
    layouts = {chart.id: svg_layout(chart) for section in content.sections for chart in section.charts
               if not chart.is_empty}
    return render_template("reports/report.html", report=report, reports=reports.REPORTS, content=content,
                           layouts=layouts, filters=filters, deliverables=choices, problems=problems,
                           cell_text=reports.cell_text, this_year=svc.today().year)


@bp.get("/reports/involvement.csv", defaults={"report": "involvement", "fmt": "csv"})
@bp.get("/reports/involvement.xlsx", defaults={"report": "involvement", "fmt": "xlsx"})
@bp.get("/reports/balance.csv", defaults={"report": "balance", "fmt": "csv"})
@bp.get("/reports/balance.xlsx", defaults={"report": "balance", "fmt": "xlsx"})
@bp.get("/reports/consultations.csv", defaults={"report": "consultations", "fmt": "csv"})
@bp.get("/reports/consultations.xlsx", defaults={"report": "consultations", "fmt": "xlsx"})
@bp.get("/reports/positions.csv", defaults={"report": "positions", "fmt": "csv"})
@bp.get("/reports/positions.xlsx", defaults={"report": "positions", "fmt": "xlsx"})
@roles_required(*STAFF)
def export(report: str, fmt: str):
    from focalpoint.reports.exports import to_csv, to_xlsx

    filters, _choices, _problems = _filters()
    content = reports.build(report, filters, labels(), balance_titles())
    name = f"report-{report}-{_period(filters)}"
    if fmt == "csv":
        return _download(to_csv(content.exports[0]), "text/csv; charset=utf-8", f"{name}.csv")
    return _download(to_xlsx(content.exports, title=content.title), XLSX, f"{name}.xlsx")


@bp.get("/reports/annual.docx")
@roles_required(*STAFF)
def annual():
    from focalpoint.reference.services import reference_data
    from focalpoint.reports.annual import annual_docx

    raw = (request.args.get("year") or "").strip()
    year = svc.today().year - 1
    if raw:
        parsed, ok = svc.parse_year(raw)
        if not ok or parsed is None:
            flash(_("The year of the annual report must be between %(a)d and %(b)d.", a=svc.MIN_YEAR,
                    b=svc.MAX_YEAR), "danger")
            return redirect(url_for("reports.index"))
        year = parsed
    choices = svc.deliverable_choices()
    base, _problems = svc.parse_filters(request.args, {did for did, _name in choices})
    filters = svc.ReportFilters(year, year, base.deliverable_ids)
    label_map, titles = labels(), balance_titles()
    contents = [reports.build(key, filters, label_map, titles) for key in reports.REPORTS]
    country_code = current_app.config.get("COUNTRY_CODE", "BE")
    country = (reference_data()["countries"].get(country_code.upper()) or {}).get("name", country_code)
    names = dict(choices)
    data = annual_docx(year, contents, country=country, deliverables=[names[d] for d in filters.deliverable_ids],
                       today=svc.today())
    return _download(data, DOCX, f"ipbes-annual-report-{year}.docx")

