"""Plenary sessions, their agenda items and documents: the actions, the checks and the figures.

Services flush and never commit; the request or command that calls them commits. Every refusal is a
``PlenaryError`` whose message is shown as is (``field`` says which form field it belongs to).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from focalpoint.audit import log_action
from focalpoint.extensions import db
from focalpoint.positions.models import (AgendaItem, Clearance, NoteStatus, PositionNote, ReviewRequest,
                                         SessionDocument, note_documents)
from focalpoint.reference.models import PlenarySession


class PlenaryError(ValueError):
    """A user-facing refusal (the message is shown as is)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- session codes, item numbers, document symbols ---------------------------------------------------
_CODE_RE = re.compile(r"^\s*IPBES\s*[-\u2010-\u2014]?\s*0*(\d{1,3})\s*$", re.I)
CODE_PATTERN = r"^IPBES-\d+$"


def normalise_code(value: str | None) -> str:
    """``ipbes 13``, ``IPBES13``, ``IPBES–13`` → ``IPBES-13``; anything else comes back stripped."""
    m = _CODE_RE.match(value or "")
    return f"IPBES-{int(m.group(1))}" if m else (value or "").strip()


def session_number(code: str) -> int | None:
    m = _CODE_RE.match(code or "")
    return int(m.group(1)) if m else None


_NUMBER_RE = re.compile(
    r"^(?:item\s+)?0*(\d{1,3})\s*(?:\(\s*([a-z]{1,4})\s*\))?\s*(?:\(\s*([a-z]{1,6})\s*\))?\s*[.:]?$", re.I)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50}


def normalise_number(value: str | None) -> str | None:
    """An agenda item number as the provisional agenda writes it: ``Item 7(b)`` → ``7 (b)``; None if not one."""
    m = _NUMBER_RE.match((value or "").strip())
    if not m:
        return None
    number, sub, subsub = m.groups()
    out = str(int(number))
    if sub:
        out += f" ({sub.lower()})"
    if subsub:
        out += f" ({subsub.lower()})"
    return out


def _roman(value: str) -> int:
    total, previous = 0, 0
    for ch in reversed(value):
        n = _ROMAN.get(ch, 0)
        if not n:
            return 0
        total += -n if n < previous else n
        previous = max(previous, n)
    return total


def natural_key(number: str) -> tuple:
    """Sort key of an agenda item number: "2" < "7" < "7 (a)" < "7 (b)" < "7 (b) (ii)" < "10"."""
    m = _NUMBER_RE.match(number or "")
    if not m:
        return (10 ** 6, "", 0, number or "")
    main, sub, subsub = m.groups()
    subsub = (subsub or "").lower()
    return (int(main), (sub or "").lower(), _roman(subsub) or 0, subsub)


_SYMBOL_RE = re.compile(r"^IPBES/0*(\d{1,3})/(INF/)?0*(\d{1,3})$")
SYMBOL_PATTERN = r"IPBES/\d+/(INF/)?\d+"


def normalise_symbol(value: str | None) -> str | None:
    """``ipbes/12/inf/04`` → ``IPBES/12/INF/4``; None when it is not a working or information document symbol."""
    compact = re.sub(r"\s+", "", value or "").upper()
    m = _SYMBOL_RE.match(compact)
    if not m:
        return None
    session, inf, number = m.groups()
    return f"IPBES/{int(session)}/{'INF/' if inf else ''}{int(number)}"


def document_position(symbol: str) -> int:
    """Working documents first (IPBES/12/1, /2 …), then information documents (IPBES/12/INF/1 …)."""
    m = _SYMBOL_RE.match(symbol)
    if not m:
        return 10 ** 6
    return (1000 if m.group(2) else 0) + int(m.group(3))


