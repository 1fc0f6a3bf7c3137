"""The review template (XLSX): the blank template, reading and importing a filled one (row errors, dry
run, hostile files), and the consolidated and full exports, on both databases."""
from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
import struct
import zipfile
import zlib

import pytest
import sqlalchemy as sa
from consultation_helpers import TODAY, make_comment, make_consultation, make_expert, make_participant

COLUMNS = ["Reviewer", "Email", "Affiliation", "Country", "Document", "Chapter", "From page", "From line",
           "To page", "To line", "Comment", "Suggested change", "Type"]


# --- helpers --------------------------------------------------------------------------------------------
def workbook(data: bytes):
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data))


def fill(template: bytes, rows: list[list], start: int = 2) -> bytes:
    """The template with ``rows`` written from row ``start`` on (None leaves a cell as it is)."""
    wb = workbook(template)
    ws = wb["Comments"]
    for offset, values in enumerate(rows):
        for column, value in enumerate(values, 1):
            if value is not None:
                ws.cell(row=start + offset, column=column, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def sheet(rows: list[list], title: str = "Comments") -> bytes:
    """A plain workbook whose first sheet holds ``rows`` as given."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    for values in rows:
        ws.append(values)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def row(document="SPM", chapter="", page_from=None, line_from=None, page_to=None, line_to=None, comment="",
        suggested="", kind="", reviewer="", email="", affiliation="", country="") -> list:
    return [reviewer, email, affiliation, country, document, chapter, page_from, line_from, page_to, line_to,
            comment, suggested, kind]


def stored(consultation_id: int) -> list:
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    return list(db.session.scalars(sa.select(ReviewComment).where(ReviewComment.consultation_id == consultation_id)
                                   .order_by(ReviewComment.id)))


def raw_sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def sheet_rows(data: bytes) -> list[list]:
    ws = workbook(data)["Comments"]
    return [list(r) for r in ws.iter_rows(values_only=True)]


@pytest.fixture
def setup(app):
    """An open consultation (documents SPM, Chapter 1), Ann invited; yields ids."""
    from focalpoint.extensions import db

    with app.app_context():
        consultation = make_consultation()
        ann = make_expert("Ann", "Peeters", affiliation="Ghent University")
        participant = make_participant(consultation, ann)
        db.session.commit()
        ids = {"consultation": consultation.id, "ann": ann.id, "participant": participant.id}
    with app.test_request_context():
        yield ids


def objects(ids):
    from focalpoint.consultations.models import Consultation, Participant
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    return (db.session.get(Consultation, ids["consultation"]), db.session.get(Participant, ids["participant"]),
            db.session.get(Expert, ids["ann"]))


# --- the blank template --------------------------------------------------------------------------------
def test_template_has_the_columns_lists_prefilled_reviewer_and_instructions(app, setup):
    from focalpoint.consultations.sheets import PREFILLED_ROWS, template_xlsx

    consultation, _participant, ann = objects(setup)
    wb = workbook(template_xlsx(consultation, ann))
    assert wb.sheetnames == ["Comments", "Instructions"]
    ws = wb["Comments"]
    assert [c.value for c in ws[1]] == COLUMNS
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["K"].width == 60
    for number in range(2, PREFILLED_ROWS + 2):
        assert [c.value for c in ws[number]][:5] == ["Ann Peeters", "ann.peeters@example.org", "Ghent University",
                                                     "Belgium", None]
    assert ws.max_row == PREFILLED_ROWS + 1
    validations = {str(v.sqref).split()[0]: v for v in ws.data_validations.dataValidation}
    assert validations["M2:M1001"].formula1 == '"General,Specific,Editorial"'
    document_list = validations["E2:E1001"].formula1
    match = re.fullmatch(r"'Instructions'!\$B\$(\d+):\$B\$(\d+)", document_list)
    info = wb["Instructions"]
    assert [info.cell(row=n, column=2).value for n in range(int(match[1]), int(match[2]) + 1)] == ["SPM", "Chapter 1"]
    assert validations["G2:G1001"].type == "whole"
    texts = [str(c.value) for r in info.iter_rows() for c in r if c.value is not None]
    assert texts[0] == "Nexus assessment, second order draft"
    assert "Second order draft" in texts and (TODAY + dt.timedelta(days=10)).isoformat() in " ".join(texts)
    assert any(t.startswith("One comment per row") for t in texts)


def test_blank_template_without_expert_has_only_the_header(app, setup):
    from focalpoint.consultations.sheets import read_template, template_xlsx

    consultation, _participant, _ann = objects(setup)
    data = template_xlsx(consultation)
    assert sheet_rows(data) == [COLUMNS]
    assert read_template(data) == ([], [])


# --- round trip --------------------------------------------------------------------------------------------
def test_template_round_trip_stores_every_field(app, setup):
    from focalpoint.audit import AuditEntry
    from focalpoint.consultations.models import CommentSource, CommentType
    from focalpoint.consultations.sheets import import_comments, template_xlsx
    from focalpoint.extensions import db

    consultation, participant, ann = objects(setup)
    filled = fill(template_xlsx(consultation, ann), [
        [None, None, None, None, "Chapter 1", "1.2", 12, 5, 13, 2, "The figure lacks units.",
         "Add units to the axis.", "Editorial"],
        [None, None, None, None, "spm", "", "4", "10", None, None, "  Too vague.  ", "", "general"],
        [None, None, None, None, "SPM", None, 7.0, None, None, None, "Cite the source.", None, None],
    ])
    report = import_comments(consultation, filled, actor=None, participant=participant)
    db.session.commit()
    assert (report.imported, report.failed, report.dry_run, report.warnings) == (3, 0, False, [])
    comments = stored(setup["consultation"])
    assert [r.as_dict() for r in report.rows] == [
        {"row": n, "ok": True, "errors": {}, "comment_id": c.id} for n, c in zip((2, 3, 4), comments)]
    got = [(c.participant_id, c.expert_id, c.reviewer_name, c.reviewer_email, c.affiliation, c.country,
            c.document_title, c.chapter, c.page_from, c.line_from, c.page_to, c.line_to, c.comment,
            c.suggested_change, c.comment_type, c.source, c.decision) for c in comments]
    who = (setup["participant"], setup["ann"], "Ann Peeters", "ann.peeters@example.org", "Ghent University",
           "Belgium")
    assert got == [
        (*who, "Chapter 1", "1.2", 12, 5, 13, 2, "The figure lacks units.", "Add units to the axis.",
         CommentType.EDITORIAL, CommentSource.UPLOAD, None),
        (*who, "SPM", "", 4, 10, 4, None, "Too vague.", "", CommentType.GENERAL, CommentSource.UPLOAD, None),
        (*who, "SPM", "", 7, None, 7, None, "Cite the source.", "", CommentType.SPECIFIC, CommentSource.UPLOAD,
         None)]
    assert [c.document.title for c in comments] == ["Chapter 1", "SPM", "SPM"]
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["comment.add"] * 3 + ["comments.import"]


def test_header_below_a_title_any_case_extra_columns_warned(app, setup):
    from focalpoint.consultations.sheets import read_template

    data = sheet([["Comments of Belgium"], [],
                  ["  comment ", "FROM PAGE", "document", "Notes", "from_line", "Comment"],
                  ["Good point", 3, "SPM", "ignored", 4, "second comment column"],
                  [None, None, None, "only a note"],
                  ["", "", "", "", ""]])
    rows, warnings = read_template(data)
    assert rows == [(4, {"comment": "Good point", "page_from": 3, "document": "SPM", "line_from": 4})]
    assert warnings == ["Column “Notes” is not one of the template's: ignored.",
                        "Column “Comment” appears twice: the second one is ignored."]


# --- row errors ----------------------------------------------------------------------------------------
ERROR_ROWS = [
    row(page_from=3, comment="Good one."),
    row(page_from=4, comment=""),
    row(page_from="twelve", comment="Page in words."),
    row(page_from=3.5, comment="Half a page."),
    row(page_from=9, page_to=8, comment="Backwards."),
    row(document="Chapter 9", comment="Unknown document."),
    row(comment="Bad type.", kind="Urgent"),
    row(document="Chapter 1", page_from=2, line_from=10, line_to=3, page_to=2, comment="Lines backwards."),
    row(document="Chapter 1", page_from=1, comment="Another good one.", kind="E"),
]
ERRORS = {
    3: {"Comment": "The comment is missing."},
    4: {"From page": "From page must be a whole number, not “twelve”."},
    5: {"From page": "From page must be a whole number, not “3.5”."},
    6: {"To page": "To page comes before From page."},
    7: {"Document": "Unknown document “Chapter 9” (this consultation has: SPM, Chapter 1)."},
    8: {"Type": "Type must be General, Specific or Editorial, not “Urgent”."},
    9: {"To line": "To line comes before From line on the same page."},
}


def test_bad_rows_reported_by_row_and_column_good_rows_kept(app, setup):
    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    report = import_comments(consultation, sheet([COLUMNS] + ERROR_ROWS), actor=None, participant=participant)
    db.session.commit()
    assert (report.imported, report.failed) == (2, 7)
    assert {r.row: r.errors for r in report.rows if not r.ok} == ERRORS
    assert [r.row for r in report.rows if r.ok] == [2, 10]
    assert [c.comment for c in stored(setup["consultation"])] == ["Good one.", "Another good one."]
    assert report.errors[1].messages() == ["row 4, From page: From page must be a whole number, not “twelve”."]
    assert report.as_dict()["rows"][1] == {"row": 3, "ok": False, "errors": {"Comment": "The comment is missing."},
                                           "comment_id": None}


def test_dry_run_adds_nothing_and_reports_the_same(app, setup):
    from focalpoint.audit import AuditEntry
    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    report = import_comments(consultation, sheet([COLUMNS] + ERROR_ROWS), actor=None, participant=participant,
                             dry_run=True)
    db.session.commit()
    assert (report.imported, report.failed, report.dry_run) == (2, 7, True)
    assert {r.row: r.errors for r in report.rows if not r.ok} == ERRORS
    assert all(r.comment_id is None for r in report.rows)
    assert stored(setup["consultation"]) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("chunk, dry_run", [(200, False), (2, False), (2, True)])
def test_a_database_error_on_one_row_keeps_the_others(app, setup, monkeypatch, chunk, dry_run):
    from focalpoint.audit import AuditEntry
    from focalpoint.consultations import comments as comments_module
    from focalpoint.consultations import sheets
    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    monkeypatch.setattr(sheets, "IMPORT_CHUNK", chunk)
    consultation, participant, _ann = objects(setup)
    original = comments_module.clean_comment

    def breaking(consultation, data):
        values = original(consultation, data)
        if values["comment"] == "Break me":
            values["page_to"], values["page_from"] = 1, 5  # violates the page_order check constraint
        return values

    monkeypatch.setattr(comments_module, "clean_comment", breaking)
    data = sheet([COLUMNS, row(comment="First"), row(comment="Second"), row(comment="Break me", page_from=5),
                  row(comment=""), row(comment="Last")])
    report = import_comments(consultation, data, actor=None, participant=participant, dry_run=dry_run)
    db.session.commit()
    assert (report.imported, report.failed) == (3, 2)
    assert {r.row: r.errors for r in report.rows if not r.ok} == {
        4: {"": "This row could not be stored."}, 5: {"Comment": "The comment is missing."}}
    comments = stored(setup["consultation"])
    if dry_run:
        assert comments == []
        assert all(r.comment_id is None for r in report.rows)
    else:
        assert [c.comment for c in comments] == ["First", "Second", "Last"]
        assert [r.comment_id for r in report.rows if r.ok] == [c.id for c in comments]
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ([] if dry_run else ["comment.add"] * 3 + ["comments.import"])


def test_the_files_reviewer_columns_never_change_the_author(app, setup):
    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    data = sheet([COLUMNS, row(comment="Mine", email="ann.peeters@example.org", reviewer="Ann"),
                  row(comment="Someone else's", reviewer="Mallory", email="mallory@example.org",
                      affiliation="Evil Corp", country="Nowhere")])
    report = import_comments(consultation, data, actor=None, participant=participant)
    db.session.commit()
    assert report.warnings == ["The file names other reviewers (mallory@example.org): every comment is recorded "
                               "as written by Ann Peeters."]
    assert {(c.reviewer_name, c.reviewer_email, c.affiliation, c.country, c.expert_id)
            for c in stored(setup["consultation"])} == {
        ("Ann Peeters", "ann.peeters@example.org", "Ghent University", "Belgium", setup["ann"])}


def test_staff_import_for_an_expert_not_invited_and_the_close(app, setup):
    from focalpoint.consultations.models import CommentSource
    from focalpoint.consultations.sheets import SheetError, import_comments
    from focalpoint.extensions import db

    consultation, _participant, _ann = objects(setup)
    bob = make_expert("Bob", "Claes", affiliation="")
    consultation.closes_on = TODAY - dt.timedelta(days=2)
    db.session.commit()
    data = sheet([COLUMNS, row(comment="Late by mail")])
    with pytest.raises(SheetError, match="The consultation is closed"):
        import_comments(consultation, data, actor=None, expert=bob)
    report = import_comments(consultation, data, actor=None, expert=bob, source=CommentSource.COMMAND,
                             check_dates=False)
    db.session.commit()
    assert report.imported == 1
    (comment,) = stored(setup["consultation"])
    assert (comment.participant_id, comment.expert_id, comment.reviewer_name, comment.source) == (
        None, bob.id, "Bob Claes", CommentSource.COMMAND)


# --- hostile and broken files -----------------------------------------------------------------------------
def crafted_zip_bomb(declared: int = 400 * 1024 * 1024) -> bytes:
    """A small XLSX-shaped ZIP whose sheet entry declares ``declared`` bytes (nothing that big is written)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * 4096)
    data = bytearray(out.getvalue())
    name = b"xl/worksheets/sheet1.xml"
    # Patch the uncompressed size in the central directory entry of the sheet (what a reader trusts).
    start = data.find(b"PK\x01\x02")
    while data[start + 46:start + 46 + len(name)] != name:
        start = data.find(b"PK\x01\x02", start + 4)
    struct.pack_into("<I", data, start + 24, declared)
    return bytes(data)


