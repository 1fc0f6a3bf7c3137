"""Each report as sections of charts and tables, from the figures of ``services`` and readable labels.

One description serves every output: the page (SVG charts, HTML tables), the CSV and XLSX exports
(``exports.py``) and the annual DOCX (``annual.py``, PNG charts). Labels come in as plain dicts (the
view builds them once per request), so this module reads nothing from the database itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from focalpoint.nominations.matching import BALANCE_DIMENSIONS, NOT_STATED
from focalpoint.reports import services as svc
from focalpoint.reports.charts import GREY, HORIZONTAL, PERCENT, STACKED, Chart, Series, round_half_up

#: The reports, in the order of the navigation: key → title.
REPORTS = {
    "involvement": _l("Involvement"),
    "balance": _l("Balance"),
    "consultations": _l("Consultations"),
    "positions": _l("Positions"),
}

TEXT, INT, PCT, DAYS, COUNT_SHARE = "text", "int", "percent", "days", "count_share"


@dataclass
class Column:
    key: str
    label: str
    kind: str = INT
    #: The full wording, when ``label`` is an abbreviation (shown as a tooltip, used in the exports).
    long: str = ""

    @property
    def export_label(self) -> str:
        label = f"{self.label} ({self.long})" if self.long else self.label
        return f"{label} (%)" if self.kind == PCT else label


@dataclass
class Table:
    #: Sheet name in the XLSX (at most 31 characters) and slug.
    name: str
    title: str
    columns: list[Column]
    rows: list[list]
    footer: list | None = None
    #: How many leading columns name the row (rendered as row headers).
    row_headers: int = 1
    note: str = ""


@dataclass
class Section:
    id: str
    heading: str
    intro: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class ReportContent:
    key: str
    title: str
    summary: str
    definitions: list[str]
    sections: list[Section]
    #: Tables of the CSV (the first) and the XLSX (all, one sheet each).
    exports: list[Table]
    notes: list[str] = field(default_factory=list)


# --- formatting ----------------------------------------------------------------------------------------------
def percent(value: Fraction | float | None) -> int | None:
    """Whole percent, rounded half up (as matching.Share.percent)."""
    if value is None:
        return None
    return int(Fraction(value) * 100 + Fraction(1, 2))


def cell_text(value, kind: str) -> str:
    """A cell as the page shows it."""
    if value is None:
        return "–"
    if kind == PCT:
        return f"{percent(value)}%"
    if kind == DAYS:
        return f"{round_half_up(value, 1):,.1f}"
    if kind == COUNT_SHARE:
        count, total = value
        share = percent(Fraction(count, total)) if total else None
        return f"{count:,}" + (f" ({share}%)" if share is not None else "")
    if kind == INT:
        return f"{value:,}"
    return str(value)


def _rate_text(value: Fraction | None) -> str:
    return cell_text(value, PCT)


# --- labels --------------------------------------------------------------------------------------------------
def measure_labels() -> dict[str, str]:
    return {"invited": _("Invited"), "accepted": _("Accepted"), "declined": _("Declined"),
            "candidates": _("Candidates"), "endorsed": _("Endorsed"), "submitted": _("Submitted"),
            "selected": _("Selected")}


def _deliverable_name(data: svc.Involvement, deliverable_id: int | None) -> str:
    if deliverable_id is None:
        return _("No deliverable")
    return data.deliverables.get(deliverable_id) or f"#{deliverable_id}"


def _ordered_roles(codes, role_labels: dict[str, str]) -> list[str]:
    order = list(role_labels)
    return sorted(codes, key=lambda c: (order.index(c) if c in order else len(order), c))


def _role_columns(codes: list[str], role_labels: dict[str, str], prefix: str) -> list[Column]:
    return [Column(f"role:{c}", c, INT, long=f"{prefix}: {role_labels.get(c, c)}") for c in codes]


# --- involvement ---------------------------------------------------------------------------------------------
def involvement(data: svc.Involvement, labels: dict) -> ReportContent:
    m = measure_labels()
    roles = _ordered_roles(data.roles, labels["role"])
    history_roles = _ordered_roles(data.history_roles, labels["role"])
    years = [str(r.year) for r in data.years]
    funnel = ("invited", "accepted", "candidates", "endorsed", "submitted", "selected")
    charts_year = [
        Chart("chart-involvement-years", _("Involvement per year"), years,
              [Series(k, m[k], [r.counts[k] for r in data.years]) for k in funnel],
              description=_("Invitations, candidates, endorsements, submissions and selections per year of the "
                            "calls.")),
        Chart("chart-involvement-experts", _("Experts involved over time"), years,
              [Series("involved", _("Experts involved"), [r.experts_involved for r in data.years]),
               Series("selected", _("Experts selected"), [r.experts_selected for r in data.years])],
              description=_("Distinct experts invited to or on the slate of the year's calls, and those selected.")),
        Chart("chart-involvement-roles", _("Selected by role"), years,
              [Series(c, f"{c} · {labels['role'].get(c, c)}", [r.roles.get(c, 0) for r in data.years])
               for c in roles], mode=STACKED,
              description=_("Experts selected per year, by the role they were selected for.")),
    ]
    per_deliverable: dict[int | None, svc.InvolvementRow] = {}
    for r in data.rows:
        per_deliverable.setdefault(r.deliverable_id, svc.InvolvementRow(None, r.deliverable_id)).add(r)
    deliverable_rows = sorted(per_deliverable.values(),
                              key=lambda r: (r.deliverable_id is None, _deliverable_name(data, r.deliverable_id).lower()))
    chart_deliverables = Chart(
        "chart-involvement-deliverables", _("Invited, submitted and selected per deliverable"),
        [_deliverable_name(data, r.deliverable_id) for r in deliverable_rows],
        [Series(k, m[k], [r.counts[k] for r in deliverable_rows]) for k in ("invited", "submitted", "selected")],
        orientation=HORIZONTAL,
        description=_("Invited, submitted and selected experts per deliverable over the period."))
    chart_history = Chart(
        "chart-involvement-history", _("IPBES roles in the registry"), [str(y) for y in data.history],
        [Series(c, f"{c} · {labels['role'].get(c, c)}", [data.history[y].get(c, 0) for y in data.history])
         for c in history_roles], mode=STACKED,
        description=_("Roles in the experts' IPBES history (declared, and recorded from selections) by the year "
                      "they began."))

    base = [Column(k, m[k]) for k in INVOLVEMENT_COLUMNS]
    rate = Column("rate", _("Selection rate"), PCT)
    year_table = Table(
        "Per year", _("Per year"),
        [Column("year", _("Year"), TEXT), *base, rate, Column("experts_involved", _("Experts involved")),
         Column("experts_selected", _("Experts selected")),
         *_role_columns(roles, labels["role"], _("Selected as"))],
        [[str(r.year), *[r.counts[k] for k in INVOLVEMENT_COLUMNS], r.rate, r.experts_involved, r.experts_selected,
          *[r.roles.get(c, 0) for c in roles]] for r in data.years],
        footer=[_("Total"), *[data.total.counts[k] for k in INVOLVEMENT_COLUMNS], data.total.rate,
                data.total.experts_involved, data.total.experts_selected, *[data.total.roles.get(c, 0) for c in roles]],
        note=_("Experts involved and selected count each person once per year, and once in the total."))
    detail_table = Table(
        "Per deliverable and year", _("Per deliverable and year"),
        [Column("year", _("Year"), TEXT), Column("deliverable", _("Deliverable"), TEXT), *base, rate,
         *_role_columns(roles, labels["role"], _("Selected as"))],
        [[str(r.year), _deliverable_name(data, r.deliverable_id), *[r.counts[k] for k in INVOLVEMENT_COLUMNS], r.rate,
          *[r.roles.get(c, 0) for c in roles]] for r in data.rows],
        footer=["", _("Total"), *[data.total.counts[k] for k in INVOLVEMENT_COLUMNS], data.total.rate,
                *[data.total.roles.get(c, 0) for c in roles]],
        row_headers=2)
    history_table = Table(
        "Registry history", _("IPBES roles in the registry, by the year they began"),
        [Column("year", _("Year"), TEXT), *_role_columns(history_roles, labels["role"], _("Roles")),
         Column("total", _("Total"))],
        [[str(y), *[data.history[y].get(c, 0) for c in history_roles], sum(data.history[y].values())]
         for y in data.history])
    t = data.total
    summary = _("%(invited)s invited, %(accepted)s accepted, %(submitted)s submitted, %(selected)s selected "
                "(selection rate %(rate)s); %(experts)s experts involved.",
                invited=t.counts["invited"], accepted=t.counts["accepted"], submitted=t.counts["submitted"],
                selected=t.counts["selected"], rate=_rate_text(t.rate), experts=t.experts_involved)
    sections = [
        Section("involvement-years", _("Over time"), charts=charts_year, tables=[year_table]),
        Section("involvement-deliverables", _("Per deliverable"), charts=[chart_deliverables], tables=[detail_table]),
        Section("involvement-history", _("The registry's IPBES history"), charts=[chart_history],
                tables=[history_table],
                intro=_("Every IPBES role in the experts' records, whether they declared it or it was recorded "
                        "from a selection here, including roles from before the calls in this application.")),
    ]
    return ReportContent("involvement", str(REPORTS["involvement"]), summary, involvement_definitions(), sections,
                         exports=[detail_table, year_table, history_table])


INVOLVEMENT_COLUMNS = ("invited", "accepted", "declined", "candidates", "endorsed", "submitted", "selected")


def involvement_definitions() -> list[str]:
    return [
        _("A call counts in the year of its national deadline, under its deliverable."),
        _("Invited: invitations sent. Accepted, declined: their current answer."),
        _("Candidates: experts on the national slate, withdrawn ones left out. Endorsed: endorsed and still on "
          "the way (submitted, selected or not selected included). Submitted: submitted to IPBES, whatever "
          "the outcome."),
        _("Selection rate: selected ÷ submitted (submissions still awaiting the outcome included)."),
        _("Experts involved: distinct experts invited to, or on the slate of, a call of the period."),
    ]


# --- balance -------------------------------------------------------------------------------------------------
def _categories(dim: str, found: set[str], labels: dict) -> list[tuple[str, str]]:
    """(code, label) of a dimension: the known ones in their order, then any others met in the data."""
    known = labels.get(dim, {})
    keys = [k for k in known if k in found or k != NOT_STATED] + sorted(k for k in found if k not in known)
    return [(k, known.get(k, k)) for k in keys]


def balance(data: svc.Balance, labels: dict, titles: dict) -> ReportContent:
    sections, long_rows = [], []
    populations = [("registry", None)] + [(p, y) for y in data.years for p in ("candidates", "selected")]

    def population_label(kind: str, year: int | None) -> str:
        if kind == "registry":
            return _("Registry (today)")
        return _("%(year)s candidates", year=year) if kind == "candidates" else _("%(year)s selected", year=year)

    def counts_of(kind: str, year: int | None, dim: str) -> tuple[dict[str, int], int]:
        if kind == "registry":
            return data.registry.get(dim, {}), data.registry_total
        source = data.candidates if kind == "candidates" else data.selected
        totals = data.candidates_total if kind == "candidates" else data.selected_total
        return source.get(year, {}).get(dim, {}), totals.get(year, 0)

    for dim in BALANCE_DIMENSIONS:
        categories = _categories(dim, data.categories.get(dim, set()), labels)
        title = str(titles.get(dim, dim))
        rows_names = [population_label(k, y) for k, y in populations]
        series = []
        for index, (code, label) in enumerate(categories):
            values = [counts_of(k, y, dim)[0].get(code, 0) for k, y in populations]
            series.append(Series(code, label, values, color=GREY if code == NOT_STATED else ""))
        # Colours follow the category's place in the full list, so a category keeps its colour from chart to chart.
        chart = Chart(f"chart-balance-{dim}", _("%(dimension)s: shares", dimension=title), rows_names, series, mode=PERCENT, orientation=HORIZONTAL,
                      description=_("Shares of each category among the registry's experts, and per year among the "
                                    "candidates and those selected."))
        columns = [Column("category", _("Category"), TEXT)] + [
            Column(f"{k}:{y or ''}", population_label(k, y), COUNT_SHARE) for k, y in populations]
        rows = []
        for code, label in categories:
            row = [label]
            for kind, year in populations:
                counts, total = counts_of(kind, year, dim)
                row.append((counts.get(code, 0), total))
                long_rows.append([title, label, population_label(kind, "") if kind == "registry" else
                                  (_("Candidates") if kind == "candidates" else _("Selected")),
                                  str(year) if year else "", counts.get(code, 0), total,
                                  Fraction(counts.get(code, 0), total) if total else None])
            rows.append(row)
        footer = [_("Experts")] + [(counts_of(k, y, dim)[1], 0) for k, y in populations]
        note = _("An expert may have several disciplines: the shares add up to more than the whole, and the bars "
                 "divide the disciplines named.") if dim == "discipline" else ""
        sections.append(Section(f"balance-{dim}", title, charts=[chart],
                                tables=[Table(title[:31], _("%(dimension)s: experts and shares", dimension=title),
                                              columns, rows, footer=footer, note=note)]))
    long_table = Table(
        "Balance", _("Balance"),
        [Column("dimension", _("Dimension"), TEXT), Column("category", _("Category"), TEXT),
         Column("population", _("Population"), TEXT), Column("year", _("Year"), TEXT),
         Column("experts", _("Experts")), Column("of", _("Of")), Column("share", _("Share"), PCT)],
        long_rows, row_headers=2)
    per_year = "; ".join(_("%(year)s: %(candidates)s candidates, %(selected)s selected", year=y,
                             candidates=data.candidates_total[y], selected=data.selected_total[y]) for y in data.years)
    summary = _("%(registry)s experts in the registry.", registry=data.registry_total) + \
        (" " + per_year + "." if per_year else " " + _("No candidates in the period."))
    definitions = [
        _("Registry: active experts today (records waiting for review, erased or merged left out)."),
        _("Candidates: distinct experts on the slates of the year's calls (withdrawn ones left out); selected: "
          "those among them the secretariat selected."),
        _("Each share is the part of the experts of that population in the category; \"Not stated\" counts the "
          "experts who did not say."),
    ]
    return ReportContent("balance", str(REPORTS["balance"]), summary, definitions, sections, exports=[long_table])


# --- consultations -------------------------------------------------------------------------------------------
def _consultation_columns() -> list[Column]:
    return [Column("consultations", _("Consultations")), Column("participants", _("Experts invited")),
            Column("commenters", _("Experts who commented")), Column("comments", _("Comments")),
            Column("adopt", _("Adopt")), Column("adopt_edited", _("Adopt edited")),
            Column("merge", _("Merged")), Column("reject", _("Reject")),
            Column("adopted", _("Adopted in all")), Column("rejected", _("Rejected in all")),
            Column("undecided", _("Not decided")), Column("share", _("Share adopted"), PCT)]


def _consultation_values(r: svc.ConsultationRow) -> list:
    return [r.consultations, r.participants, r.commenters, r.comments, *[r.decisions[d] for d in svc.COMMENT_DECISIONS],
            *[r.outcomes[o] for o in svc.COMMENT_OUTCOMES], r.share_adopted]


def consultations(data: svc.Consultations, labels: dict) -> ReportContent:
    drafts = labels["draft"]
    outcome = {"adopted": _("Adopted"), "rejected": _("Rejected"), "undecided": _("Not decided")}
    outcome_colors = {"adopted": "#009E73", "rejected": "#D55E00", "undecided": GREY}
    charts = [
        Chart("chart-consultations-drafts", _("Comments per draft"), [drafts.get(r.draft, r.draft) for r in data.drafts],
              [Series(o, outcome[o], [r.outcomes[o] for r in data.drafts], outcome_colors[o])
               for o in svc.COMMENT_OUTCOMES], mode=STACKED,
              description=_("Comments per kind of draft, by what consolidation made of them.")),
        Chart("chart-consultations-share", _("Share adopted"), [drafts.get(r.draft, r.draft) for r in data.drafts],
              [Series("share", _("Share adopted"), [percent(r.share_adopted) or 0 for r in data.drafts])],
              orientation=HORIZONTAL, unit="%",
              description=_("Adopted comments as a share of the decided ones, per kind of draft.")),
        Chart("chart-consultations-years", _("Comments per year"), [str(r.year) for r in data.years],
              [Series(k, drafts.get(k, k), [next((x.comments for x in data.rows if x.year == r.year and x.draft == k), 0)
                                            for r in data.years]) for k in drafts], mode=STACKED,
              description=_("Comments per year of the consultations' closing day, by kind of draft.")),
    ]
    for c in charts[2:]:
        c.series = [s for s in c.series if any(s.values)]
    columns = _consultation_columns()
    per_draft = Table("Per draft", _("Per draft"), [Column("draft", _("Draft"), TEXT), *columns],
                      [[drafts.get(r.draft, r.draft), *_consultation_values(r)] for r in data.drafts],
                      footer=[_("Total"), *_consultation_values(data.total)])
    per_year = Table("Per year", _("Per year"), [Column("year", _("Year"), TEXT), *columns],
                     [[str(r.year), *_consultation_values(r)] for r in data.years],
                     footer=[_("Total"), *_consultation_values(data.total)])
    detail = Table("Per draft and year", _("Per draft and year"),
                   [Column("year", _("Year"), TEXT), Column("draft", _("Draft"), TEXT), *columns],
                   [[str(r.year), drafts.get(r.draft, r.draft), *_consultation_values(r)] for r in data.rows],
                   footer=["", _("Total"), *_consultation_values(data.total)], row_headers=2,
                   note=_("Experts invited and experts who commented are counted per consultation in this table "
                          "and the one per year; the totals count each expert who commented once."))
    t = data.total
    summary = _("%(comments)s comments in %(consultations)s consultations; %(share)s of the decided ones adopted.",
                comments=t.comments, consultations=t.consultations, share=_rate_text(t.share_adopted))
    definitions = [
        _("A consultation counts in the year of its closing day."),
        _("Adopted in all: comments adopted, adopted as edited, or merged into a comment that was adopted (their "
          "point goes forward in that comment's wording). Rejected in all: rejected, or merged into a rejected "
          "comment. Not decided: the others, merged into an undecided comment included."),
        _("Share adopted: adopted in all ÷ (adopted in all + rejected in all)."),
    ]
    sections = [Section("consultations-drafts", _("Per draft"), charts=charts[:2], tables=[per_draft]),
                Section("consultations-years", _("Over time"), charts=charts[2:], tables=[per_year, detail])]
    return ReportContent("consultations", str(REPORTS["consultations"]), summary, definitions, sections,
                         exports=[detail, per_draft, per_year])


# --- positions -----------------------------------------------------------------------------------------------
def _short(name: str) -> str:
    """An administration's name without its parenthesis ("Flemish administration (Department …)")."""
    return name.split(" (")[0].strip() or name