def is_web_link(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- sessions ----------------------------------------------------------------------------------------
def _check_session(session: PlenarySession | None, code: str, start_date, end_date) -> str:
    code = normalise_code(code)
    if not re.match(CODE_PATTERN, code):
        raise PlenaryError(_("A session code looks like IPBES-13."), "code")
    clash = db.session.scalar(sa.select(PlenarySession.id).where(
        PlenarySession.code == code, PlenarySession.id != (session.id if session is not None else 0)))
    if clash is not None:
        raise PlenaryError(_("The session %(code)s already exists.", code=code), "code")
    if end_date is not None and start_date is None:
        raise PlenaryError(_("Give the first day too."), "start_date")
    if start_date is not None and end_date is not None and end_date < start_date:
        raise PlenaryError(_("The last day cannot be before the first day."), "end_date")
    return code


def create_session(*, code: str, place: str = "", start_date: dt.date | None = None,
                   end_date: dt.date | None = None, notification=None, actor) -> PlenarySession:
    code = _check_session(None, code, start_date, end_date)
    session = PlenarySession(code=code, place=(place or "").strip()[:200], start_date=start_date,
                             end_date=end_date or start_date,
                             notification_id=notification.id if notification is not None else None)
    db.session.add(session)
    db.session.flush()
    log_action(session, "plenary.created", actor=actor,
               data={"code": code, "place": session.place, "start_date": start_date, "end_date": session.end_date,
                     "notification_id": session.notification_id})
    return session


def update_session(session: PlenarySession, *, code: str, place: str = "", start_date: dt.date | None = None,
                   end_date: dt.date | None = None, actor) -> bool:
    """Change a session; returns whether anything changed (the audit entry lists what)."""
    code = _check_session(session, code, start_date, end_date)
    values = {"code": code, "place": (place or "").strip()[:200], "start_date": start_date,
              "end_date": end_date or start_date}
    changes = {k: [getattr(session, k), v] for k, v in values.items() if getattr(session, k) != v}
    if not changes:
        return False
    for key, (_old, new) in changes.items():
        setattr(session, key, new)
    log_action(session, "plenary.updated", actor=actor, data=changes)
    db.session.flush()
    return True


def is_reference_session(session: PlenarySession) -> bool:
    from focalpoint.reference.services import reference_data

    return session.code in {s["code"] for s in reference_data()["plenary_sessions"]}


def delete_session(session: PlenarySession, *, actor) -> None:
    """Remove a session added by staff, with its agenda and documents; refused when it holds position notes."""
    if is_reference_session(session):
        raise PlenaryError(_("%(code)s comes with the application's reference data: it cannot be removed.",
                             code=session.code))
    notes = db.session.scalar(sa.select(sa.func.count(PositionNote.id)).join(PositionNote.agenda_item)
                              .where(AgendaItem.session_id == session.id))
    if notes:
        raise PlenaryError(_("%(code)s has position notes: it cannot be removed.", code=session.code))
    log_action(session, "plenary.deleted", actor=actor, data={"code": session.code})
    db.session.execute(sa.delete(SessionDocument).where(SessionDocument.session_id == session.id))
    db.session.execute(sa.delete(AgendaItem).where(AgendaItem.session_id == session.id))
    db.session.delete(session)
    db.session.flush()


# --- agenda items ------------------------------------------------------------------------------------
def _check_item(session: PlenarySession, item: AgendaItem | None, number: str, title: str) -> tuple[str, str]:
    normal = normalise_number(number)
    if normal is None:
        raise PlenaryError(_("An item number looks like 7 or 7 (b)."), "number")
    title = " ".join((title or "").split())
    if not title:
        raise PlenaryError(_("Give the item's title."), "title")
    if len(title) > 500:
        raise PlenaryError(_("At most %(n)d characters.", n=500), "title")
    clash = db.session.scalar(sa.select(AgendaItem.id).where(
        AgendaItem.session_id == session.id, AgendaItem.number == normal,
        AgendaItem.id != (item.id if item is not None else 0)))
    if clash is not None:
        raise PlenaryError(_("Item %(number)s is already on the agenda.", number=normal), "number")
    return normal, title


def _renumber(session_id: int) -> None:
    """Positions follow the natural order of the numbers ("7 (b)" before "10")."""
    items = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.session_id == session_id)).all()
    for position, item in enumerate(sorted(items, key=lambda i: natural_key(i.number)), start=1):
        if item.position != position:
            item.position = position


