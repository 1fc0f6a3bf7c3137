"""The figures of the national reports, read with SQL aggregates in a fixed number of queries.

Every function here runs a handful of ``GROUP BY`` statements, whatever the size of the data (10,000
experts and 100,000 invitations read as a few dozen aggregated rows), and returns plain dataclasses:
no labels, no Flask. ``content.py`` turns them into charts and tables.

Definitions (the pages repeat them):

- **Year of a call**: the year of its national deadline. Its invitations and its slate count in that year,
  under its deliverable (calls without a deliverable under none).
- **Invited**: invitations (each is sent when it is made); **accepted**/**declined**: their current answer.
- **Candidates**: experts on the slate, in any state but withdrawn. **Endorsed**: endorsed, submitted, selected
  or not selected (endorsed and still on the way). **Submitted**: submitted, selected or not selected.
  **Selected**: selected, by the role the secretariat selected them for. **Selection rate**: selected ÷
  submitted.
- **Experts involved** in a year: distinct experts invited to, or on the slate of, a call of that year.
- **Registry history**: IPBES roles in the experts' records (declared, and recorded from selections), by
  the year the role began.
- **Balance**: distinct candidates and selected experts per year, against the registry as a whole (active
  experts, today).
- **Consultations**: the year of a consultation is that of its closing day. A comment counts as **adopted**
  when it is adopted or adopted as edited, or merged into a comment that is; as **rejected** when it is
  rejected or merged into a rejected comment; otherwise it is **not decided** (merged into an undecided
  comment included). The **share adopted** is adopted ÷ (adopted + rejected).
- **Positions**: per administration, review requests not withdrawn; the time to clearance runs from the
  request to the clearance that stands (the latest decision of the administration on the note, when it is
  a clearance). The year is that of the request (UTC).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import FunctionElement

from focalpoint.extensions import db
from focalpoint.nominations.matching import BALANCE_DIMENSIONS, NOT_STATED

#: Years accepted in filters (earlier or later is a typing mistake).
MIN_YEAR, MAX_YEAR = 2000, 2100


# --- SQL helpers (portable between SQLite and PostgreSQL) ----------------------------------------------------
class year_of_date(FunctionElement):
    """The year of a DATE column, as an integer."""

    type = sa.Integer()
    name = "year_of_date"
    inherit_cache = True


class year_of_utc(FunctionElement):
    """The year of a timestamp column, in UTC, as an integer."""

    type = sa.Integer()
    name = "year_of_utc"
    inherit_cache = True


class days_between(FunctionElement):
    """``later - earlier`` in days (a float) for two timestamp columns."""

    type = sa.Float()
    name = "days_between"
    inherit_cache = True


@compiles(year_of_date)
@compiles(year_of_utc)
def _year_sqlite(element, compiler, **kw):
    (column,) = element.clauses
    return f"CAST(strftime('%Y', {compiler.process(column, **kw)}) AS INTEGER)"


@compiles(year_of_date, "postgresql")
def _year_date_pg(element, compiler, **kw):
    (column,) = element.clauses
    return f"CAST(EXTRACT(YEAR FROM {compiler.process(column, **kw)}) AS INTEGER)"


@compiles(year_of_utc, "postgresql")
def _year_utc_pg(element, compiler, **kw):
    (column,) = element.clauses
    return f"CAST(EXTRACT(YEAR FROM ({compiler.process(column, **kw)} AT TIME ZONE 'UTC')) AS INTEGER)"


@compiles(days_between)
def _days_sqlite(element, compiler, **kw):
    later, earlier = element.clauses
    return f"(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"


@compiles(days_between, "postgresql")
def _days_pg(element, compiler, **kw):
    later, earlier = element.clauses
    return (f"CAST(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"
            " / 86400.0 AS DOUBLE PRECISION)")


def _count_if(condition):
    return sa.func.count(sa.case((condition, 1)))


def ratio(part: int, whole: int) -> Fraction | None:
    """``part / whole`` exactly, or None when there is nothing to divide by."""
    return Fraction(part, whole) if whole else None


# --- filters -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFilters:
    """Years (inclusive, either end open) and deliverables (none = all) a report covers."""

    year_from: int | None = None
    year_to: int | None = None
    deliverable_ids: tuple[int, ...] = ()

    def years_clauses(self, year_expr) -> list:
        clauses = []
        if self.year_from is not None:
            clauses.append(year_expr >= self.year_from)
        if self.year_to is not None:
            clauses.append(year_expr <= self.year_to)
        return clauses

    def deliverable_clauses(self, column) -> list:
        return [column.in_(self.deliverable_ids)] if self.deliverable_ids else []

    def year_range(self, found: set[int]) -> list[int]:
        """Every year from the first to the last (the filter's ends, or else the data's), gaps included:
        a series over time shows the years without anything as zeros."""
        low = self.year_from if self.year_from is not None else min(found, default=None)
        high = self.year_to if self.year_to is not None else max(found, default=None)
        if low is None or high is None:
            return sorted(found)
        return list(range(low, high + 1))

    def query_args(self) -> dict:
        """The filters as URL query arguments (for links to the exports)."""
        args: dict = {}
        if self.year_from is not None:
            args["from"] = self.year_from
        if self.year_to is not None:
            args["to"] = self.year_to
        if self.deliverable_ids:
            args["deliverable"] = list(self.deliverable_ids)
        return args

    @property
    def is_empty(self) -> bool:
        return self.year_from is None and self.year_to is None and not self.deliverable_ids


def parse_year(raw: str | None) -> tuple[int | None, bool]:
    """(year, True) for a year in range, (None, True) for nothing given, (None, False) for anything else."""
    raw = (raw or "").strip()
    if not raw:
        return None, True
    try:
        year = int(raw)
    except ValueError:
        return None, False
    return (year, True) if MIN_YEAR <= year <= MAX_YEAR else (None, False)


def parse_filters(args, known_deliverables: set[int] | None = None) -> tuple[ReportFilters, list[str]]:
    """ReportFilters from query arguments ``from``, ``to`` and ``deliverable`` (repeated).

    Bad input never fails: what cannot be read is left out and named in the returned problems (codes
    ``year_from``, ``year_to``, ``deliverable``, ``swapped``), so the page can say what it ignored.
    """
    problems: list[str] = []
    year_from, ok = parse_year(args.get("from"))
    if not ok:
        problems.append("year_from")
    year_to, ok = parse_year(args.get("to"))
    if not ok:
        problems.append("year_to")
    if year_from is not None and year_to is not None and year_from > year_to:
        year_from, year_to = year_to, year_from
        problems.append("swapped")
    ids: list[int] = []
    bad_deliverable = False
    getlist = getattr(args, "getlist", None)
    raw_ids = getlist("deliverable") if getlist else ([args["deliverable"]] if args.get("deliverable") else [])
    for raw in raw_ids:
        raw = (raw or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or (known_deliverables is not None and int(raw) not in known_deliverables):
            bad_deliverable = True
            continue
        if int(raw) not in ids:
            ids.append(int(raw))
    if bad_deliverable:
        problems.append("deliverable")
    return ReportFilters(year_from, year_to, tuple(sorted(ids))), problems


# --- involvement ---------------------------------------------------------------------------------------------
#: The measures of involvement, in funnel order.
INVOLVEMENT_MEASURES = ("invited", "accepted", "declined", "candidates", "endorsed", "submitted", "selected")


@dataclass
class InvolvementRow:
    """The figures of one deliverable in one year (or, with ``year`` None, of a whole period)."""

    year: int | None
    deliverable_id: int | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVOLVEMENT_MEASURES, 0))
    #: role code → experts selected for it
    roles: dict[str, int] = field(default_factory=dict)
    #: Distinct experts (filled on the per-year and total rows only).
    experts_involved: int = 0
    experts_selected: int = 0

    @property
    def rate(self) -> Fraction | None:
        return ratio(self.counts["selected"], self.counts["submitted"])

    def add(self, other: InvolvementRow) -> None:
        for key, value in other.counts.items():
            self.counts[key] += value
        for role, value in other.roles.items():
            self.roles[role] = self.roles.get(role, 0) + value


@dataclass
class Involvement:
    #: Per deliverable and year, by year then deliverable id (None last).
    rows: list[InvolvementRow]
    #: Per year over the deliverables, every year of the range (zeros included).
    years: list[InvolvementRow]
    #: The whole period.
    total: InvolvementRow
    #: Role codes selected at least once in the period, in no particular order (content.py orders them).
    roles: list[str]
    #: The registry's history: {year: {role code: roles taken up}}, every year of the range.
    history: dict[int, dict[str, int]]
    history_roles: list[str]
    #: Deliverable id → short name, for the deliverables in ``rows``.
    deliverables: dict[int, str]


def _call_year():
    from focalpoint.nominations.models import NominationCall

    return year_of_date(NominationCall.national_deadline)


def _call_clauses(filters: ReportFilters) -> list:
    from focalpoint.nominations.models import NominationCall

    return filters.years_clauses(_call_year()) + filters.deliverable_clauses(NominationCall.deliverable_id)


def involvement(filters: ReportFilters) -> Involvement:
    """Invitations, slates and selections per deliverable and year (6 queries)."""
    from focalpoint.experts.models import PastRole
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import Nomination, NominationCall, NominationState
    from focalpoint.reference.models import Deliverable

    session = db.session
    year = _call_year()
    where = _call_clauses(filters)
    rows: dict[tuple[int, int | None], InvolvementRow] = {}

    def row(y: int, deliverable_id: int | None) -> InvolvementRow:
        key = (y, deliverable_id)
        if key not in rows:
            rows[key] = InvolvementRow(y, deliverable_id)
        return rows[key]

    # Each table is first aggregated per call (its rows come in call order from the call_id index, so no
    # sort of the whole table), only for the calls the filters keep; the few rows per call are then added
    # up per year and deliverable.
    calls = sa.select(NominationCall.id).where(*where)
    per_call = (sa.select(Invitation.call_id.label("call_id"), sa.func.count(Invitation.id).label("invited"),
                          _count_if(Invitation.state == InvitationState.ACCEPTED).label("accepted"),
                          _count_if(Invitation.state == InvitationState.DECLINED).label("declined"))
                .where(Invitation.call_id.in_(calls)).group_by(Invitation.call_id).subquery("per_call"))
    invitations = (sa.select(year, NominationCall.deliverable_id, sa.func.sum(per_call.c.invited),
                             sa.func.sum(per_call.c.accepted), sa.func.sum(per_call.c.declined))
                   .select_from(per_call).join(NominationCall, NominationCall.id == per_call.c.call_id)
                   .group_by(year, NominationCall.deliverable_id))
    for y, did, invited, accepted, declined in session.execute(invitations):
        counts = row(y, did).counts
        counts["invited"], counts["accepted"], counts["declined"] = int(invited), int(accepted), int(declined)

    S = NominationState
    endorsed = (S.ENDORSED, S.SUBMITTED, S.SELECTED, S.NOT_SELECTED)
    submitted = (S.SUBMITTED, S.SELECTED, S.NOT_SELECTED)
    per_call = (sa.select(Nomination.call_id.label("call_id"),
                          _count_if(Nomination.state != S.WITHDRAWN).label("candidates"),
                          _count_if(Nomination.state.in_(endorsed)).label("endorsed"),
                          _count_if(Nomination.state.in_(submitted)).label("submitted"),
                          _count_if(Nomination.state == S.SELECTED).label("selected"))
                .where(Nomination.call_id.in_(calls)).group_by(Nomination.call_id).subquery("per_call"))
    slates = (sa.select(year, NominationCall.deliverable_id, sa.func.sum(per_call.c.candidates),
                        sa.func.sum(per_call.c.endorsed), sa.func.sum(per_call.c.submitted),
                        sa.func.sum(per_call.c.selected))
              .select_from(per_call).join(NominationCall, NominationCall.id == per_call.c.call_id)
              .group_by(year, NominationCall.deliverable_id))
    for y, did, candidates, n_endorsed, n_submitted, selected in session.execute(slates):
        counts = row(y, did).counts
        counts["candidates"], counts["endorsed"] = int(candidates), int(n_endorsed)
        counts["submitted"], counts["selected"] = int(n_submitted), int(selected)

    by_role = (sa.select(year, NominationCall.deliverable_id, Nomination.selected_role, sa.func.count(Nomination.id))
               .select_from(Nomination).join(NominationCall, NominationCall.id == Nomination.call_id)
               .where(Nomination.state == S.SELECTED, *where)
               .group_by(year, NominationCall.deliverable_id, Nomination.selected_role))
    roles: set[str] = set()
    for y, did, role, count in session.execute(by_role):
        row(y, did).roles[role] = count
        roles.add(role)

    # Distinct experts: an expert invited and then selected, or on two calls of a year, counts once. The
    # experts involved are those invited plus those on a slate without any invitation in the same period
    # (|A ∪ B| = |A| + |B \ A|): COUNT(DISTINCT) runs over the invitations alone (through the covering
    # (call_id, expert_id) index), and the slate only adds the few who came forward or were added by hand.
    # One SELECT per year that has data (known from the queries above), so that no table is sorted by a
    # computed year; and one for the whole period. All in one statement.
    other_invitation = aliased(Invitation)

    def measures(key, call_ids):
        def among(column) -> list:
            return [column.in_(call_ids)] if call_ids is not None else []

        invited = sa.select(sa.literal("invited"), key, sa.func.count(sa.distinct(Invitation.expert_id))) \
            .where(*among(Invitation.call_id))
        slate_only = sa.select(sa.literal("slate_only"), key, sa.func.count(sa.distinct(Nomination.expert_id))) \
            .where(Nomination.state != S.WITHDRAWN, *among(Nomination.call_id),
                   ~sa.exists().where(other_invitation.call_id == Nomination.call_id,
                                      other_invitation.expert_id == Nomination.expert_id),
                   ~sa.exists().where(other_invitation.expert_id == Nomination.expert_id,
                                      *among(other_invitation.call_id)))
        chosen = sa.select(sa.literal("selected"), key, sa.func.count(sa.distinct(Nomination.expert_id))) \
            .where(Nomination.state == S.SELECTED, *among(Nomination.call_id))
        return [invited, slate_only, chosen]

    def everyone():
        from focalpoint.experts.models import Expert

        key = sa.cast(sa.null(), sa.Integer)
        invited = sa.exists().where(Invitation.expert_id == Expert.id)
        on_slate = sa.exists().where(Nomination.expert_id == Expert.id, Nomination.state != S.WITHDRAWN)
        return [sa.select(sa.literal(kind), key, sa.func.count(Expert.id)).where(condition) for kind, condition in
                (("invited", invited), ("slate_only", sa.and_(~invited, on_slate)))] + measures(key, None)[2:]

    if filters.is_empty:
        # Every call counts: the whole period's distinct experts are read from the registry, one index probe
        # per expert (no distinct set of 100,000 invitations to build).
        parts = everyone()
    else:
        parts = measures(sa.cast(sa.null(), sa.Integer), calls)
    for y in sorted({y for (y, _did) in rows}):
        parts += measures(sa.cast(sa.literal(y), sa.Integer), sa.select(NominationCall.id).where(*where, year == y))
    experts: dict[int | None, dict[str, int]] = {}
    for kind, y, n in session.execute(sa.union_all(*parts)):
        experts.setdefault(y, {"invited": 0, "slate_only": 0, "selected": 0})[kind] = n
    experts_per_year = {y: (m["invited"] + m["slate_only"], m["selected"]) for y, m in experts.items()
                        if y is not None}
    total = experts[None]
    total_involved, total_selected = total["invited"] + total["slate_only"], total["selected"]

    history_year = PastRole.year_from
    history_stmt = (sa.select(history_year, PastRole.role, sa.func.count(PastRole.id))
                    .where(history_year.isnot(None), *filters.years_clauses(history_year),
                           *filters.deliverable_clauses(PastRole.deliverable_id))
                    .group_by(history_year, PastRole.role))
    history_found: dict[int, dict[str, int]] = {}
    history_roles: set[str] = set()
    for y, role, count in session.execute(history_stmt):
        history_found.setdefault(y, {})[role] = count
        history_roles.add(role)

    ids = sorted({did for (_y, did) in rows if did is not None})
    names = dict(session.execute(sa.select(Deliverable.id, Deliverable.short_name)
                                 .where(Deliverable.id.in_(ids))).all())

    ordered = sorted(rows.values(), key=lambda r: (r.year, r.deliverable_id is None,
                                                   (names.get(r.deliverable_id) or "").lower(), r.deliverable_id or 0))
    per_year: dict[int, InvolvementRow] = {}
    for r in ordered:
        per_year.setdefault(r.year, InvolvementRow(r.year, None)).add(r)
    years = []
    for y in filters.year_range(set(per_year) | set(experts_per_year)):
        yr = per_year.get(y) or InvolvementRow(y, None)
        yr.experts_involved, yr.experts_selected = experts_per_year.get(y, (0, 0))
        years.append(yr)
    total = InvolvementRow(None, None)
    for yr in years:
        total.add(yr)
    total.experts_involved, total.experts_selected = total_involved or 0, total_selected or 0
    history = {y: history_found.get(y, {}) for y in filters.year_range(set(history_found))}
    return Involvement(rows=ordered, years=years, total=total, roles=sorted(roles), history=history,
                       history_roles=sorted(history_roles), deliverables=names)


# --- balance -------------------------------------------------------------------------------------------------
@dataclass
class BalanceCell:
    count: int
    total: int

    @property
    def share(self) -> Fraction | None:
        return ratio(self.count, self.total)


@dataclass
class Balance:
    """Distinct experts per dimension and category: in the registry, and per year among candidates and
    among those selected.

    ``registry[dim][category]``, ``candidates[year][dim][category]``, ``selected[year][dim][category]`` are
    counts; ``totals`` hold the number of experts of each population (the denominators). Disciplines are
    several per expert, so their counts may add up to more than the total.
    """

    years: list[int]
    registry: dict[str, dict[str, int]]
    registry_total: int
    candidates: dict[int, dict[str, dict[str, int]]]
    selected: dict[int, dict[str, dict[str, int]]]
    candidates_total: dict[int, int]
    selected_total: dict[int, int]
    #: Categories met in the data per dimension (codes; content.py orders them with the labels).
    categories: dict[str, set[str]]


def _disciplines():
    """(expert id, discipline code) of every expert's disciplines."""
    from focalpoint.experts.models import expert_terms
    from focalpoint.reference.models import ReferenceTerm

    return (sa.select(expert_terms.c.expert_id.label("expert_id"), ReferenceTerm.code.label("code"))
            .join(ReferenceTerm, ReferenceTerm.id == expert_terms.c.term_id)
            .where(ReferenceTerm.vocabulary == "discipline").subquery("disciplines"))