def positions(data: svc.Positions, labels: dict) -> ReportContent:
    names = [_short(r.name) for r in data.rows]
    timed = [r for r in data.rows if r.median_days is not None]
    charts = [
        Chart("chart-positions-days", _("Days from review request to clearance"), [_short(r.name) for r in timed],
              [Series("median", _("Median"), [r.median_days for r in timed]),
               Series("mean", _("Mean"), [r.mean_days for r in timed])],
              orientation=HORIZONTAL, unit=_("days"), decimals=1,
              description=_("Median and mean days from the review request to the clearance that stands, per "
                            "administration.")),
        Chart("chart-positions-requests", _("Review requests"), names,
              [Series("cleared", _("Cleared"), [r.cleared for r in data.rows], "#009E73"),
               Series("objected", _("Objected"), [r.objected for r in data.rows], "#D55E00"),
               Series("awaiting", _("Awaiting"), [r.awaiting for r in data.rows], GREY)],
              mode=STACKED, orientation=HORIZONTAL,
              description=_("Review requests per administration, by where they stand.")),
    ]
    columns = [Column("administration", _("Administration"), TEXT), Column("requests", _("Review requests")),
               Column("cleared", _("Cleared")), Column("objected", _("Objected")), Column("awaiting", _("Awaiting")),
               Column("median", _("Median days"), DAYS), Column("mean", _("Mean days"), DAYS)]

    def values(r: svc.ClearanceRow) -> list:
        return [r.requests, r.cleared, r.objected, r.awaiting, r.median_days, r.mean_days]

    table = Table("Clearance", _("Clearance per administration"), columns,
                  [[r.name, *values(r)] for r in data.rows], footer=[_("All administrations"), *values(data.total)])
    t = data.total
    summary = _("%(requests)s review requests, %(cleared)s cleared; median %(median)s days to clearance.",
                requests=t.requests, cleared=t.cleared, median=cell_text(t.median_days, DAYS))
    definitions = [
        _("Review requests not withdrawn, in the year they were made (UTC)."),
        _("Time to clearance: from the request to the clearance that stands (the administration's latest decision "
          "on the note, when it is a clearance; a newer version of the note cleared again counts from the same "
          "request). Objected and awaiting requests have no time yet."),
        _("Position notes belong to plenary sessions, not to deliverables: the deliverable filter does not apply."),
    ]
    return ReportContent("positions", str(REPORTS["positions"]), summary, definitions,
                         [Section("positions-clearance", _("Clearance per administration"), charts=charts,
                                  tables=[table])], exports=[table])


def build(report: str, filters: svc.ReportFilters, labels: dict, titles: dict) -> ReportContent:
    """The content of ``report`` for ``filters`` (the queries of the matching service function)."""
    if report == "involvement":
        return involvement(svc.involvement(filters), labels)
    if report == "balance":
        return balance(svc.balance(filters), labels, titles)
    if report == "consultations":
        return consultations(svc.consultations(filters), labels)
    if report == "positions":
        return positions(svc.positions(filters), labels)
    raise KeyError(report)