@functools.cache
def real_zip_bomb() -> bytes:
    """An XLSX-shaped ZIP whose sheet really inflates to 200 MB of zeros (one deflate stream, about 200 KB)."""
    megabytes = 200
    size = megabytes * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1024 * 1024)
    body = b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    head = out.getvalue()
    central_at = head.find(b"PK\x01\x02")
    entries, central = head[:central_at], bytearray(head[central_at:head.find(b"PK\x05\x06")])
    name = b"xl/worksheets/sheet1.xml"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0) + name
    offset = len(entries)
    central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body), size, len(name),
                           0, 0, 0, 0, 0, offset) + name
    entries += local + body
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 2, 2, len(central), len(entries), 0)
    return entries + bytes(central) + end


def encrypted_workbook() -> bytes:
    """What Excel saves for a workbook with a password: an OLE compound file, not a ZIP."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096)


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def damaged_workbook() -> bytes:
    """A real workbook whose sheet XML is cut in the middle."""
    data = sheet([COLUMNS, row(comment="x")])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[:len(content) // 2]
            z.writestr(info.filename, content)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV = ("Reviewer,Email,Affiliation,Country,Document,Chapter,From page,From line,To page,To line,Comment,"
       "Suggested change,Type\nAnn,ann@example.org,,,SPM,,1,1,1,2,A comment,,General\n").encode()


@pytest.mark.parametrize("name, make, message", [
    ("renamed PDF", lambda: PDF, "The file is not an Excel workbook (.xlsx)"),
    ("random bytes", lambda: os.urandom(20_000), "The file is not an Excel workbook (.xlsx)"),
    ("empty", lambda: b"", "The file is empty."),
    ("CSV", lambda: CSV, "The file is not an Excel workbook (.xlsx)"),
    ("declared zip bomb", crafted_zip_bomb, "The file expands to much more than its size: refused as unsafe."),
    ("real zip bomb", real_zip_bomb, "The file expands to much more than its size: refused as unsafe."),
    ("encrypted", encrypted_workbook, "protected with a password or in the old .xls format"),
    ("renamed DOCX", docx_bytes, "not a readable Excel workbook"),
    ("damaged", damaged_workbook, "not a readable Excel workbook"),
    ("random ZIP", lambda: b"PK\x03\x04" + os.urandom(5000), "The file is damaged or not of an accepted type."),
    ("no Comment column", lambda: sheet([["Reviewer", "Document", "Page"], ["Ann", "SPM", 3]]),
     "The sheet has no “Comment” column"),
    ("header too low", lambda: sheet([[]] * 25 + [COLUMNS, row(comment="x")]), "The sheet has no “Comment” column"),
])
def test_hostile_files_are_refused_and_nothing_is_stored(app, setup, name, make, message):
    from focalpoint.consultations.sheets import SheetError, import_comments
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    with pytest.raises(SheetError) as raised:
        import_comments(consultation, make(), actor=None, participant=participant)
    assert message in str(raised.value)
    db.session.commit()
    assert stored(setup["consultation"]) == []


def test_a_file_over_the_size_cap_is_refused(app, setup):
    from focalpoint.consultations.sheets import SheetError, read_template, read_upload

    app.config["CONSULTATION_UPLOAD_MAX_MB"] = 1
    big = b"PK\x03\x04" + b"\0" * (1024 * 1024)
    with pytest.raises(SheetError, match="The file is larger than 1 MB."):
        read_template(big)
    with pytest.raises(SheetError, match="The file is larger than 1 MB."):
        read_upload(io.BytesIO(big))
    assert read_upload(io.BytesIO(b"x" * 1024 * 1024)) == b"x" * 1024 * 1024


def test_too_many_rows_are_refused(app, setup):
    from openpyxl import Workbook

    from focalpoint.consultations.sheets import SheetError, read_template

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Comments")
    ws.append(COLUMNS)
    for n in range(10_001):
        ws.append(row(comment=f"Comment {n}", page_from=n + 1))
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(SheetError, match="The file holds more than 5000 comments: split it into several files."):
        read_template(out.getvalue())


def test_a_sheet_declaring_a_million_rows_is_refused_quickly(app, setup):
    from focalpoint.consultations.sheets import SheetError, read_template

    data = sheet([COLUMNS, row(comment="x")])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"</sheetData>",
                                          b'<row r="1048576"><c r="K1048576" t="inlineStr"><is><t>late</t></is>'
                                          b"</c></row></sheetData>")
            z.writestr(info.filename, content)
    with pytest.raises(SheetError, match="The sheet has more than 50000 rows"):
        read_template(out.getvalue())


def test_formulas_are_never_evaluated_only_cached_values_read(app, setup):
    """A formula with a cached value gives that value; one without gives nothing (never computed)."""
    from openpyxl import Workbook

    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    wb = Workbook()
    ws = wb.active
    ws.title = "Comments"
    ws.append(COLUMNS)
    ws.append(row(page_from="=SUM(1,1)", comment="Cached page"))
    ws.append(row(comment='=HYPERLINK("https://evil.example","click")'))
    ws.append(row(comment="Plain", suggested="=1+1"))
    out = io.BytesIO()
    wb.save(out)
    parts = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as z:
        for info in parts.infolist():
            content = parts.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b"<f>SUM(1,1)</f><v></v>" in content
                content = content.replace(b"<f>SUM(1,1)</f><v></v>", b"<f>SUM(1,1)</f><v>7</v>")
            z.writestr(info.filename, content)
    report = import_comments(consultation, patched.getvalue(), actor=None, participant=participant)
    db.session.commit()
    assert (report.imported, report.failed) == (2, 1)
    assert {r.row: r.errors for r in report.rows if not r.ok} == {3: {"Comment": "The comment is missing."}}
    assert [(c.comment, c.page_from, c.page_to, c.suggested_change) for c in stored(setup["consultation"])] == [
        ("Cached page", 7, 7, ""), ("Plain", None, None, "")]


# --- exports -------------------------------------------------------------------------------------------
@pytest.fixture
def decided(app, setup):
    """Comments of three experts across both documents, some decided, one merged into another."""
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    consultation, ann_participant, ann = objects(setup)
    bob = make_expert("Bob", "Claes", affiliation="UCLouvain")
    cleo = make_expert("Cleo", "Dubois", affiliation="Ghent University")
    bob_p, cleo_p = make_participant(consultation, bob), make_participant(consultation, cleo)
    db.session.commit()
    c = {}
    c["ch1_p2"] = make_comment(consultation, bob_p, document="Chapter 1", page_from=2, line_from=1,
                               comment="Chapter comment", decision="adopt")
    c["spm_p5"] = make_comment(consultation, ann_participant, page_from=5, line_from=30, page_to=6, line_to=2,
                               comment="Original text", suggested_change="Original change", decision="adopt_edited",
                               edited_comment="Edited text", edited_suggested_change="Edited change",
                               chapter="B.2", comment_type="general")
    c["spm_p5_early"] = make_comment(consultation, cleo_p, page_from=5, line_from=3, comment="Earlier line",
                                     decision="adopt", comment_type="editorial")
    c["spm_rejected"] = make_comment(consultation, bob_p, page_from=1, comment="Rejected", decision="reject")
    c["spm_open"] = make_comment(consultation, bob_p, page_from=1, comment="Undecided")
    c["merged_bob"] = make_comment(consultation, bob_p, page_from=5, line_from=31, comment="Same as Ann",
                                   decision="merge", merged_into_id=c["spm_p5"].id)
    c["merged_cleo"] = make_comment(consultation, cleo_p, page_from=5, line_from=30, comment="Also the same",
                                    decision="merge", merged_into_id=c["spm_p5"].id, staff_note="Duplicate")
    c["merged_ann"] = make_comment(consultation, ann_participant, page_from=5, line_from=32, comment="Ann again",
                                   decision="merge", merged_into_id=c["spm_p5"].id)
    c["spm_no_page"] = make_comment(consultation, None, document="SPM", comment="General remark",
                                    decision="adopt", comment_type="general", reviewer_name="Staff by mail")
    db.session.commit()
    yield consultation, {k: v.id for k, v in c.items()}
    # On SQLite, emptying the table would set merged_into_id NULL on merged rows and break the
    # merge_has_target check (reported to the lead): undo the merges first.
    db.session.rollback()
    db.session.execute(sa.update(ReviewComment).where(ReviewComment.merged_into_id.is_not(None))
                       .values(decision=None, merged_into_id=None))
    db.session.commit()


def test_consolidated_export_order_and_merged_authors(app, setup, decided):
    from focalpoint.consultations.sheets import consolidated_rows, export_consolidated

    consultation, ids = decided
    expected = [
        ["Staff by mail", None, None, None, "SPM", None, None, None, None, None, "General remark", None, "General"],
        ["Cleo Dubois", "cleo.dubois@example.org", "Ghent University", "Belgium", "SPM", None, 5, 3, 5, None,
         "Earlier line", None, "Editorial"],
        ["Ann Peeters; Cleo Dubois; Bob Claes", "ann.peeters@example.org; cleo.dubois@example.org; "
         "bob.claes@example.org", "Ghent University; UCLouvain", "Belgium", "SPM", "B.2", 5, 30, 6, 2,
         "Edited text", "Edited change", "General"],
        ["Bob Claes", "bob.claes@example.org", "UCLouvain", "Belgium", "Chapter 1", None, 2, 1, 2, None,
         "Chapter comment", None, "Specific"],
    ]
    assert [[v if v != "" else None for v in r] for r in consolidated_rows(consultation)] == expected
    data = export_consolidated(consultation)
    assert sheet_rows(data) == [COLUMNS] + expected
    ws = workbook(data)["Comments"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    assert ws["G3"].data_type == "n" and ws["G3"].value == 5


def test_merge_authors_follow_the_target_when_it_sits_earlier(app, setup, decided):
    """Ann merged twice (own comment first, then the merged ones) is named once."""
    from focalpoint.consultations.sheets import consolidated_rows

    consultation, _ids = decided
    names = [r[0] for r in consolidated_rows(consultation)]
    assert names.count("Ann Peeters; Cleo Dubois; Bob Claes") == 1
    assert all("Undecided" not in r and "Rejected" not in r for r in consolidated_rows(consultation))


def test_exported_consolidation_reads_back_as_a_template(app, setup, decided):
    from focalpoint.consultations.sheets import export_consolidated, read_template

    consultation, _ids = decided
    rows, warnings = read_template(export_consolidated(consultation))
    assert warnings == []
    assert [(n, r["comment"], r.get("page_from")) for n, r in rows] == [
        (2, "General remark", None), (3, "Earlier line", 5), (4, "Edited text", 5), (5, "Chapter comment", 2)]


def test_full_export_has_every_comment_and_its_decision(app, setup, decided, make_user):
    from focalpoint.auth.models import User
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.consultations.sheets import export_full
    from focalpoint.extensions import db

    consultation, ids = decided
    db.session.rollback()  # SQLite: let make_user's own session write
    staff = db.session.get(User, make_user("stella@example.org", "staff", name="Stella Staff"))
    rejected = db.session.get(ReviewComment, ids["spm_rejected"])
    rejected.decided_by_id, rejected.decided_at = staff.id, dt.datetime(2031, 3, 4, 9, 30, tzinfo=dt.timezone.utc)
    rejected.staff_note = "=out of scope"
    db.session.commit()
    rows = sheet_rows(export_full(consultation))
    assert rows[0] == COLUMNS + ["Id", "Source", "Decision", "Merged into", "Edited comment",
                                 "Edited suggested change", "Staff note", "Decided by", "Decided at",
                                 "Submitted at"]
    by_id = {r[13]: r for r in rows[1:]}
    assert [r[13] for r in rows[1:]] == [ids[k] for k in ("spm_no_page", "spm_rejected", "spm_open", "spm_p5_early",
                                                          "spm_p5", "merged_cleo", "merged_bob", "merged_ann",
                                                          "ch1_p2")]
    assert by_id[ids["spm_rejected"]][13:23] == [ids["spm_rejected"], "browser", "Rejected", None, None, None,
                                                 "=out of scope", "Stella Staff", "2031-03-04T10:30:00+01:00",
                                                 by_id[ids["spm_rejected"]][22]]
    assert by_id[ids["spm_p5"]][10:18] == ["Original text", "Original change", "General", ids["spm_p5"], "browser",
                                          "Adopted with edits", None, "Edited text"]
    assert by_id[ids["merged_cleo"]][:1] + by_id[ids["merged_cleo"]][15:17] + [by_id[ids["merged_cleo"]][19]] == [
        "Cleo Dubois", "Merged", ids["spm_p5"], "Duplicate"]
    assert by_id[ids["spm_open"]][15] is None
    submitted = dt.datetime.fromisoformat(by_id[ids["spm_open"]][22])
    assert submitted.utcoffset() is not None


def test_text_that_looks_like_a_formula_is_written_as_text(app, setup):
    from focalpoint.consultations.sheets import export_consolidated, export_full, template_xlsx
    from focalpoint.extensions import db

    consultation, participant, _ann = objects(setup)
    hostile = make_expert("=cmd|' /C calc'!A0", "", email="hostile@example.org", affiliation="+SUM(1,2)")
    p = make_participant(consultation, hostile)
    texts = {"comment": '=HYPERLINK("https://evil.example","x")', "suggested_change": "@SUM(A1:A2)",
             "chapter": "-2+3", "edited_comment": "\t=1+1"}
    make_comment(consultation, p, page_from=3, decision="adopt", **{k: v for k, v in texts.items()
                                                                   if k != "edited_comment"})
    make_comment(consultation, p, page_from=4, decision="adopt_edited", comment="x", edited_comment="\t=1+1")
    db.session.commit()
    for data in (export_consolidated(consultation), export_full(consultation),
                 template_xlsx(consultation, hostile)):
        assert "<f>" not in raw_sheet_xml(data)
    ws = workbook(export_consolidated(consultation))["Comments"]
    cells = {ws.cell(row=1, column=n).value: ws.cell(row=2, column=n) for n in range(1, 14)}
    assert cells["Comment"].value == texts["comment"] and cells["Comment"].data_type == "s"
    assert cells["Suggested change"].value == "@SUM(A1:A2)" and cells["Suggested change"].data_type == "s"
    assert cells["Chapter"].value == "-2+3" and cells["Chapter"].data_type == "s"
    assert cells["Reviewer"].value == "=cmd|' /C calc'!A0" and cells["Reviewer"].data_type == "s"
    assert cells["Affiliation"].value == "+SUM(1,2)" and cells["Affiliation"].data_type == "s"
    assert cells["From page"].value == 3 and cells["From page"].data_type == "n"
    assert ws.cell(row=3, column=11).value == "\t=1+1" and ws.cell(row=3, column=11).data_type == "s"
    template = workbook(template_xlsx(consultation, hostile))["Comments"]
    assert template["A2"].value == "=cmd|' /C calc'!A0" and template["A2"].data_type == "s"


def test_the_zip_bombs_are_real_zips():
    for data, size in ((crafted_zip_bomb(), 400 * 1024 * 1024), (real_zip_bomb(), 200 * 1024 * 1024)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert z.getinfo("xl/worksheets/sheet1.xml").file_size == size
        assert len(data) < 400_000
    with zipfile.ZipFile(io.BytesIO(real_zip_bomb())) as z, z.open("xl/worksheets/sheet1.xml") as fh:
        assert fh.read(1 << 20) == b"\0" * (1 << 20)
