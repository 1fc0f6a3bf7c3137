"""Expert registry fixtures: records built exactly as described, an expert logged in with their record."""
from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from conftest import login


def build_expert(app, *, email: str, first_name: str = "", last_name: str = "", tags=(), deliverables=(),
                 roles_held=(), **fields) -> int:
    """Store one Expert as described (no service in between): tags as (vocabulary, code), deliverables as codes,
    roles_held as (role, deliverable code, year). Returns its id."""
    from focalpoint.experts.models import Expert, PastRole
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable, ReferenceTerm

    with app.app_context():
        expert = Expert(email=email, first_name=first_name, last_name=last_name, **fields)
        for vocabulary, code in tags:
            expert.terms.append(db.session.scalar(sa.select(ReferenceTerm).where(
                ReferenceTerm.vocabulary == vocabulary, ReferenceTerm.code == code)))
        for code in deliverables:
            expert.deliverables.append(db.session.scalar(sa.select(Deliverable).where(Deliverable.code == code)))
        for role, deliverable, year in roles_held:
            d = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == deliverable))
            expert.roles_held.append(PastRole(role=role, deliverable=d, year_from=year, year_to=year))
        db.session.add(expert)
        db.session.commit()
        return expert.id


@pytest.fixture
def make_expert(app):
    def make(email: str, **kwargs) -> int:
        return build_expert(app, email=email, **kwargs)

    return make


@pytest.fixture
def expert_login(app, make_user):
    """expert_login(email, expert_id) -> a client logged in as a new expert user linked to ``expert_id``."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    def log_in(email: str, expert_id: int | None):
        user_id = make_user(email, "expert")
        if expert_id is not None:
            with app.app_context():
                db.session.get(Expert, expert_id).user_id = user_id
                db.session.commit()
        client = app.test_client()
        assert login(client, email).status_code == 302
        return client

    return log_in


def get_expert(app, expert_id: int):
    """The record, detached, with its tags, deliverables and past roles loaded."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        expert = db.session.get(Expert, expert_id)
        if expert is not None:
            _ = (expert.terms, expert.deliverables, [r.deliverable for r in expert.roles_held], expert.user)
            db.session.expunge_all()
        return expert


# --- files ------------------------------------------------------------------------------------------
def pdf_bytes(text: str = "Curriculum vitae") -> bytes:
    """A real one-page PDF with a text line, its cross-reference table at the right offsets."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF = pdf_bytes()

#: The 8-byte PNG signature and an IHDR chunk: an image, whatever its name says.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" + \
    b"\x00" * 64


def docx_bytes(text: str = "Curriculum vitae") -> bytes:
    """A real DOCX written by python-docx (or, without it, the minimal parts Word needs)."""
    try:
        import docx
    except ImportError:
        return minimal_docx(text)
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def minimal_docx(text: str = "Curriculum vitae") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                   'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
                   '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
                   'document.main+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                   f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>')
    return out.getvalue()


def zip_bomb(megabytes: int = 200) -> bytes:
    """A .docx-shaped ZIP whose document.xml inflates to ``megabytes`` MB of zeros (about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                fh.write(chunk)
    return out.getvalue()