def _category_rows(source, expert_id, extra_columns: list, group: list) -> sa.Select:
    """UNION ALL of two aggregates over ``source``: one row per combination of gender, region, career stage
    and ILK ("combo"), and one per discipline ("discipline"), each with ``extra_columns``.

    A NULL category is "not stated" (mapped in Python): GROUP BY then holds plain columns and no bound
    parameter, as PostgreSQL needs the same expression in the select list and in GROUP BY.
    """
    from focalpoint.experts.models import Expert, expert_terms
    from focalpoint.reference.models import ReferenceTerm

    disciplines = _disciplines()
    ilk_term = (sa.select(ReferenceTerm.id).where(ReferenceTerm.vocabulary == "discipline", ReferenceTerm.code == "ilk")
                .scalar_subquery())
    ilk = expert_terms.alias("ilk")  # joined on its primary key (expert_id, term_id): one lookup per expert
    text = sa.String
    gender, stage = sa.type_coerce(Expert.gender, text), sa.type_coerce(Expert.career_stage, text)
    not_ilk = ilk.c.expert_id.is_(None)
    combos = (sa.select(sa.literal("combo").label("kind"), *group, gender.label("gender"), Expert.region.label("region"),
                        stage.label("career_stage"), not_ilk.label("not_ilk"), sa.null().label("code"), *extra_columns)
              .select_from(source).join(Expert, Expert.id == expert_id)
              .outerjoin(ilk, sa.and_(ilk.c.expert_id == Expert.id, ilk.c.term_id == ilk_term))
              .group_by(*group, Expert.gender, Expert.region, Expert.career_stage, not_ilk))
    per_discipline = (sa.select(sa.literal("discipline"), *group, sa.null(), sa.null(), sa.null(), sa.null(),
                                disciplines.c.code, *extra_columns)
                      .select_from(source).outerjoin(disciplines, disciplines.c.expert_id == expert_id)
                      .group_by(*group, disciplines.c.code))
    return sa.union_all(combos, per_discipline)


