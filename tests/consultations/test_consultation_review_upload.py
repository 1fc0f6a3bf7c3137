"""The review workspace's files: the template prefilled with the expert, the filled template's upload
(good rows kept, bad rows reported by row and column, refused files), document downloads limited to the
expert's own consultation, and a constant number of queries per workspace page."""
from __future__ import annotations

import datetime as dt
import io
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from consultation_helpers import TODAY, make_comment, make_consultation, make_expert, make_participant
from openpyxl import Workbook, load_workbook

from conftest import login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
COLUMNS = ("Reviewer", "Email", "Affiliation", "Country", "Document", "Chapter", "From page", "From line", "To page",
           "To line", "Comment", "Suggested change", "Type")


def _text(response) -> str:
    return response.get_data(as_text=True)


def seed(app, make_user=None, *, ann_account=False, **consultation) -> dict:
    """A consultation (two link documents and one stored PDF) with Ann invited, and another consultation
    (with its own stored PDF) Ann is not invited to."""
    from focalpoint.consultations import links
    from focalpoint.consultations.services import add_document_file
    from focalpoint.extensions import db

    user_id = make_user("ann.peeters@example.org", "expert", name="Ann Peeters") if ann_account else None
    with app.app_context():
        c = make_consultation(**consultation)
        stored = add_document_file(c, PDF, "Chapter 2 – draft.pdf", title="Chapter 2", actor=None)
        other = make_consultation("Pollinators assessment, first order draft", documents=())
        foreign = add_document_file(other, PDF + b"% other\n", "other.pdf", title="Other draft", actor=None)
        ann = make_expert("Ann", "Peeters", user_id=user_id, affiliation="Ghent University")
        participant = make_participant(c, ann)
        secret = links.new_secret(participant)
        db.session.commit()
        return {"id": c.id, "other_id": other.id, "secret": secret, "pa": participant.id, "ann": ann.id,
                "stored": stored.id, "foreign": foreign.id, "link_doc": c.documents[0].id}


def xlsx(rows, columns=COLUMNS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Comments"
    ws.append(list(columns))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def row(document="SPM", page=3, comment="A comment.", kind="Specific", *, chapter="", line="", suggestion=""):
    return ("", "", "", "", document, chapter, page, line, "", "", comment, suggestion, kind)


def upload(client, secret, data: bytes, name="review.xlsx", **extra):
    return client.post(f"/review/{secret}/upload", data={"file": (io.BytesIO(data), name), **extra},
                       content_type="multipart/form-data")


def stored_comments(app, participant_id) -> list[tuple]:
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        return [(c.document_title, c.page_from, c.comment, c.comment_type.value, c.source.value, c.reviewer_name)
                for c in db.session.scalars(sa.select(ReviewComment).where(
                    ReviewComment.participant_id == participant_id).order_by(ReviewComment.id))]


# --- the template ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("door", ["link", "account"])
def test_the_template_comes_prefilled_with_the_experts_identity(app, make_user, door):
    world = seed(app, make_user, ann_account=True)
    if door == "link":
        client, path = app.test_client(), f"/review/{world['secret']}/template.xlsx"
    else:
        client = app.test_client()
        assert login(client, "ann.peeters@example.org").status_code == 302
        path = f"/consultations/{world['id']}/review/template.xlsx"
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == \
        f"attachment; filename=consultation-{world['id']}-template.xlsx"
    if door == "link":
        assert response.headers["Referrer-Policy"] == "no-referrer"
    sheet = load_workbook(io.BytesIO(response.data))["Comments"]
    values = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    assert values[0] == COLUMNS
    assert values[1][:4] == ("Ann Peeters", "ann.peeters@example.org", "Ghent University", "Belgium")
    assert all(v is None for v in values[1][4:])


# --- uploading ---------------------------------------------------------------------------------------------
def test_uploading_the_filled_template_adds_the_experts_comments(app, client):
    world = seed(app)
    data = xlsx([row("SPM", 3, "First remark.", "General"), row("Chapter 1", 7, "Second remark.", "Editorial")])
    response = upload(client, world["secret"], data)
    assert response.status_code == 200
    body = _text(response)
    assert "2 comments imported." in body
    assert "First remark." in body and "Second remark." in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert stored_comments(app, world["pa"]) == [
        ("SPM", 3, "First remark.", "general", "upload", "Ann Peeters"),
        ("Chapter 1", 7, "Second remark.", "editorial", "upload", "Ann Peeters")]
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        entries = [(e.action, e.actor_id, e.data) for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.in_(["comments.import", "consultation.upload"]))
            .order_by(AuditEntry.id))]
    assert entries == [
        ("comments.import", None, {"source": "upload", "expert": world["ann"], "imported": 2, "failed": 0}),
        ("consultation.upload", None, {"via": "link", "imported": 2, "failed": 0})]