def add_agenda_item(session: PlenarySession, *, number: str, title: str, actor) -> AgendaItem:
    number, title = _check_item(session, None, number, title)
    item = AgendaItem(session_id=session.id, number=number, title=title)
    db.session.add(item)
    db.session.flush()
    _renumber(session.id)
    log_action(item, "agenda_item.created", actor=actor, data={"session": session.code, "number": number,
                                                               "title": title})
    db.session.flush()
    return item


def update_agenda_item(item: AgendaItem, *, number: str, title: str, actor) -> bool:
    number, title = _check_item(item.session, item, number, title)
    changes = {k: [getattr(item, k), v] for k, v in (("number", number), ("title", title)) if getattr(item, k) != v}
    if not changes:
        return False
    item.number, item.title = number, title
    db.session.flush()
    _renumber(item.session_id)
    log_action(item, "agenda_item.updated", actor=actor, data=changes)
    db.session.flush()
    return True


def note_of(item: AgendaItem) -> PositionNote | None:
    return db.session.scalar(sa.select(PositionNote).where(PositionNote.agenda_item_id == item.id))


def remove_agenda_item(item: AgendaItem, *, actor) -> None:
    """Take an item off the agenda (its documents stay, unattached); refused when it has a position note."""
    if note_of(item) is not None:
        raise PlenaryError(_("Item %(number)s has a position note: it cannot be removed.", number=item.number))
    session_id = item.session_id
    log_action(item, "agenda_item.deleted", actor=actor, data={"number": item.number, "title": item.title})
    db.session.execute(sa.update(SessionDocument).where(SessionDocument.agenda_item_id == item.id)
                       .values(agenda_item_id=None))
    db.session.delete(item)
    db.session.flush()
    _renumber(session_id)
    db.session.flush()


def add_agenda_items(session: PlenarySession, text: str, *, actor) -> list[AgendaItem]:
    """Several items pasted from the provisional agenda, one per line ("7 (b) Title" or "Item 7 (b): Title").

    All or nothing: the first bad line is refused with its number."""
    added = []
    for line_number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^((?:item\s+)?\d{1,3}(?:\s*\([a-z]{1,4}\))?(?:\s*\([a-z]{1,6}\))?)\s*[.:\-\u2013\u2014]?\s+(.+)$",
                     line, re.I)
        if not m:
            raise PlenaryError(_("Line %(n)d: start with the item number, then its title (7 (b) Title).",
                                 n=line_number), "lines")
        try:
            added.append(add_agenda_item(session, number=m.group(1), title=m.group(2), actor=actor))
        except PlenaryError as exc:
            raise PlenaryError(_("Line %(n)d: %(error)s", n=line_number, error=str(exc)), "lines") from None
    if not added:
        raise PlenaryError(_("Paste at least one agenda item."), "lines")
    return added


# --- documents ---------------------------------------------------------------------------------------
def _check_document(session: PlenarySession, document: SessionDocument | None, symbol: str, title: str, url: str,
                    agenda_item_id: int | None) -> dict:
    normal = normalise_symbol(symbol)
    if normal is None:
        raise PlenaryError(_("A document symbol looks like IPBES/12/3 (working document) or IPBES/12/INF/4 "
                             "(information document)."), "symbol")
    number = session_number(session.code)
    if number is not None and not normal.startswith(f"IPBES/{number}/"):
        raise PlenaryError(_("The documents of %(code)s have symbols starting with IPBES/%(n)d/.",
                             code=session.code, n=number), "symbol")
    clash = db.session.scalar(sa.select(SessionDocument.id).where(
        SessionDocument.session_id == session.id, SessionDocument.symbol == normal,
        SessionDocument.id != (document.id if document is not None else 0)))
    if clash is not None:
        raise PlenaryError(_("%(symbol)s is already in the list.", symbol=normal), "symbol")
    title = " ".join((title or "").split())
    if not title:
        raise PlenaryError(_("Give the document's title."), "title")
    if len(title) > 500:
        raise PlenaryError(_("At most %(n)d characters.", n=500), "title")
    url = (url or "").strip()
    if url and (len(url) > 1000 or not is_web_link(url)):
        raise PlenaryError(_("The link must be a web address starting with http:// or https://."), "url")
    if agenda_item_id:
        owner = db.session.scalar(sa.select(AgendaItem.session_id).where(AgendaItem.id == agenda_item_id))
        if owner != session.id:
            raise PlenaryError(_("Choose an item of this session's agenda."), "agenda_item_id")
    return {"symbol": normal, "title": title, "url": url, "agenda_item_id": agenda_item_id or None,
            "position": document_position(normal)}