def balance(filters: ReportFilters) -> Balance:
    """Balance of candidates and selected experts per year against the registry (3 queries).

    The years of the calls come first; the slate is reduced to distinct (year, expert, selected or not) by the
    database, year by year; then one row
    per combination of gender, region, career stage and ILK comes back (at most years × 5 × 6 × 4 × 2 rows,
    whatever the number of experts) and one per discipline, which are summed per dimension here.
    """
    from focalpoint.experts.models import Expert, ExpertStatus
    from focalpoint.nominations.models import Nomination, NominationCall, NominationState

    session = db.session
    year = _call_year()
    where = _call_clauses(filters)
    years_found = session.scalars(sa.select(year).where(*where).distinct()).all()
    is_selected = sa.case((Nomination.state == NominationState.SELECTED, 1), else_=0)
    # Distinct (year, expert, selected) with one SELECT per year (over that year's calls), so that no table
    # is sorted by a computed year; an empty SELECT when there is no year, to keep the statement's shape.
    parts = [sa.select(sa.cast(sa.null(), sa.Integer).label("year"), Nomination.expert_id.label("expert_id"),
                       sa.literal(0).label("selected")).where(sa.false())]
    # "expert_id + 0": grouping by an expression, so that SQLite reads the year's rows through the call_id
    # index and sorts those few, rather than walking the whole expert_id index once per year.
    expert = (Nomination.expert_id + sa.literal_column("0"))
    for y in sorted(years_found):
        parts.append(sa.select(sa.cast(sa.literal(y), sa.Integer), expert, sa.func.max(is_selected))
                     .where(Nomination.state != NominationState.WITHDRAWN,
                            Nomination.call_id.in_(sa.select(NominationCall.id).where(*where, year == y)))
                     .group_by(expert))
    slate = sa.union_all(*parts).cte("slate")
    slate_rows = _category_rows(slate, slate.c.expert_id,
                                [sa.func.count().label("experts"), sa.func.sum(slate.c.selected).label("selected")],
                                [slate.c.year])
    registry_source = (sa.select(Expert.id.label("expert_id"))
                       .where(Expert.status == ExpertStatus.ACTIVE, Expert.merged_into_id.is_(None))
                       .subquery("registry"))
    registry_rows = _category_rows(registry_source, registry_source.c.expert_id,
                                   [sa.func.count().label("experts")], [])

    candidates: dict[int, dict[str, dict[str, int]]] = {}
    selected: dict[int, dict[str, dict[str, int]]] = {}
    candidates_total: dict[int, int] = {}
    selected_total: dict[int, int] = {}
    categories: dict[str, set[str]] = {dim: set() for dim in BALANCE_DIMENSIONS}

    def add(target: dict, dim: str, category: str | None, n: int) -> None:
        key = category or NOT_STATED
        target.setdefault(dim, {})
        target[dim][key] = target[dim].get(key, 0) + n
        categories[dim].add(key)

    for kind, y, gender, region, stage, not_ilk, code, n, n_selected in session.execute(slate_rows):
        n, n_selected = int(n), int(n_selected or 0)
        people, chosen = candidates.setdefault(y, {}), selected.setdefault(y, {})
        if kind == "combo":
            candidates_total[y] = candidates_total.get(y, 0) + n
            selected_total[y] = selected_total.get(y, 0) + n_selected
            values = {"gender": gender, "region": region, "career_stage": stage, "ilk": "no" if not_ilk else "yes"}
        else:
            values = {"discipline": code}
        for dim, category in values.items():
            add(people, dim, category, n)
            if n_selected:
                add(chosen, dim, category, n_selected)
    registry: dict[str, dict[str, int]] = {}
    registry_total = 0
    for kind, gender, region, stage, not_ilk, code, n in session.execute(registry_rows):
        if kind == "combo":
            registry_total += n
            values = {"gender": gender, "region": region, "career_stage": stage, "ilk": "no" if not_ilk else "yes"}
        else:
            values = {"discipline": code}
        for dim, category in values.items():
            add(registry, dim, category, n)
    selected = {y: dims for y, dims in selected.items() if dims}
    for dim in BALANCE_DIMENSIONS:
        registry.setdefault(dim, {})
    years = filters.year_range(set(candidates_total))
    return Balance(years=years, registry=registry, registry_total=registry_total, candidates=candidates,
                   selected=selected, candidates_total={y: candidates_total.get(y, 0) for y in years},
                   selected_total={y: selected_total.get(y, 0) for y in years}, categories=categories)


