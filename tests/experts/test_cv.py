"""CVs: PDF or DOCX by content, size cap, zip bombs, random storage names, and who may download them."""
from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import login

from .conftest import PDF, PNG, docx_bytes, get_expert, zip_bomb

STORED = re.compile(r"^[0-9a-f]{32}\.(pdf|docx)$")


@pytest.fixture
def owner(app, make_expert):
    return make_expert("owner@example.org", first_name="Olga", last_name="Owner")


def cv_files(app) -> list[str]:
    folder = Path(app.instance_path) / "cvs"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def upload(client, url: str, data: bytes, filename: str):
    return client.post(url, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data",
                       follow_redirects=True)


def test_staff_upload_a_pdf(app, owner, staff_client):
    response = upload(staff_client, f"/experts/{owner}/cv", PDF, "Olga CV 2026.pdf")
    assert "CV saved." in response.get_data(as_text=True)
    e = get_expert(app, owner)
    assert STORED.match(e.cv_file)
    assert (e.cv_filename, e.cv_content_type, e.cv_size) == ("Olga CV 2026.pdf", "application/pdf", len(PDF))
    assert cv_files(app) == [e.cv_file]
    assert (Path(app.instance_path) / "cvs" / e.cv_file).read_bytes() == PDF
    assert oct((Path(app.instance_path) / "cvs" / e.cv_file).stat().st_mode & 0o777) == "0o600"


def test_expert_uploads_a_docx_on_their_profile(app, owner, expert_login):
    client = expert_login("olga@example.org", owner)
    document = docx_bytes("Olga Owner — curriculum vitae")
    response = upload(client, "/profile/cv", document, "cv.docx")
    assert "CV saved." in response.get_data(as_text=True)
    e = get_expert(app, owner)
    assert e.cv_file.endswith(".docx")
    assert e.cv_content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    download = client.get(f"/experts/{owner}/cv")
    assert download.status_code == 200
    assert download.data == document
    assert download.headers["Content-Disposition"] == "attachment; filename=cv.docx"


REFUSED = [
    (PNG, "photo.pdf", "A CV must be a PDF or a Word (DOCX) document."),
    (b"<html><script>alert(1)</script></html>", "cv.pdf", "A CV must be a PDF or a Word (DOCX) document."),
    (b"", "empty.pdf", "The file is empty."),
    (b"%PDF-" + b"0" * (5 * 1024 * 1024), "huge.pdf", "The file is larger than 5 MB."),
]


def test_refused_uploads_store_nothing(app, owner, staff_client):
    answers = [message in upload(staff_client, f"/experts/{owner}/cv", data, name).get_data(as_text=True)
               for data, name, message in REFUSED]
    assert answers == [True] * len(REFUSED)
    e = get_expert(app, owner)
    assert (e.cv_file, e.cv_filename, e.cv_size) == (None, None, None)
    assert cv_files(app) == []


def test_a_zip_bomb_docx_is_refused_quickly(app, owner, staff_client):
    bomb = zip_bomb(200)
    started = time.perf_counter()
    response = upload(staff_client, f"/experts/{owner}/cv", bomb, "cv.docx")
    assert time.perf_counter() - started < 2
    assert "The file expands to much more than its size: refused as unsafe." in response.get_data(as_text=True)
    assert get_expert(app, owner).cv_file is None
    assert cv_files(app) == []


def test_a_traversal_filename_is_stored_inside_the_cv_folder_under_a_random_name(app, owner, staff_client):
    upload(staff_client, f"/experts/{owner}/cv", PDF, "../../x.pdf")
    e = get_expert(app, owner)
    assert STORED.match(e.cv_file)
    assert e.cv_filename == "x.pdf"
    folder = (Path(app.instance_path) / "cvs").resolve()
    assert (folder / e.cv_file).resolve().parent == folder
    assert cv_files(app) == [e.cv_file]
    assert not (Path(app.instance_path).parent / "x.pdf").exists()
    assert not (Path(app.instance_path) / "x.pdf").exists()
    upload(staff_client, f"/experts/{owner}/cv", PDF, "/etc/évil name.pdf")
    assert get_expert(app, owner).cv_filename == "évil name.pdf"
    download = staff_client.get(f"/experts/{owner}/cv")
    assert download.headers["Content-Disposition"] == "attachment; filename=evil_name.pdf"


def test_replacing_a_cv_deletes_the_old_file(app, owner, staff_client):
    upload(staff_client, f"/experts/{owner}/cv", PDF, "first.pdf")
    first = get_expert(app, owner).cv_file
    upload(staff_client, f"/experts/{owner}/cv", docx_bytes(), "second.docx")
    second = get_expert(app, owner).cv_file
    assert first != second
    assert cv_files(app) == [second]


def test_a_cv_written_in_a_transaction_that_rolls_back_is_removed(app, owner):
    from focalpoint.experts import services as svc
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        svc.store_cv(db.session.get(Expert, owner), PDF, "cv.pdf", actor=None)
        assert len(cv_files(app)) == 1
        db.session.rollback()
    assert cv_files(app) == []
    assert get_expert(app, owner).cv_file is None


def test_deleting_the_cv(app, owner, staff_client):
    upload(staff_client, f"/experts/{owner}/cv", PDF, "cv.pdf")
    response = staff_client.post(f"/experts/{owner}/cv/delete", follow_redirects=True)
    assert "CV deleted." in response.get_data(as_text=True)
    e = get_expert(app, owner)
    assert (e.cv_file, e.cv_filename, e.cv_content_type, e.cv_size, e.cv_uploaded_at) == (None,) * 5
    assert cv_files(app) == []
    assert staff_client.get(f"/experts/{owner}/cv").status_code == 404


# --- who may download --------------------------------------------------------------------------------------
@pytest.fixture
def stored_cv(app, owner, staff_client):
    upload(staff_client, f"/experts/{owner}/cv", PDF, "Olga.pdf")
    return owner


def test_staff_and_owner_download_with_safe_headers(app, stored_cv, staff_client, expert_login):
    for client in (staff_client, expert_login("olga@example.org", stored_cv)):
        response = client.get(f"/experts/{stored_cv}/cv")
        assert response.status_code == 200
        assert response.data == PDF
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == "attachment; filename=Olga.pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.headers["Cache-Control"] == "no-store"


def test_others_cannot_download(app, stored_cv, make_expert, expert_login, make_user):
    someone = make_expert("someone@example.org", last_name="Else")
    other_expert = expert_login("else@example.org", someone)
    assert other_expert.get(f"/experts/{stored_cv}/cv").status_code == 404
    unlinked = expert_login("unlinked@example.org", None)
    assert unlinked.get(f"/experts/{stored_cv}/cv").status_code == 404
    make_user("rev@example.org", "reviewer")
    reviewer = app.test_client()
    login(reviewer, "rev@example.org")
    assert reviewer.get(f"/experts/{stored_cv}/cv").status_code == 403
    anonymous = app.test_client().get(f"/experts/{stored_cv}/cv")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/login?next=/experts/{stored_cv}/cv"


def test_a_tampered_stored_name_is_never_opened(app, stored_cv, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        db.session.execute(sa.update(Expert).where(Expert.id == stored_cv).values(cv_file="../secret_key"))
        db.session.commit()
    assert staff_client.get(f"/experts/{stored_cv}/cv").status_code == 404
