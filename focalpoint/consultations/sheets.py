"""The secretariat's review template (XLSX): the blank template, reading a filled one, importing its
rows as comments, and the consolidated and full exports.

Reading is defensive: the type comes from the content, the size is capped, the ZIP is checked before
openpyxl opens it (read-only, formulas never evaluated) and the rows are counted as they stream.
Writing stores every text cell as text, so a comment starting with ``=`` never runs as a formula.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from focalpoint.audit import log_action
from focalpoint.consultations.comments import (COLUMN_FIELDS, COMMENT_FIELDS, FIELD_COLUMNS, TEMPLATE_COLUMNS,
                                               ClosedError, CommentError, add_comment, check_open,
                                               comments_in_order)
from focalpoint.consultations.models import CommentSource, CommentType, Consultation, Decision, ReviewComment
from focalpoint.extensions import db

#: Most comments one file may hold.
MAX_ROWS = 5_000
#: Rows (blank ones included) read before the file is refused: a sheet can declare a million rows.
MAX_SCAN_ROWS = 50_000
#: Columns read per row (the template has 13; anything further right is ignored).
MAX_COLUMNS = 60
#: Rows added per SAVEPOINT by import_comments (a row the database refuses makes its chunk go row by row).
IMPORT_CHUNK = 200
#: The header must be in one of the first rows.
HEADER_ROWS = 20
#: Rows of the blank template given the drop-down lists and number checks.
TEMPLATE_ROWS = 1_000
#: Rows of the blank template prefilled with the reviewer's name, e-mail, affiliation and country.
PREFILLED_ROWS = 20

#: English names of the comment types, as the secretariat writes them in the template.
TYPE_NAMES = {CommentType.GENERAL: "General", CommentType.SPECIFIC: "Specific", CommentType.EDITORIAL: "Editorial"}
DECISION_LABELS = {Decision.ADOPT: _l("Adopted"), Decision.ADOPT_EDITED: _l("Adopted with edits"),
                   Decision.MERGE: _l("Merged"), Decision.REJECT: _l("Rejected")}
#: Columns the full export adds after the template's (file headings, never translated, like the template's).
FULL_EXTRA_COLUMNS = ("Id", "Source", "Decision", "Merged into", "Edited comment", "Edited suggested change",
                      "Staff note", "Decided by", "Decided at", "Submitted at")
WIDTHS = {"Reviewer": 24, "Email": 28, "Affiliation": 28, "Country": 14, "Document": 18, "Chapter": 14,
          "From page": 10, "From line": 10, "To page": 10, "To line": 10, "Comment": 60, "Suggested change": 50,
          "Type": 12, "Id": 8, "Source": 10, "Decision": 18, "Merged into": 12, "Edited comment": 50,
          "Edited suggested change": 40, "Staff note": 40, "Decided by": 24, "Decided at": 20,
          "Submitted at": 20}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted workbooks and old .xls files
_ZIP_MAGIC = b"PK\x03\x04"


class SheetError(ValueError):
    """The whole file is refused (the message is for the person who sent it); nothing is imported."""


# --- writing -----------------------------------------------------------------------------------------------
def _put(cell, value) -> None:
    """Write ``value``; every text stays text (never a formula), numbers stay numbers."""
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("", value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(_FORMULA_START):
            cell.quotePrefix = True


def _header(ws, columns) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for index, name in enumerate(columns, 1):
        cell = ws.cell(row=1, column=index)
        _put(cell, name)
        cell.font = bold
        ws.column_dimensions[get_column_letter(index)].width = WIDTHS.get(name, 16)
    ws.freeze_panes = "A2"


def _save(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _letter(column: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(TEMPLATE_COLUMNS.index(column) + 1)


def template_xlsx(consultation: Consultation, expert=None) -> bytes:
    """The blank review template of ``consultation``: sheet "Comments" (prefilled with ``expert``'s name,
    e-mail, affiliation and country on the first rows when given) and sheet "Instructions"."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    from focalpoint.consultations.comments import author_values

    wb = Workbook()
    ws = wb.active
    ws.title = "Comments"
    _header(ws, TEMPLATE_COLUMNS)
    if expert is not None:
        author = author_values(expert)
        for row in range(2, PREFILLED_ROWS + 2):
            for column in ("Reviewer", "Email", "Affiliation", "Country"):
                _put(ws[f"{_letter(column)}{row}"], author[COLUMN_FIELDS[column]])
    last = TEMPLATE_ROWS + 1
    kinds = DataValidation(type="list", formula1='"' + ",".join(TYPE_NAMES.values()) + '"', allow_blank=True,
                           showErrorMessage=True, errorTitle="Type",
                           error=_("Choose General, Specific or Editorial."))
    kinds.add(f"{_letter('Type')}2:{_letter('Type')}{last}")
    ws.add_data_validation(kinds)
    numbers = DataValidation(type="whole", operator="between", formula1="1", formula2="100000", allow_blank=True,
                             showErrorMessage=True, errorTitle=_("Number"),
                             error=_("Pages and lines are whole numbers."))
    for column in ("From page", "From line", "To page", "To line"):
        numbers.add(f"{_letter(column)}2:{_letter(column)}{last}")
    ws.add_data_validation(numbers)

    info = wb.create_sheet("Instructions")
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 90
    bold = Font(bold=True)
    _put(info["A1"], consultation.title)
    info["A1"].font = Font(bold=True, size=14)
    deliverable = consultation.deliverable
    lines = [
        (_("Deliverable"), deliverable.short_name if deliverable is not None else "-"),
        (_("Draft"), draft_label(consultation)),
        (_("Opens on"), consultation.opens_on.isoformat()),
        (_("Closes on"), _("%(date)s (comments are accepted until the end of that day, %(zone)s)",
                           date=consultation.closes_on.isoformat(), zone=current_app.config["DISPLAY_TIMEZONE"])),
    ]
    if consultation.confidentiality_note:
        lines.append((_("Confidentiality"), consultation.confidentiality_note))
    row = 3
    for label, value in lines:
        _put(info.cell(row=row, column=1), label)
        info.cell(row=row, column=1).font = bold
        _put(info.cell(row=row, column=2), value)
        row += 1
    row += 1
    _put(info.cell(row=row, column=1), _("Documents"))
    info.cell(row=row, column=1).font = bold
    first_document = row
    for document in consultation.documents:
        _put(info.cell(row=row, column=2), document.title)
        row += 1
    if consultation.documents:
        documents = DataValidation(type="list", formula1=f"'Instructions'!$B${first_document}:$B${row - 1}",
                                   allow_blank=True, showErrorMessage=True, errorTitle="Document",
                                   error=_("Choose one of the consultation's documents."))
        documents.add(f"{_letter('Document')}2:{_letter('Document')}{last}")
        ws.add_data_validation(documents)
    else:
        _put(info.cell(row=row, column=2), "-")
        row += 1
    row += 1
    _put(info.cell(row=row, column=1), _("How to fill in"))
    info.cell(row=row, column=1).font = bold
    steps = [
        _("One comment per row on the sheet “Comments”; keep the headings of the first row as they are."),
        _("Document: one of the documents listed above (a drop-down list in each cell)."),
        _("Chapter: the chapter or section, if the document has several."),
        _("From page, From line, To page, To line: whole numbers as printed in the margin of the draft; "
          "leave To page and To line blank for a single place."),
        _("Comment: required. Suggested change: the wording you propose, if any."),
        _("Type: General, Specific or Editorial (Specific when left blank)."),
        _("Reviewer, Email, Affiliation and Country are filled in from your record when you upload the file."),
        _("Upload the file on the consultation's page before the close (at most %(n)d comments and %(mb)d MB). "
          "Rows with a problem are listed by row and column; the other rows are kept.",
          n=MAX_ROWS, mb=upload_max_bytes() // (1024 * 1024)),
    ]
    for step in steps:
        cell = info.cell(row=row, column=2)
        _put(cell, step)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        row += 1
    return _save(wb)


def draft_label(consultation: Consultation) -> str:
    from focalpoint.consultations.models import DraftKind

    labels = {DraftKind.SCOPING: _("Scoping report"), DraftKind.FOD: _("First order draft"),
              DraftKind.SOD: _("Second order draft"), DraftKind.SPM: _("Summary for policymakers"),
              DraftKind.OTHER: _("Other")}
    return labels.get(consultation.draft, str(consultation.draft))


def template_filename(consultation: Consultation, kind: str = "template") -> str:
    """A safe download name: ``consultation-12-template.xlsx``."""
    return f"consultation-{consultation.id}-{kind}.xlsx"


# --- reading -----------------------------------------------------------------------------------------------
def upload_max_bytes() -> int:
    return int(current_app.config.get("CONSULTATION_UPLOAD_MAX_MB", 10)) * 1024 * 1024


def read_upload(stream) -> bytes:
    """At most the configured size of an uploaded template; raises SheetError when it is larger."""
    limit = upload_max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise SheetError(_("The file is larger than %(n)d MB.", n=limit // (1024 * 1024)))
    return data


def _fold(heading) -> str:
    return re.sub(r"[\W_]+", "", str(heading).casefold()) if heading is not None else ""


#: Folded heading -> template column (with a few spellings seen in the wild).
_HEADINGS = {_fold(c): c for c in TEMPLATE_COLUMNS} | {
    "reviewername": "Reviewer", "name": "Reviewer", "emailaddress": "Email", "mail": "Email",
    "institution": "Affiliation", "organisation": "Affiliation", "organization": "Affiliation",
    "chapterorsection": "Chapter", "section": "Chapter", "comments": "Comment",
    "suggestedchanges": "Suggested change", "proposedchange": "Suggested change",
    "commenttype": "Type", "typeofcomment": "Type", "pagefrom": "From page", "linefrom": "From line",
    "pageto": "To page", "lineto": "To line"}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean_value(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def _open_workbook(data: bytes):
    from openpyxl import load_workbook

    from focalpoint.experts.services import ExpertError, check_zip

    if not data:
        raise SheetError(_("The file is empty."))
    limit = upload_max_bytes()
    if len(data) > limit:
        raise SheetError(_("The file is larger than %(n)d MB.", n=limit // (1024 * 1024)))
    if data.startswith(_OLE_MAGIC):
        raise SheetError(_("The workbook is protected with a password or in the old .xls format: save it "
                           "as an Excel workbook (.xlsx) without a password and try again."))
    if not data.startswith(_ZIP_MAGIC):
        raise SheetError(_("The file is not an Excel workbook (.xlsx): download the review template and fill "
                           "it in."))
    try:
        check_zip(data, required=("[Content_Types].xml",), max_total=100 * 1024 * 1024, max_ratio=200,
                  max_entries=2000)
    except ExpertError as exc:
        raise SheetError(str(exc)) from None
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign ZIP (a DOCX, a plain archive)
        raise SheetError(_("The file is not a readable Excel workbook (.xlsx): it may be damaged.")) from None


def read_template(data: bytes) -> tuple[list[tuple[int, dict]], list[str]]:
    """The comment rows of a filled template as ``(row number, {field: value})`` and warnings.

    The sheet is "Comments" (else the first one); the header is the first of the first rows holding a
    template heading (case and spaces ignored). Rows with nothing but the reviewer columns are skipped.
    Raises SheetError for a file that cannot or may not be read.
    """
    wb = _open_workbook(data)
    try:
        sheets = wb.worksheets
        if not sheets:
            raise SheetError(_("The workbook has no sheet."))
        ws = next((s for s in sheets if s.title.strip().casefold() == "comments"), sheets[0])
        ws.reset_dimensions()  # read every row, whatever range the file declares
        return _read_rows(ws)
    except SheetError:
        raise
    except Exception:  # a damaged sheet part shows only while streaming it
        raise SheetError(_("The file is not a readable Excel workbook (.xlsx): it may be damaged.")) from None
    finally:
        wb.close()


def _read_rows(ws) -> tuple[list[tuple[int, dict]], list[str]]:
    warnings: list[str] = []
    columns: dict[int, str] | None = None
    rows: list[tuple[int, dict]] = []
    for number, values in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), 1):
        if number > MAX_SCAN_ROWS:
            raise SheetError(_("The sheet has more than %(n)d rows: send at most %(max)d comments per file.",
                               n=MAX_SCAN_ROWS, max=MAX_ROWS))
        if columns is None:
            if number > HEADER_ROWS:
                break
            found = {i: _HEADINGS.get(_fold(v)) for i, v in enumerate(values)}
            if any(found.values()):
                columns = {}
                for index, value in enumerate(values):
                    column = found[index]
                    if column is not None and column not in columns.values():
                        columns[index] = column
                    elif column is not None:
                        warnings.append(_("Column “%(c)s” appears twice: the second one is ignored.", c=column))
                    elif not _blank(value):
                        warnings.append(_("Column “%(c)s” is not one of the template's: ignored.",
                                          c=str(value).strip()[:60]))
                if "Comment" not in columns.values():
                    raise SheetError(_("The sheet has no “Comment” column (the template's columns are: "
                                       "%(c)s).", c=", ".join(TEMPLATE_COLUMNS)))
            continue
        row = {COLUMN_FIELDS[column]: _clean_value(values[index]) for index, column in columns.items()
               if index < len(values)}
        if all(_blank(row.get(f)) for f in COMMENT_FIELDS):
            continue  # blank, or only the prefilled reviewer columns
        if len(rows) >= MAX_ROWS:
            raise SheetError(_("The file holds more than %(n)d comments: split it into several files.",
                               n=MAX_ROWS))
        rows.append((number, row))
    if columns is None:
        raise SheetError(_("The sheet has no “Comment” column (the template's columns are: %(c)s).",
                           c=", ".join(TEMPLATE_COLUMNS)))
    return rows, warnings


# --- importing ---------------------------------------------------------------------------------------------
@dataclass
class RowResult:
    row: int
    ok: bool
    #: Column heading -> message ("" for a problem not tied to a column).
    errors: dict[str, str] = field(default_factory=dict)
    comment_id: int | None = None

    def messages(self) -> list[str]:
        """``row 7, From page: …`` per problem."""
        return [f"row {self.row}, {column}: {message}" if column else f"row {self.row}: {message}"
                for column, message in self.errors.items()]

    def as_dict(self) -> dict:
        return {"row": self.row, "ok": self.ok, "errors": dict(self.errors), "comment_id": self.comment_id}


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    imported: int = 0
    failed: int = 0
    dry_run: bool = False

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if not r.ok]

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "imported": self.imported, "failed": self.failed,
                "warnings": [str(w) for w in self.warnings], "rows": [r.as_dict() for r in self.rows]}


def import_comments(consultation: Consultation, data: bytes, *, actor, participant=None, expert=None,
                    source: CommentSource = CommentSource.UPLOAD, dry_run: bool = False,
                    check_dates: bool = True) -> ImportReport:
    """Add the rows of a filled template as comments by ``participant``'s expert (or ``expert``).

    Each row is validated like a comment typed in the browser; rows are stored under SAVEPOINTs (a row
    the database refuses is isolated in its own), so a bad row never drops the good ones; ``dry_run``
    rolls every row back but reports the same. The file's
    Reviewer and Email columns never change who the author is. Raises SheetError when the file is
    refused as a whole or the consultation is not open (with ``check_dates``). The caller commits.
    """
    author = participant.expert if participant is not None else expert
    if author is None:
        raise ValueError("import_comments needs the participant or the expert who wrote the comments")
    if check_dates:
        try:
            check_open(consultation)
        except ClosedError as exc:
            raise SheetError(str(exc)) from None
    rows, warnings = read_template(data)
    report = ImportReport(warnings=list(warnings), dry_run=dry_run)
    own = (author.email or "").strip().casefold()
    others = sorted({str(r.get("reviewer_email")).strip() for _n, r in rows
                     if not _blank(r.get("reviewer_email"))
                     and str(r.get("reviewer_email")).strip().casefold() != own})
    if others:
        emails = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
        report.warnings.append(_("The file names other reviewers (%(emails)s): every comment is recorded as "
                                 "written by %(name)s.", emails=emails, name=author.name))

    def add(number: int, values: dict) -> RowResult:
        try:
            comment = add_comment(consultation, {f: values.get(f) for f in COMMENT_FIELDS}, participant=participant,
                                  actor=actor, source=source, check_dates=False, expert=expert)
        except CommentError as exc:  # raised before anything is written
            return RowResult(number, False, {FIELD_COLUMNS.get(f, ""): m for f, m in exc.errors.items()})
        return RowResult(number, True, comment_id=None if dry_run else comment.id)

    def end(savepoint) -> None:
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()

    for start in range(0, len(rows), IMPORT_CHUNK):
        chunk = rows[start:start + IMPORT_CHUNK]
        # A SAVEPOINT per chunk; when the database refuses a row, the chunk is redone with a SAVEPOINT
        # per row, so that only the refused row is lost.
        savepoint = db.session.begin_nested()
        try:
            results = [add(number, values) for number, values in chunk]
            db.session.flush()  # the last row's audit entry
        except sa.exc.SQLAlchemyError:
            savepoint.rollback()
            results = []
            for number, values in chunk:
                one = db.session.begin_nested()
                try:
                    result = add(number, values)
                    db.session.flush()
                except sa.exc.SQLAlchemyError:
                    one.rollback()
                    current_app.logger.exception("Comment row %s of a template could not be stored", number)
                    result = RowResult(number, False, {"": _("This row could not be stored.")})
                else:
                    end(one)
                results.append(result)
        else:
            end(savepoint)
        report.rows.extend(results)
    report.imported = sum(1 for r in report.rows if r.ok)
    report.failed = len(report.rows) - report.imported
    if not dry_run and report.imported:
        log_action(consultation, "comments.import", actor=actor,
                   data={"source": source.value, "expert": author.id, "imported": report.imported,
                         "failed": report.failed})
    return report


# --- exports -----------------------------------------------------------------------------------------------
def _joined(values) -> str:
    seen: list[str] = []
    for value in values:
        value = (value or "").strip()
        if value and value.casefold() not in (s.casefold() for s in seen):
            seen.append(value)
    return "; ".join(seen)


def _merge_targets(comments: list[ReviewComment]) -> dict[int, list[ReviewComment]]:
    """Comment id -> the comments merged into it (directly or through a chain), in order."""
    parent = {c.id: c.merged_into_id for c in comments if c.decision == Decision.MERGE and c.merged_into_id}
    merged: dict[int, list[ReviewComment]] = {}
    for c in comments:
        if c.id not in parent:
            continue
        target, seen = parent[c.id], {c.id}
        while target in parent and target not in seen:
            seen.add(target)
            target = parent[target]
        merged.setdefault(target, []).append(c)
    return merged


def _template_values(comment: ReviewComment, authors: list[ReviewComment], text: str, suggested: str) -> list:
    return [_joined(a.reviewer_name for a in authors), _joined(a.reviewer_email for a in authors),
            _joined(a.affiliation for a in authors), _joined(a.country for a in authors),
            comment.document_title, comment.chapter, comment.page_from, comment.line_from, comment.page_to,
            comment.line_to, text, suggested, TYPE_NAMES.get(comment.comment_type, "")]


def consolidated_rows(consultation: Consultation) -> list[list]:
    """The consolidated table: the template's columns, one row per adopted comment (as edited) in
    document → page → line order, carrying the authors of the comments merged into it."""
    comments = comments_in_order(consultation)
    merged = _merge_targets(comments)
    return [_template_values(c, [c, *merged.get(c.id, [])], c.final_comment, c.final_suggested_change)
            for c in comments if c.decision in (Decision.ADOPT, Decision.ADOPT_EDITED)]


def _local_iso(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    from focalpoint.invitations.services import display_zone

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(display_zone()).replace(microsecond=0).isoformat()


def full_rows(consultation: Consultation) -> list[list]:
    """Every comment in order: its own author and text, then its decision and everything about it."""
    from focalpoint.auth.models import User

    comments = comments_in_order(consultation)
    user_ids = {c.decided_by_id for c in comments if c.decided_by_id}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    rows = []
    for c in comments:
        user = users.get(c.decided_by_id)
        rows.append(_template_values(c, [c], c.comment, c.suggested_change) + [
            c.id, c.source.value, str(DECISION_LABELS[c.decision]) if c.decision else "", c.merged_into_id,
            c.edited_comment, c.edited_suggested_change, c.staff_note,
            (user.name or user.email) if user is not None else "", _local_iso(c.decided_at),
            _local_iso(c.created_at)])
    return rows


def table_xlsx(columns, rows) -> bytes:
    """A workbook with sheet "Comments": bold frozen header, then ``rows`` (texts stored as text)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Comments"
    _header(ws, columns)
    for number, values in enumerate(rows, 2):
        for index, value in enumerate(values, 1):
            if value is not None and value != "":
                _put(ws.cell(row=number, column=index), value)
    return _save(wb)


def export_consolidated(consultation: Consultation) -> bytes:
    """The consolidated comments as the secretariat's template (sheet "Comments")."""
    return table_xlsx(TEMPLATE_COLUMNS, consolidated_rows(consultation))


def export_full(consultation: Consultation) -> bytes:
    """Every comment with its decision, for the NFP's file."""
    return table_xlsx(TEMPLATE_COLUMNS + FULL_EXTRA_COLUMNS, full_rows(consultation))