def add_document(session: PlenarySession, *, symbol: str, title: str, url: str = "",
                 agenda_item_id: int | None = None, actor) -> SessionDocument:
    values = _check_document(session, None, symbol, title, url, agenda_item_id)
    document = SessionDocument(session_id=session.id, **values)
    db.session.add(document)
    db.session.flush()
    log_action(document, "plenary_document.created", actor=actor, data={"session": session.code, **values})
    return document


def update_document(document: SessionDocument, *, symbol: str, title: str, url: str = "",
                    agenda_item_id: int | None = None, actor) -> bool:
    session = db.session.get(PlenarySession, document.session_id)
    values = _check_document(session, document, symbol, title, url, agenda_item_id)
    changes = {k: [getattr(document, k), v] for k, v in values.items()
               if k != "position" and getattr(document, k) != v}
    if not changes:
        return False
    for key, value in values.items():
        setattr(document, key, value)
    log_action(document, "plenary_document.updated", actor=actor, data=changes)
    db.session.flush()
    return True


def remove_document(document: SessionDocument, *, actor) -> None:
    """Remove a document from the session; refused while an approved (locked) note cites it."""
    locked = db.session.scalar(
        sa.select(sa.func.count()).select_from(note_documents)
        .join(PositionNote, PositionNote.id == note_documents.c.note_id)
        .where(note_documents.c.document_id == document.id, PositionNote.status == NoteStatus.APPROVED))
    if locked:
        raise PlenaryError(_("%(symbol)s is linked to an approved position note: reopen the note first.",
                             symbol=document.symbol))
    log_action(document, "plenary_document.deleted", actor=actor,
               data={"symbol": document.symbol, "title": document.title})
    db.session.delete(document)
    db.session.flush()


# --- reading a session -------------------------------------------------------------------------------
def count_columns():
    """Correlated counts per session: agenda items, notes and approved notes (one query for a whole page)."""
    items = (sa.select(sa.func.count(AgendaItem.id)).where(AgendaItem.session_id == PlenarySession.id)
             .correlate(PlenarySession).scalar_subquery().label("items"))
    notes = (sa.select(sa.func.count(PositionNote.id)).join(AgendaItem, PositionNote.agenda_item_id == AgendaItem.id)
             .where(AgendaItem.session_id == PlenarySession.id).correlate(PlenarySession).scalar_subquery()
             .label("notes"))
    approved = (sa.select(sa.func.count(PositionNote.id))
                .join(AgendaItem, PositionNote.agenda_item_id == AgendaItem.id)
                .where(AgendaItem.session_id == PlenarySession.id, PositionNote.status == NoteStatus.APPROVED)
                .correlate(PlenarySession).scalar_subquery().label("approved"))
    return items, notes, approved


def agenda(session: PlenarySession) -> list[AgendaItem]:
    items = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.session_id == session.id)
                               .order_by(AgendaItem.position, AgendaItem.id)).all()
    # The stored position follows the natural order; sort again in case rows came from elsewhere.
    return sorted(items, key=lambda i: (natural_key(i.number), i.id))


def documents(session: PlenarySession) -> list[SessionDocument]:
    return db.session.scalars(sa.select(SessionDocument).where(SessionDocument.session_id == session.id)
                              .order_by(SessionDocument.position, SessionDocument.symbol)).all()


def notes_by_item(items: list[AgendaItem]) -> dict[int, PositionNote]:
    ids = [i.id for i in items]
    if not ids:
        return {}
    return {n.agenda_item_id: n for n in db.session.scalars(
        sa.select(PositionNote).where(PositionNote.agenda_item_id.in_(ids))).unique()}