def test_a_bad_row_is_reported_by_row_and_column_and_the_good_rows_are_kept(app, client):
    world = seed(app)
    data = xlsx([row("SPM", 3, "Good one."), row("SPM", "twelve", "Bad page."), row("Annex 9", 2, ""),
                 row("Chapter 1", 8, "Good two.")])
    response = upload(client, world["secret"], data)
    assert response.status_code == 200
    body = _text(response)
    assert "2 comments imported." in body
    assert "2 rows have problems and were not imported" in body
    table = re.search(r'<table class="table table-sm import-errors">.*?</table>', body, re.S).group(0)
    cells = [tuple(c.strip() for c in re.findall(r"<td>(.*?)</td>", tr, re.S))
             for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert cells == [
        ("3", "From page", "From page must be a whole number, not “twelve”."),
        ("4", "Document", "Unknown document “Annex 9” (this consultation has: SPM, Chapter 1, Chapter 2)."),
        ("4", "Comment", "The comment is missing."),
    ]
    assert [c[2] for c in stored_comments(app, world["pa"])] == ["Good one.", "Good two."]


def test_checking_a_file_saves_nothing(app, client):
    world = seed(app)
    response = upload(client, world["secret"], xlsx([row("SPM", 3, "Only checked.")]), dry_run="y")
    assert response.status_code == 200
    assert "1 row is ready to import." in _text(response)
    assert "Check of your file (nothing was saved)" in _text(response)
    assert stored_comments(app, world["pa"]) == []


@pytest.mark.parametrize(("data", "name", "message"), [
    (PDF, "review.xlsx", "The file is not an Excel workbook (.xlsx)"),
    (b"", "review.xlsx", "The file is empty."),
    (None, "", "Choose the filled template to send."),
])
def test_a_refused_file_says_why_and_stores_nothing(app, client, data, name, message):
    world = seed(app)
    if data is None:
        response = client.post(f"/review/{world['secret']}/upload", data={}, content_type="multipart/form-data")
    else:
        response = upload(client, world["secret"], data, name)
    assert response.status_code == 422
    assert message in re.search(r'<div class="alert alert-danger upload-error" role="alert">(.*?)</div>',
                                _text(response), re.S).group(1)
    assert stored_comments(app, world["pa"]) == []


def test_a_file_sent_after_the_close_is_refused(app, client):
    world = seed(app, opens_on=TODAY - dt.timedelta(days=20), closes_on=TODAY - dt.timedelta(days=1))
    response = upload(client, world["secret"], xlsx([row()]))
    assert response.status_code == 409
    assert "The consultation is closed" in _text(response)
    assert stored_comments(app, world["pa"]) == []


# --- documents ---------------------------------------------------------------------------------------------
def test_a_stored_document_downloads_only_within_the_experts_consultation(app, make_user):
    world = seed(app, make_user, ann_account=True)
    link = app.test_client()
    body = _text(link.get(f"/review/{world['secret']}"))
    assert f'href="/review/{world["secret"]}/documents/{world["stored"]}" download' in body
    response = link.get(f"/review/{world['secret']}/documents/{world['stored']}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=Chapter_2.pdf"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    account = app.test_client()
    assert login(account, "ann.peeters@example.org").status_code == 302
    own = account.get(f"/consultations/{world['id']}/review/documents/{world['stored']}")
    assert own.status_code == 200 and own.data == PDF
    for client, prefix in ((link, f"/review/{world['secret']}"), (account, f"/consultations/{world['id']}/review")):
        for document_id in (world["foreign"], world["link_doc"], 999_999):
            assert client.get(f"{prefix}/documents/{document_id}").status_code == 404
    assert account.get(f"/consultations/{world['other_id']}/review/documents/{world['foreign']}").status_code == 404


# --- queries per page --------------------------------------------------------------------------------------
@contextmanager
def counting(app):
    from focalpoint.extensions import db

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _queries(app, make_user, own: int) -> dict[str, int]:
    from focalpoint.consultations import links
    from focalpoint.extensions import db

    email = f"q{own}@example.org"
    user_id = make_user(email, "expert")
    with app.app_context():
        c = make_consultation(f"Consultation with {own}")
        expert = make_expert("Quinn", f"Q{own}", user_id=user_id)
        other = make_expert("Otto", f"O{own}")
        mine, theirs = make_participant(c, expert), make_participant(c, other)
        secret = links.new_secret(mine)
        for i in range(own):
            make_comment(c, mine, document=("SPM", "Chapter 1")[i % 2], page_from=i + 1, comment=f"Mine {i}",
                         decision="adopt" if i % 3 == 0 else None)
            make_comment(c, theirs, comment=f"Theirs {i}")
        cid = c.id
        db.session.commit()
    account = app.test_client()
    assert login(account, email).status_code == 302
    counts = {}
    for name, client, path in (("link", app.test_client(), f"/review/{secret}"),
                               ("account", account, f"/consultations/{cid}/review"),
                               ("list", account, "/consultations")):
        with counting(app) as statements:
            response = client.get(path)
        assert response.status_code == 200
        if name != "list":
            assert _text(response).count('class="border rounded p-3 mb-3 own-comment"') == own
        counts[name] = len(statements)
    return counts


def test_queries_per_workspace_page_do_not_grow_with_the_comments(app, make_user):
    small = _queries(app, make_user, 5)
    large = _queries(app, make_user, 50)
    assert small == large, (small, large)