# --- consultations -------------------------------------------------------------------------------------------
#: Outcomes of a comment, for the counts (see the module's docstring).
COMMENT_OUTCOMES = ("adopted", "rejected", "undecided")
#: The raw decisions counted besides.
COMMENT_DECISIONS = ("adopt", "adopt_edited", "merge", "reject")


@dataclass
class ConsultationRow:
    draft: str | None
    year: int | None
    consultations: int = 0
    participants: int = 0
    commenters: int = 0
    comments: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMENT_DECISIONS, 0))
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMENT_OUTCOMES, 0))

    @property
    def share_adopted(self) -> Fraction | None:
        return ratio(self.outcomes["adopted"], self.outcomes["adopted"] + self.outcomes["rejected"])

    def add(self, other: ConsultationRow) -> None:
        self.consultations += other.consultations
        self.participants += other.participants
        self.comments += other.comments
        for key, value in other.decisions.items():
            self.decisions[key] += value
        for key, value in other.outcomes.items():
            self.outcomes[key] += value


@dataclass
class Consultations:
    #: Per draft kind and year (by year, then in DraftKind order).
    rows: list[ConsultationRow]
    #: Per draft kind over the period (DraftKind order; kinds without any consultation left out).
    drafts: list[ConsultationRow]
    #: Per year over the draft kinds (every year of the range).
    years: list[ConsultationRow]
    total: ConsultationRow