def session_rows(sessions=None) -> list[dict]:
    """Every session (or the given ones) with its figures, newest first: the command line's ``plenary list``."""
    items, notes, approved = count_columns()
    stmt = sa.select(PlenarySession, items, notes, approved)
    if sessions is not None:
        stmt = stmt.where(PlenarySession.id.in_([s.id for s in sessions]))
    rows = db.session.execute(stmt.order_by(PlenarySession.start_date.desc().nulls_last(),
                                            PlenarySession.id.desc())).all()
    return [{"id": s.id, "code": s.code, "place": s.place, "start": s.start_date.isoformat() if s.start_date else None,
             "end": s.end_date.isoformat() if s.end_date else None, "items": n_items, "notes": n_notes,
             "approved": n_approved} for s, n_items, n_notes, n_approved in rows]


def upcoming_sessions(today: dt.date, limit: int = 5) -> list[PlenarySession]:
    """Sessions not over yet, the nearest first (the dashboard)."""
    return db.session.scalars(
        sa.select(PlenarySession).where(sa.func.coalesce(PlenarySession.end_date, PlenarySession.start_date) >= today)
        .order_by(PlenarySession.start_date, PlenarySession.id).limit(limit)).all()


# --- clearance states --------------------------------------------------------------------------------
@dataclass
class Cell:
    #: "not_requested" | "pending" | "cleared" | "objected" | "stale" (the position notes' rule).
    state: str
    request: ReviewRequest | None = None
    #: The administration's latest decision (on any version), when there is one.
    clearance: Clearance | None = None


@dataclass
class MatrixRow:
    item: AgendaItem
    note: PositionNote | None
    cells: dict[int, Cell] = field(default_factory=dict)  # administration id -> Cell


@dataclass
class Matrix:
    administrations: list
    rows: list[MatrixRow]

    @property
    def notes(self) -> list[PositionNote]:
        return [r.note for r in self.rows if r.note is not None]


def clearance_matrix(session: PlenarySession) -> Matrix:
    """Notes × administrations: the active administrations (and any other one asked), each cell with its state,
    the request and the administration's latest decision. A fixed number of queries, whatever the size."""
    from focalpoint.auth.models import Administration
    from focalpoint.positions.services import note_status_rows

    rows = note_status_rows(session)
    asked = {admin_id for row in rows for admin_id in row.requests}
    administrations = [a for a in db.session.scalars(sa.select(Administration).order_by(Administration.code))
                       if a.is_active or a.id in asked]
    matrix_rows = []
    for row in sorted(rows, key=lambda r: (natural_key(r.item.number), r.item.id)):
        cells = {}
        if row.note is not None:
            cells = {admin.id: Cell(state=row.state(admin.id), request=row.requests.get(admin.id),
                                    clearance=row.latest.get(admin.id)) for admin in administrations}
        matrix_rows.append(MatrixRow(item=row.item, note=row.note, cells=cells))
    return Matrix(administrations=administrations, rows=matrix_rows)


# --- review due dates (the dashboard) ----------------------------------------------------------------
def reviews_due(today: dt.date, *, administration_id: int | None = None, limit: int = 20) -> list[ReviewRequest]:
    """Review requests awaiting a decision on the note's current version, the earliest due first (the
    position notes' ``due_reviews``), for one administration when given."""
    from focalpoint.positions.services import due_reviews

    requests = due_reviews(today)
    if administration_id is not None:
        requests = [r for r in requests if r.administration_id == administration_id]
    return requests[:limit]


# --- a session from a plenary notification -----------------------------------------------------------
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
}
_CODE_IN_TEXT_RE = re.compile(r"\bIPBES[\s\-\u2010-\u2014]?(\d{1,2})\b(?![/\d])", re.I)
_ORDINAL_RE = re.compile(
    r"\b(?:(twenty|thirty)[\s-])?(" + "|".join(_ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th))\s+session\b", re.I)