def consultations(filters: ReportFilters) -> Consultations:
    """Comments per draft kind and year, and what consolidation made of them (3 queries)."""
    from focalpoint.consultations.models import Consultation, Decision, DraftKind, Participant, ReviewComment

    session = db.session
    year = year_of_date(Consultation.closes_on)
    where = filters.years_clauses(year) + filters.deliverable_clauses(Consultation.deliverable_id)
    draft = sa.type_coerce(Consultation.draft, sa.String)
    comment, target = ReviewComment, aliased(ReviewComment)
    adopting = (Decision.ADOPT, Decision.ADOPT_EDITED)
    adopted = sa.or_(comment.decision.in_(adopting),
                     sa.and_(comment.decision == Decision.MERGE, target.decision.in_(adopting)))
    rejected = sa.or_(comment.decision == Decision.REJECT,
                      sa.and_(comment.decision == Decision.MERGE, target.decision == Decision.REJECT))
    stmt = (sa.select(draft, year, sa.func.count(sa.distinct(Consultation.id)), sa.func.count(comment.id),
                      sa.func.count(sa.distinct(comment.expert_id)),
                      *[_count_if(comment.decision == Decision(d)) for d in COMMENT_DECISIONS],
                      _count_if(adopted), _count_if(rejected))
            .select_from(Consultation)
            .outerjoin(comment, comment.consultation_id == Consultation.id)
            .outerjoin(target, target.id == comment.merged_into_id)
            .where(*where).group_by(draft, year))
    rows: dict[tuple[str, int], ConsultationRow] = {}
    for kind, y, n_consultations, n_comments, commenters, *counts in session.execute(stmt):
        r = rows[(kind, y)] = ConsultationRow(kind, y, consultations=n_consultations, comments=n_comments,
                                              commenters=commenters)
        r.decisions = dict(zip(COMMENT_DECISIONS, counts[:4]))
        n_adopted, n_rejected = counts[4:]
        r.outcomes = {"adopted": n_adopted, "rejected": n_rejected, "undecided": n_comments - n_adopted - n_rejected}
    participants = (sa.select(draft, year, sa.func.count(Participant.id))
                    .select_from(Participant).join(Consultation, Consultation.id == Participant.consultation_id)
                    .where(Participant.removed_at.is_(None), *where).group_by(draft, year))
    for kind, y, n in session.execute(participants):
        rows.setdefault((kind, y), ConsultationRow(kind, y)).participants = n
    # Distinct commenters over a draft kind, a year, or the period are not sums: one query with all three.
    commenter = comment.expert_id
    base = sa.select(draft.label("draft"), year.label("year"), commenter.label("expert_id")).select_from(comment) \
        .join(Consultation, Consultation.id == comment.consultation_id).where(commenter.isnot(None), *where).subquery()
    distinct = sa.union_all(
        sa.select(sa.literal("draft"), base.c.draft, sa.null(), sa.func.count(sa.distinct(base.c.expert_id)))
        .group_by(base.c.draft),
        sa.select(sa.literal("year"), sa.null(), base.c.year, sa.func.count(sa.distinct(base.c.expert_id)))
        .group_by(base.c.year),
        sa.select(sa.literal("total"), sa.null(), sa.null(), sa.func.count(sa.distinct(base.c.expert_id))))
    order = [k.value for k in DraftKind]
    drafts = {k: ConsultationRow(k, None) for k in order}
    per_year: dict[int, ConsultationRow] = {}
    ordered = sorted(rows.values(), key=lambda r: (r.year, order.index(r.draft) if r.draft in order else 99))
    for r in ordered:
        drafts.setdefault(r.draft, ConsultationRow(r.draft, None)).add(r)
        per_year.setdefault(r.year, ConsultationRow(None, r.year)).add(r)
    years = [per_year.get(y) or ConsultationRow(None, y) for y in filters.year_range(set(per_year))]
    total = ConsultationRow(None, None)
    for r in ordered:
        total.add(r)
    for level, kind, y, n in session.execute(distinct):
        if level == "draft" and kind in drafts:
            drafts[kind].commenters = n
        elif level == "year" and y in per_year:
            per_year[y].commenters = n
        elif level == "total":
            total.commenters = n
    return Consultations(rows=ordered, drafts=[r for r in drafts.values() if r.consultations], years=years,
                         total=total)


# --- positions -----------------------------------------------------------------------------------------------
@dataclass
class ClearanceRow:
    administration_id: int | None
    name: str
    code: str
    requests: int = 0
    cleared: int = 0
    objected: int = 0
    #: Days from the request to the clearance that stands (cleared requests only).
    median_days: float | None = None
    mean_days: float | None = None

    @property
    def awaiting(self) -> int:
        return self.requests - self.cleared - self.objected


@dataclass
class Positions:
    #: One row per administration (active ones, and inactive ones with requests in the period), by name.
    rows: list[ClearanceRow]
    total: ClearanceRow


def _days(value) -> float | None:
    # Rounded to a second or so: julianday() arithmetic leaves 1.2499999… where 1.25 days passed.
    return round(float(value), 5) if value is not None else None


def positions(filters: ReportFilters) -> Positions:
    """Time from review request to clearance per administration, median and mean (4 queries).

    The median is computed by the database too (window functions: the middle one or two of each
    administration's ordered durations), so no duration is read row by row.
    """
    from focalpoint.auth.models import Administration
    from focalpoint.positions.models import Clearance, ClearanceDecision, ReviewRequest

    session = db.session
    request = ReviewRequest
    latest = (sa.select(Clearance.request_id.label("request_id"), sa.func.max(Clearance.id).label("clearance_id"))
              .group_by(Clearance.request_id).subquery("latest"))
    standing = aliased(Clearance)
    days = days_between(standing.created_at, request.requested_at)
    requests = (sa.select(request.id.label("request_id"), request.administration_id.label("administration_id"),
                          sa.type_coerce(standing.decision, sa.String).label("decision"), days.label("days"))
                .select_from(request)
                .outerjoin(latest, latest.c.request_id == request.id)
                .outerjoin(standing, standing.id == latest.c.clearance_id)
                .where(request.withdrawn_at.is_(None), *filters.years_clauses(year_of_utc(request.requested_at)))
                .subquery("requests"))
    cleared = requests.c.decision == ClearanceDecision.CLEARED.value
    per_admin = (sa.select(Administration.id, Administration.name, Administration.code, Administration.is_active,
                           sa.func.count(requests.c.request_id), _count_if(cleared),
                           _count_if(requests.c.decision == ClearanceDecision.OBJECTED.value),
                           sa.func.avg(sa.case((cleared, requests.c.days))))
                 .select_from(Administration)
                 .outerjoin(requests, requests.c.administration_id == Administration.id)
                 .group_by(Administration.id, Administration.name, Administration.code, Administration.is_active))
    rows: dict[int, ClearanceRow] = {}
    for aid, name, code, active, n, n_cleared, n_objected, mean in session.execute(per_admin):
        if active or n:
            rows[aid] = ClearanceRow(aid, name, code, n, n_cleared, n_objected,
                                     mean_days=_days(mean))

    def medians(partition):
        durations = sa.select(requests.c.administration_id.label("administration_id"), requests.c.days.label("days"))\
            .where(cleared).subquery("durations")
        part = durations.c.administration_id if partition else None
        ranked = sa.select(durations.c.administration_id, durations.c.days,
                           sa.func.row_number().over(partition_by=part, order_by=durations.c.days).label("n"),
                           sa.func.count().over(partition_by=part).label("size")).subquery("ranked")
        middle = sa.or_(ranked.c.n == (ranked.c.size + 1) // 2, ranked.c.n == (ranked.c.size + 2) // 2)
        group = [ranked.c.administration_id] if partition else []
        return sa.select(*group, sa.func.avg(ranked.c.days)).where(middle).group_by(*group)

    for aid, median in session.execute(medians(True)):
        if aid in rows:
            rows[aid].median_days = _days(median)
    total = ClearanceRow(None, "", "")
    for r in rows.values():
        total.requests += r.requests
        total.cleared += r.cleared
        total.objected += r.objected
    overall = session.execute(
        sa.select(sa.func.avg(requests.c.days)).where(cleared)
    ).scalar()
    total.mean_days = _days(overall)
    median = session.execute(medians(False)).scalar()
    total.median_days = _days(median)
    return Positions(rows=sorted(rows.values(), key=lambda r: r.name.lower()), total=total)


def deliverable_choices() -> list[tuple[int, str]]:
    """(id, short name) of every deliverable, for the filter (1 query)."""
    from focalpoint.reference.models import Deliverable

    return [(did, name) for did, name in db.session.execute(
        sa.select(Deliverable.id, Deliverable.short_name).order_by(Deliverable.short_name))]


def today() -> dt.date:
    from focalpoint.i18n import local_today

    return local_today()