_HELD_RE = re.compile(r"\b(?:held|take\s+place|takes\s+place|taking\s+place|convened?|hosted|meet)\b", re.I)
_PLACE_RE = re.compile(
    r"\b(?:held|hosted|take\s+place|takes\s+place|taking\s+place|convened?)\b[^.]*?\bin\s+"
    r"((?:[A-Z][\w'\u2019.\-]*)(?:[ \-](?:de |del |la |am |upon )?[A-Z][\w'\u2019.\-]*)*"
    r"(?:,\s*(?:the\s+)?[A-Z][\w'\u2019.\-]*(?:\s+(?:of\s+(?:the\s+)?|and\s+)?[A-Z][\w'\u2019.\-]*)*)?)")
_DAY_BEFORE_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s*(?:-|\u2013|\u2014|to|until|till|and)\s*$", re.I)
_MONTH_WORDS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december"}


def _session_code(title: str, text: str) -> str | None:
    for source in (title, text):
        m = _CODE_IN_TEXT_RE.search(source)
        if m:
            return f"IPBES-{int(m.group(1))}"
        m = _ORDINAL_RE.search(source)
        if m:
            word = m.group(2).lower()
            n = _ORDINALS.get(word) or int(re.match(r"\d+", word).group())
            if m.group(1):
                n += 20 if m.group(1).lower() == "twenty" else 30
            return f"IPBES-{n}"
    return None


def _session_dates(text: str, published: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    """The dates of the sentence that says when the session is held: "from 28 August to 2 September 2023",
    "from 3 to 8 February 2026". A lone day without year takes the year of the last date."""
    from focalpoint.notifications.extract import _find_dates, _split_sentences

    for sentence in _split_sentences(text):
        if not _HELD_RE.search(sentence):
            continue
        found = _find_dates(sentence)
        if not found:
            continue
        last = found[1] if len(found) > 1 else found[0]
        year = last.year or (published.year if published else None)
        if year is None:
            continue
        try:
            end = dt.date(year, last.month, last.day)
        except ValueError:
            continue
        if len(found) > 1:
            first = found[0]
            start_year = first.year or (year if (first.month, first.day) <= (last.month, last.day) else year - 1)
            start = dt.date(start_year, first.month, first.day)
        else:
            before = _DAY_BEFORE_RE.search(sentence[:last.start])
            start = dt.date(year, last.month, int(before.group(1))) if before and \
                int(before.group(1)) < last.day else end
        if start <= end:
            return start, end
    return None, None


def _session_place(text: str) -> str:
    for m in _PLACE_RE.finditer(text):
        place = m.group(1).strip(" .,")
        if place.split(",")[0].split()[0].lower() in _MONTH_WORDS:
            continue
        return place[:200]
    return ""


def session_prefill(notification) -> dict:
    """What a plenary notification says of its session: code, first and last day, place (each may be missing)."""
    title, text = notification.title or "", notification.text or ""
    published = notification.published_at.date() if notification.published_at else None
    start, end = _session_dates(text, published)
    if start is None:
        start, end = _session_dates(title, published)
    return {"code": _session_code(title, text) or "", "start_date": start, "end_date": end,
            "place": _session_place(text)}


# --- the command line --------------------------------------------------------------------------------
def notes_as_dicts() -> list[dict]:
    """Every position note: id, session, agenda_item, status, version (its current version) and the
    administrations asked to review it (code → state), newest session first, then in agenda order."""
    from focalpoint.positions.services import note_reviews

    notes = db.session.scalars(sa.select(PositionNote)).unique().all()
    sessions = {s.id: s for s in db.session.scalars(sa.select(PlenarySession))}
    reviews = note_reviews([n.id for n in notes])

    def order(note: PositionNote):
        session = sessions[note.agenda_item.session_id]
        return (-(session_number(session.code) or 0), natural_key(note.agenda_item.number), note.id)

    return [{"id": n.id, "session": sessions[n.agenda_item.session_id].code, "agenda_item": n.agenda_item.number,
             "status": str(n.status), "version": n.current_version,
             "administrations": dict(sorted((r.request.administration.code, str(r.state))
                                            for r in reviews.get(n.id, [])))}
            for n in sorted(notes, key=order)]
