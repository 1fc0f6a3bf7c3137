"""Staff's consultation pages: create and edit, documents, inviting experts and their e-mails, removing
them, consolidation, the spreadsheets, and who may open what."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa
from consultation_helpers import TODAY, deliverable_id, make_comment, make_consultation, make_expert, make_participant

from conftest import login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LINK = re.compile(r"http://focalpoint\.test/review/([A-Za-z0-9_-]+)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flashes(response) -> str:
    return " ".join(re.sub(r"\s+", " ", m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>',
                                                                 _text(response), re.S))


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def seed(app, **fields) -> int:
    with app.app_context():
        from focalpoint.extensions import db

        consultation = make_consultation(**fields)
        db.session.commit()
        return consultation.id


def rows(app, model, *where, order=None) -> list:
    from focalpoint.extensions import db

    with app.app_context():
        stmt = sa.select(model).where(*where).order_by(order if order is not None else model.id)
        return [{c.name: getattr(r, c.name) for c in model.__table__.columns} for r in db.session.scalars(stmt)]


def outbox(app, **where) -> list[dict]:
    from focalpoint.mail import OutboxMessage

    return rows(app, OutboxMessage, *(getattr(OutboxMessage, k) == v for k, v in where.items()))


def audit(app, object_type: str, object_id: int) -> list[tuple[str, dict]]:
    from focalpoint.audit import AuditEntry

    return [(r["action"], r["data"]) for r in rows(app, AuditEntry, AuditEntry.object_type == object_type,
                                                    AuditEntry.object_id == object_id)]


FORM = {"title": "Spatial planning assessment: second order draft", "deliverable_id": "0", "draft": "sod",
        "description": "Chapters 1 to 6 and the SPM.", "confidentiality_note": "Drafts are confidential.",
        "opens_on": "2031-03-01", "closes_on": "2031-03-31", "secretariat_deadline": "2031-04-10",
        "reminder_days": "7; 2"}


# --- create and edit ------------------------------------------------------------------------------------
def test_staff_create_a_consultation(app, staff_client):
    from focalpoint.consultations.models import Consultation

    form = dict(FORM, deliverable_id=str(_deliverable(app, "spatial-planning")))
    response = staff_client.post("/consultations/new", data=form)
    assert response.status_code == 302
    [row] = rows(app, Consultation)
    assert response.headers["Location"] == f"/consultations/{row['id']}"
    assert (row["title"], row["draft"].value, row["opens_on"], row["closes_on"], row["secretariat_deadline"],
            row["reminder_days"], row["confidentiality_note"]) == (
        "Spatial planning assessment: second order draft", "sod", dt.date(2031, 3, 1), dt.date(2031, 3, 31),
        dt.date(2031, 4, 10), "7;2", "Drafts are confidential.")
    assert audit(app, "consultations", row["id"])[0][0] == "consultation.created"
    page = _text(staff_client.get(f"/consultations/{row['id']}"))
    assert "Spatial planning assessment: second order draft" in page
    assert "Second order draft" in page
    assert "Spatial planning and ecological connectivity" in page


def _deliverable(app, code: str) -> int:
    with app.app_context():
        return deliverable_id(code)


@pytest.mark.parametrize(("change", "message"), [
    ({"closes_on": "2031-02-27"}, "The closing date must be on or after the opening date."),
    ({"title": "  "}, "This field is required."),
    ({"opens_on": ""}, "This field is required."),
    ({"closes_on": "31/03/2031"}, "Not a valid date value."),
    ({"reminder_days": "a week"}, "Numbers of days separated by semicolons: 7;2"),
])
def test_create_refuses_bad_values_with_a_message_by_field(app, staff_client, change, message):
    from focalpoint.consultations.models import Consultation

    response = staff_client.post("/consultations/new", data=dict(FORM, **change))
    assert response.status_code == 400
    assert message in _text(response)
    assert rows(app, Consultation) == []


def test_the_service_refuses_a_close_before_the_open(app):
    from focalpoint.consultations import services as svc

    with app.app_context():
        with pytest.raises(svc.ConsultationError, match="closes before it opens") as caught:
            svc.create_consultation(actor=None, title="X", opens_on=dt.date(2031, 3, 2), closes_on=dt.date(2031, 3, 1))
        assert caught.value.field == "closes_on"


def _review_notification(app) -> int:
    from focalpoint.extensions import db
    from focalpoint.notifications import services as nsvc
    from focalpoint.notifications.models import NotificationKind

    with app.app_context():
        n = nsvc.create_manual(
            title="EM/2031/07: External review of the summary for policymakers of the nexus assessment",
            text="Governments are invited to review the draft summary for policymakers of the nexus assessment "
                 "by 20 May 2031.", link=None, published=dt.date(2031, 4, 1), actor=None)
        if n.kind != NotificationKind.REVIEW:
            nsvc.override_kind(n, NotificationKind.REVIEW, actor=None)
        db.session.commit()
        return n.id


def test_a_review_notification_starts_a_consultation_with_its_title_deliverable_and_close(app, staff_client):
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    notification_id = _review_notification(app)
    detail = _text(staff_client.get(f"/notifications/{notification_id}"))
    assert f'href="/consultations/new?notification={notification_id}"' in detail
    assert "Start a consultation" in detail
    with app.app_context():
        national = db.session.get(Notification, notification_id).national_deadline
    page = _text(staff_client.get(f"/consultations/new?notification={notification_id}"))
    assert 'value="EM/2031/07: External review of the summary for policymakers of the nexus assessment"' in page
    assert f'value="{national.isoformat()}"' in page  # the close is the national deadline
    assert 'value="2031-05-20"' in page  # the secretariat's deadline
    assert f'<option selected value="{_deliverable(app, "nexus")}">' in page
    assert '<option selected value="spm">' in page
    form = dict(FORM, title="Nexus SOD", notification_id=str(notification_id))
    response = staff_client.post("/consultations/new", data=form)
    assert response.status_code == 302
    [row] = rows(app, Consultation)
    assert row["notification_id"] == notification_id
    again = _text(staff_client.get(f"/consultations/new?notification={notification_id}"))
    assert "A consultation already exists for this notification" in again


def test_other_notifications_offer_no_consultation(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.notifications import services as nsvc
    from focalpoint.notifications.models import NotificationKind

    with app.app_context():
        n = nsvc.create_manual(title="Call for experts", text="Nominate experts.", link=None, published=None,
                               actor=None)
        nsvc.override_kind(n, NotificationKind.EXPERT_CALL, actor=None)
        db.session.commit()
        notification_id = n.id
    assert "Start a consultation" not in _text(staff_client.get(f"/notifications/{notification_id}"))
    assert staff_client.get("/consultations/new?notification=abc").status_code == 404
    assert staff_client.get("/consultations/new?notification=99999").status_code == 404


def test_edit_saves_and_a_stale_version_is_refused_showing_the_other_change(app, staff_client):
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db

    cid = seed(app, closes_on=dt.date(2031, 3, 31), opens_on=dt.date(2031, 3, 1))
    page = _text(staff_client.get(f"/consultations/{cid}/edit"))
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    response = staff_client.post(f"/consultations/{cid}/edit", data=dict(FORM, title="Renamed", version=version))
    assert response.status_code == 302
    with app.app_context():
        consultation = db.session.get(Consultation, cid)
        assert consultation.title == "Renamed"
        consultation.closes_on = dt.date(2031, 4, 15)  # someone else saves meanwhile
        db.session.commit()
    stale = staff_client.post(f"/consultations/{cid}/edit", data=dict(FORM, title="Mine", version=version))
    assert stale.status_code == 400
    body = _text(stale)
    assert "Someone changed this since you opened the page; nothing was saved." in body
    assert "Someone saved this consultation while you were editing it." in body
    saved = re.search(r"What they saved:.*?</ul>", body, re.S).group(0)
    assert re.findall(r"<li>(.*?)</li>", saved) == ["Title: <strong>Renamed</strong>",
                                                    "Closes on: <strong>Apr 15, 2031</strong>"]
    assert [r["title"] for r in rows(app, Consultation)] == ["Renamed"]


# --- the list ---------------------------------------------------------------------------------------------
def _list_world(app) -> dict:
    from focalpoint.extensions import db

    with app.app_context():
        upcoming = make_consultation("Values assessment: scoping", draft="scoping", deliverable="values",
                                     opens_on=TODAY + dt.timedelta(days=5), closes_on=TODAY + dt.timedelta(days=30))
        open_ = make_consultation("Nexus assessment: second order draft", deliverable="nexus")
        closed = make_consultation("Pollinators: first order draft", draft="fod", deliverable="pollinators",
                                   opens_on=TODAY - dt.timedelta(days=40), closes_on=TODAY - dt.timedelta(days=5))
        experts = [make_expert(f"E{i}", "Expert") for i in range(3)]
        participants = [make_participant(open_, e) for e in experts]
        make_participant(closed, experts[0], removed=True)
        for i, p in enumerate(participants):
            make_comment(open_, p, comment=f"c{i}", decision="adopt" if i == 0 else None)
        make_comment(closed, experts[0], comment="x", decision="reject")
        make_comment(closed, experts[1], comment="y", decision="adopt")
        db.session.commit()
        return {"upcoming": upcoming.id, "open": open_.id, "closed": closed.id}


def _listed(response) -> list[str]:
    return re.findall(r'<a href="/consultations/\d+">([^<]+)</a>', _text(response))


def test_the_list_searches_filters_sorts_and_counts(app, staff_client):
    _list_world(app)
    everything = staff_client.get("/consultations")
    assert _listed(everything) == ["Values assessment: scoping", "Nexus assessment: second order draft",
                                   "Pollinators: first order draft"]  # closes last first
    body = _text(everything)
    row = re.search(r"Nexus assessment: second order draft</a>.*?</tr>", body, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", row) == ["3", "3"]  # participants, comments
    assert "1 of 3" in row
    closed_row = re.search(r"Pollinators: first order draft</a>.*?</tr>", body, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", closed_row) == ["0", "2"]  # the removed participant does not count
    assert "2 of 2" in closed_row
    assert _listed(staff_client.get("/consultations?state=open")) == ["Nexus assessment: second order draft"]
    assert _listed(staff_client.get("/consultations?state=upcoming")) == ["Values assessment: scoping"]
    assert _listed(staff_client.get("/consultations?state=closed")) == ["Pollinators: first order draft"]
    assert _listed(staff_client.get("/consultations?draft=fod")) == ["Pollinators: first order draft"]
    nexus = _deliverable(app, "nexus")
    assert _listed(staff_client.get(f"/consultations?deliverable={nexus}")) == [
        "Nexus assessment: second order draft"]
    assert _listed(staff_client.get("/consultations?q=pollination")) == ["Pollinators: first order draft"]
    assert _listed(staff_client.get("/consultations?q=scoping")) == ["Values assessment: scoping"]
    assert _listed(staff_client.get("/consultations?sort=title&dir=asc")) == [
        "Nexus assessment: second order draft", "Pollinators: first order draft", "Values assessment: scoping"]
    assert _listed(staff_client.get("/consultations?sort=comments&dir=desc")) == [
        "Nexus assessment: second order draft", "Pollinators: first order draft", "Values assessment: scoping"]
    assert _listed(staff_client.get("/consultations?sort=decided&dir=desc"))[0] == "Pollinators: first order draft"
    assert _listed(staff_client.get("/consultations?sort=nonsense&state=nonsense&draft=x&deliverable=x"))[0] == \
        "Values assessment: scoping"


def test_the_list_paginates(app, staff_client):
    from focalpoint.extensions import db

    app.config["PAGE_SIZE"] = 2
    with app.app_context():
        for i in range(5):
            make_consultation(f"Consultation {i}", closes_on=TODAY + dt.timedelta(days=i + 1))
        db.session.commit()
    assert _listed(staff_client.get("/consultations")) == ["Consultation 4", "Consultation 3"]
    assert _listed(staff_client.get("/consultations?page=3")) == ["Consultation 0"]


# --- documents --------------------------------------------------------------------------------------------
def _upload(client, cid, data: bytes, name: str, title: str = "Chapter 2"):
    return client.post(f"/consultations/{cid}/documents",
                       data={"title": title, "file": (io.BytesIO(data), name), "url": ""},
                       content_type="multipart/form-data", follow_redirects=True)


def test_a_pdf_is_stored_under_a_random_name_and_downloaded_as_an_attachment(app, staff_client):
    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=())
    response = _upload(staff_client, cid, PDF, "../../etc/Draft chapter 2.pdf")
    assert "Document added: Chapter 2." in _flashes(response)
    [doc] = rows(app, ConsultationDocument)
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", doc["stored_file"])
    assert (doc["filename"], doc["content_type"], doc["size"]) == ("Draft chapter 2.pdf", "application/pdf",
                                                                   len(PDF))
    stored = f"{app.instance_path}/consultation_documents/{doc['stored_file']}"
    with open(stored, "rb") as fh:
        assert fh.read() == PDF
    download = staff_client.get(f"/consultations/{cid}/documents/{doc['id']}")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"] == "attachment; filename=Chapter_2.pdf"
    assert download.mimetype == "application/pdf"


def test_a_docx_is_accepted_by_its_content(app, staff_client):
    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=())
    _upload(staff_client, cid, _docx(), "chapter.bin")
    [doc] = rows(app, ConsultationDocument)
    assert doc["content_type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert doc["stored_file"].endswith(".docx")


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"MZ\x90\x00\x03" + b"\x00" * 200, "report.pdf", "A document must be a PDF or a Word (DOCX) file."),
    (b"", "empty.pdf", "The file is empty."),
    (b"PK\x03\x04not really a zip", "fake.docx", "The file is damaged or not of an accepted type."),
])
def test_a_file_that_is_not_a_pdf_or_docx_is_refused(app, staff_client, data, name, message):
    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=())
    response = _upload(staff_client, cid, data, name)
    assert message in _flashes(response)
    assert rows(app, ConsultationDocument) == []


def test_a_file_too_large_is_refused_and_nothing_is_left_on_disk(app, staff_client):
    import os

    from focalpoint.consultations.models import ConsultationDocument

    app.config["CONSULTATION_UPLOAD_MAX_MB"] = 1
    cid = seed(app, documents=())
    response = _upload(staff_client, cid, PDF + b"0" * (1024 * 1024), "big.pdf")
    assert "The file is larger than 1 MB." in _flashes(response)
    assert rows(app, ConsultationDocument) == []
    folder = f"{app.instance_path}/consultation_documents"
    assert not os.path.isdir(folder) or os.listdir(folder) == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example.org/d.pdf", "files.example.org/d.pdf",
                                 "https://", "https://files.example.org/a b.pdf", "data:text/html,x"])
def test_a_link_must_be_http_or_https(app, staff_client, url):
    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=())
    response = staff_client.post(f"/consultations/{cid}/documents", data={"title": "SPM", "url": url},
                                 follow_redirects=True)
    assert "A link must be a web address starting with http:// or https://." in _flashes(response)
    assert rows(app, ConsultationDocument) == []


def test_a_link_is_added_and_titles_stay_unique(app, staff_client):
    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=("SPM",))
    response = staff_client.post(f"/consultations/{cid}/documents",
                                 data={"title": "Chapter 1", "url": "https://ipbes.net/drafts/ch1.pdf"},
                                 follow_redirects=True)
    assert "Document added: Chapter 1." in _flashes(response)
    clash = staff_client.post(f"/consultations/{cid}/documents", data={"title": "spm", "url": "https://x.org/"},
                              follow_redirects=True)
    assert "This consultation already has a document titled “spm”." in _flashes(clash)
    neither = staff_client.post(f"/consultations/{cid}/documents", data={"title": "Chapter 9"}, follow_redirects=True)
    assert "Choose a file to upload or give a link." in _flashes(neither)
    assert [(d["title"], d["url"], d["position"]) for d in rows(app, ConsultationDocument)] == [
        ("SPM", "https://files.example.org/0.pdf", 0), ("Chapter 1", "https://ipbes.net/drafts/ch1.pdf", 1)]
    page = _text(staff_client.get(f"/consultations/{cid}"))
    assert 'href="https://ipbes.net/drafts/ch1.pdf" rel="noopener noreferrer nofollow"' in page


def test_documents_are_removed_with_their_file_and_reordered(app, staff_client):
    import os

    from focalpoint.consultations.models import ConsultationDocument

    cid = seed(app, documents=("SPM", "Chapter 1"))
    _upload(staff_client, cid, PDF, "c2.pdf", title="Chapter 2")
    docs = rows(app, ConsultationDocument)
    stored = f"{app.instance_path}/consultation_documents/{docs[2]['stored_file']}"
    page = _text(staff_client.get(f"/consultations/{cid}"))
    assert 'data-confirm="Remove the document Chapter 2? Comments on it keep its title."' in page
    staff_client.post(f"/consultations/{cid}/documents/{docs[2]['id']}/move", data={"direction": "up"})
    assert [d["title"] for d in rows(app, ConsultationDocument, order=ConsultationDocument.position)] == [
        "SPM", "Chapter 2", "Chapter 1"]
    response = staff_client.post(f"/consultations/{cid}/documents/{docs[2]['id']}/remove", follow_redirects=True)
    assert "Document removed: Chapter 2." in _flashes(response)
    assert not os.path.exists(stored)
    assert [d["title"] for d in rows(app, ConsultationDocument)] == ["SPM", "Chapter 1"]
    other = seed(app, title="Other", documents=("X",))
    [x] = rows(app, ConsultationDocument, ConsultationDocument.consultation_id == other)
    assert staff_client.post(f"/consultations/{cid}/documents/{x['id']}/remove").status_code == 404
    assert staff_client.get(f"/consultations/{cid}/documents/{docs[0]['id']}").status_code == 404  # a link


# --- inviting ---------------------------------------------------------------------------------------------
def _registry(app) -> dict:
    """Experts of every kind: by region, with and without consent, pending review, erased, merged."""
    from focalpoint.experts.models import ExpertStatus, PastRole
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination, NominationCall, NominationState
    from focalpoint.reference.models import Deliverable

    with app.app_context():
        nexus = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == "nexus"))
        ann = make_expert("Ann", "Peeters", region="flanders", preferred_language="nl")
        bob = make_expert("Bob", "Claes", region="wallonia")
        cleo = make_expert("Cleo", "Dubois", region="flanders")
        cleo.consent_contact_at = None
        dirk = make_expert("Dirk", "Maes", region="flanders", status=ExpertStatus.PENDING_REVIEW)
        eva = make_expert("Eva", "Janssens", region="flanders")
        eva.status, eva.email = ExpertStatus.ERASED, None
        fien = make_expert("Fien", "Wouters", region="flanders")
        gert = make_expert("Gert", "Smet", region="brussels")
        fien.merged_into_id = gert.id
        hana = make_expert("Hana", "Nys", region="brussels")
        ivo = make_expert("Ivo", "Leys", region="brussels")
        jan = make_expert("Jan", "Vos", region="brussels")
        ann.deliverables.append(nexus)
        cleo.deliverables.append(nexus)
        dirk.deliverables.append(nexus)
        bob.roles_held.append(PastRole(role="LA", deliverable_id=nexus.id, year_from=2020))
        call = NominationCall(title="Nexus call", national_deadline=TODAY, deliverable_id=nexus.id)
        other_call = NominationCall(title="Values call", national_deadline=TODAY,
                                    deliverable_id=deliverable_id("values"))
        db.session.add_all([call, other_call])
        db.session.flush()
        db.session.add_all([Nomination(call_id=call.id, expert_id=hana.id, state=NominationState.SELECTED,
                                       selected_role="LA"),
                            Nomination(call_id=call.id, expert_id=ivo.id, state=NominationState.CANDIDATE),
                            Nomination(call_id=other_call.id, expert_id=jan.id, state=NominationState.SELECTED,
                                       selected_role="LA")])
        consultation = make_consultation(documents=("SPM",), confidentiality_note="Do not cite or distribute.")
        db.session.commit()
        return {"cid": consultation.id, **{e.first_name.lower(): e.id for e in
                                           (ann, bob, cleo, dirk, eva, fien, gert, hana, ivo, jan)}}


def _participants(app, cid) -> dict[int, dict]:
    from focalpoint.consultations.models import Participant

    return {p["expert_id"]: p for p in rows(app, Participant, Participant.consultation_id == cid)}


def test_the_invite_page_lists_active_experts_with_the_registry_filters(app, staff_client):
    world = _registry(app)
    page = _text(staff_client.get(f"/consultations/{world['cid']}/invite?region=flanders"))
    listed = re.findall(r'<label for="expert-(\d+)">', page)
    assert [int(i) for i in listed] == [world["cleo"], world["ann"]]  # by last name; not Dirk, Eva, Fien
    assert "has not consented to be contacted" in page
    assert f'value="{world["cleo"]}" id="expert-{world["cleo"]}" disabled' in page
    assert 'id="f-discipline"' in page and 'id="f-status"' not in page  # the registry's filters, minus status


def test_invite_the_checked_experts_sends_them_the_invitation_and_skips_with_reasons(app, staff_client):
    world = _registry(app)
    cid = world["cid"]
    ids = [world[n] for n in ("ann", "bob", "cleo", "dirk", "eva")]
    response = staff_client.post(f"/consultations/{cid}/invite",
                                 data={"mode": "selected", "send": "1", "expert_id": [str(i) for i in ids]},
                                 follow_redirects=True)
    flashes = _flashes(response)
    assert "2 experts invited; the invitations are on their way." in flashes
    assert flashes.count("Not invited: ") == 1
    assert "Cleo Dubois (has not consented to be contacted)" in flashes
    assert "Dirk Maes (pending review in the registry)" in flashes
    assert "Eva Janssens (no longer in the registry)" in flashes
    participants = _participants(app, cid)
    assert sorted(participants) == sorted([world["ann"], world["bob"]])
    assert all(p["sent_at"] is not None and p["token_hash"] for p in participants.values())
    assert sorted(m["to_addr"] for m in outbox(app, category="consultation-invitation")) == [
        "ann.peeters@example.org", "bob.claes@example.org"]
    again = staff_client.post(f"/consultations/{cid}/invite",
                              data={"mode": "selected", "send": "1", "expert_id": [str(world["ann"])]},
                              follow_redirects=True)
    assert "Not invited: Ann Peeters (already invited)." in _flashes(again)
    assert len(_participants(app, cid)) == 2
    assert len(outbox(app, category="consultation-invitation")) == 2


def test_invite_everyone_matching_the_filters_without_sending(app, staff_client):
    world = _registry(app)
    cid = world["cid"]
    response = staff_client.post(f"/consultations/{cid}/invite", data={"mode": "filters", "region": "brussels"},
                                 follow_redirects=True)
    assert "4 experts added; the invitations are not sent yet." in _flashes(response)
    participants = _participants(app, cid)
    assert sorted(participants) == sorted(world[n] for n in ("gert", "hana", "ivo", "jan"))
    assert all(p["sent_at"] is None and p["token_hash"] is None for p in participants.values())
    assert outbox(app) == []
    body = _text(response)
    assert "Send the invitation to the 4 experts not told yet" in body
    assert body.count(">not sent</span>") == 4
    sent = staff_client.post(f"/consultations/{cid}/send", follow_redirects=True)
    assert "4 invitations are on their way." in _flashes(sent)
    assert all(p["sent_at"] is not None for p in _participants(app, cid).values())
    again = staff_client.post(f"/consultations/{cid}/send", follow_redirects=True)
    assert "Every participant has been sent the invitation already." in _flashes(again)
    assert len(outbox(app)) == 4


def test_invite_everyone_involved_in_the_deliverable(app, staff_client):
    world = _registry(app)
    cid = world["cid"]
    listing = _text(staff_client.get(f"/consultations/{cid}/invite?involved=1"))
    assert sorted(int(i) for i in re.findall(r'<label for="expert-(\d+)">', listing)) == sorted(
        world[n] for n in ("ann", "bob", "cleo", "hana"))
    assert "declared expertise" in listing and "past role" in listing and "nominated" in listing
    response = staff_client.post(f"/consultations/{cid}/invite", data={"mode": "deliverable", "send": "1"},
                                 follow_redirects=True)
    assert "3 experts invited; the invitations are on their way." in _flashes(response)
    assert "Not invited: Cleo Dubois (has not consented to be contacted)." in _flashes(response)
    # Declared (Ann), past role (Bob), selected on a call for it (Hana); not a mere candidate (Ivo), not
    # selected for another deliverable (Jan), not pending review (Dirk).
    assert sorted(_participants(app, cid)) == sorted(world[n] for n in ("ann", "bob", "hana"))


def test_without_a_deliverable_there_is_no_one_involved(app, staff_client):
    cid = seed(app, deliverable=None)
    response = staff_client.post(f"/consultations/{cid}/invite", data={"mode": "deliverable", "send": "1"},
                                 follow_redirects=True)
    assert "The consultation has no deliverable: pick the experts from the registry." in _flashes(response)
    empty = staff_client.post(f"/consultations/{cid}/invite", data={}, follow_redirects=True)
    assert "Nobody to invite: check at least one expert." in _flashes(empty)


def _invite(app, client, cid, expert_ids) -> None:
    response = client.post(f"/consultations/{cid}/invite",
                           data={"mode": "selected", "send": "1", "expert_id": [str(i) for i in expert_ids]})
    assert response.status_code == 302


def test_the_invitation_mail_carries_the_facts_and_a_working_personal_link(app, staff_client):
    from focalpoint.consultations import links
    from focalpoint.extensions import db

    world = _registry(app)
    cid = world["cid"]
    with app.app_context():
        from focalpoint.consultations.models import Consultation

        c = db.session.get(Consultation, cid)
        c.closes_on = dt.date(2031, 6, 30)
        c.opens_on = TODAY
        db.session.commit()
    _invite(app, staff_client, cid, [world["bob"]])
    [mail] = outbox(app, category="consultation-invitation")
    participant = _participants(app, cid)[world["bob"]]
    assert mail["to_addr"] == "bob.claes@example.org"
    assert mail["subject"] == "Invitation to review: Nexus assessment, second order draft"
    assert mail["idem_key"] == f"consultation:{cid}:participant:{participant['id']}:invitation:1"
    assert (mail["related_type"], mail["related_id"]) == ("consultation_participants", participant["id"])
    text = mail["text_body"]
    for expected in ("Dear Bob Claes,", "Nexus assessment, second order draft", "Draft: Second order draft",
                     "Deliverable: Nexus (biodiversity, water, food and health)",
                     "Comments until the end of June 30, 2031.", "Documents: SPM",
                     "Confidentiality: Do not cite or distribute.",
                     "download the review template, fill it in Excel and upload it"):
        assert expected in text, expected
    [secret] = set(LINK.findall(text))
    assert LINK.findall(mail["html_body"]) == [secret] * 3
    assert participant["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    with app.app_context():
        assert links.find_participant(secret).id == participant["id"]
    assert app.test_client().get(f"/review/{secret}").status_code == 200


def test_the_invitation_is_written_in_the_experts_language(app, staff_client):
    world = _registry(app)
    _invite(app, staff_client, world["cid"], [world["ann"]])  # Ann prefers Dutch
    [mail] = outbox(app, category="consultation-invitation")
    assert '<html lang="nl">' in mail["html_body"]
    months_nl = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                 "oktober", "november", "december")
    assert any(m in mail["text_body"] for m in months_nl)  # the close date in Dutch


def test_resending_replaces_the_link(app, staff_client):
    from focalpoint.consultations import links

    world = _registry(app)
    cid = world["cid"]
    _invite(app, staff_client, cid, [world["bob"]])
    participant = _participants(app, cid)[world["bob"]]
    [first] = LINK.findall(outbox(app)[0]["text_body"])[:1]
    response = staff_client.post(f"/consultations/{cid}/participants/{participant['id']}/resend",
                                 follow_redirects=True)
    assert "The invitation was sent again to Bob Claes with a new link; the earlier link no longer works." in \
        _flashes(response)
    mails = outbox(app, category="consultation-invitation")
    assert [m["idem_key"].rsplit(":", 1)[1] for m in mails] == ["1", "2"]
    [second] = LINK.findall(mails[1]["text_body"])[:1]
    assert second != first
    with app.app_context():
        assert links.find_participant(first) is None
        assert links.find_participant(second).id == participant["id"]
    assert app.test_client().get(f"/review/{second}").status_code == 200
    assert app.test_client().get(f"/review/{first}").status_code == 404


def test_removing_a_participant_stops_the_link_and_keeps_the_comments(app, staff_client):
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    world = _registry(app)
    cid = world["cid"]
    _invite(app, staff_client, cid, [world["bob"]])
    participant = _participants(app, cid)[world["bob"]]
    [secret] = LINK.findall(outbox(app)[0]["text_body"])[:1]
    with app.app_context():
        from focalpoint.consultations.models import Participant

        make_comment(db.session.get(Participant, participant["id"]).consultation,
                     db.session.get(Participant, participant["id"]), comment="Kept after removal.")
        db.session.commit()
    page = _text(staff_client.get(f"/consultations/{cid}"))
    assert "Remove Bob Claes from the consultation? Their link stops working; their comments stay." in page
    assert "commented (1)" in page
    response = staff_client.post(f"/consultations/{cid}/participants/{participant['id']}/remove",
                                 follow_redirects=True)
    assert "Bob Claes was removed from the consultation" in _flashes(response)
    assert ">removed</span>" in _text(response)
    removed = _participants(app, cid)[world["bob"]]
    assert removed["removed_at"] is not None and removed["token_hash"] is None
    assert app.test_client().get(f"/review/{secret}").status_code == 404
    assert [c["comment"] for c in rows(app, ReviewComment)] == ["Kept after removal."]
    resend = staff_client.post(f"/consultations/{cid}/participants/{participant['id']}/resend")
    assert resend.status_code == 302
    assert len(outbox(app, category="consultation-invitation")) == 1  # a removed participant gets nothing
    other = seed(app, title="Other")
    assert staff_client.post(f"/consultations/{other}/participants/{participant['id']}/remove").status_code == 404


def test_a_closed_consultation_sends_no_invitation(app, staff_client):
    world = _registry(app)
    cid = seed(app, title="Closed", opens_on=TODAY - dt.timedelta(days=20), closes_on=TODAY - dt.timedelta(days=2))
    response = staff_client.post(f"/consultations/{cid}/invite",
                                 data={"mode": "selected", "send": "1", "expert_id": [str(world["bob"])]},
                                 follow_redirects=True)
    assert "The consultation is closed: move its closing date before inviting." in _flashes(response)
    assert _participants(app, cid) == {}
    assert outbox(app) == []


# --- consolidation ----------------------------------------------------------------------------------------
def _comments_world(app) -> dict:
    from focalpoint.extensions import db

    with app.app_context():
        c = make_consultation(documents=("SPM", "Chapter 1"))
        ann, bob = make_expert("Ann", "Peeters"), make_expert("Bob", "Claes")
        pa, pb = make_participant(c, ann), make_participant(c, bob)
        ids = {
            "ch1_p2": make_comment(c, pa, document="Chapter 1", comment="Chapter one remark", page_from=2).id,
            "spm_p5": make_comment(c, pb, comment="Figure 2 is unclear", page_from=5, line_from=3).id,
            "spm_p3": make_comment(c, pa, comment="Typo in the title", page_from=3, comment_type="editorial").id,
            "spm_p5b": make_comment(c, pa, comment="Figure 2 needs a legend", page_from=5, line_from=1,
                                    suggested_change="Add a legend.").id,
        }
        db.session.commit()
        return {"cid": c.id, **ids}


def _order(response) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="card mb-3" id="comment-(\d+)"', _text(response))]


def test_the_consolidation_table_is_in_template_order_with_filters_and_progress(app, staff_client):
    w = _comments_world(app)
    cid = w["cid"]
    page = staff_client.get(f"/consultations/{cid}/comments")
    assert _order(page) == [w["spm_p3"], w["spm_p5b"], w["spm_p5"], w["ch1_p2"]]
    body = _text(page)
    assert "Decided 0 of 4" in body
    assert "Ann Peeters" in body and "University of Ghent" in body and "Add a legend." in body
    # merge choices: the comments of the same document only, listed once per document (a datalist)
    field = re.search(rf'<input[^>]*id="merge-{w["spm_p3"]}"[^>]*>', body).group(0)
    list_id = re.search(r'list="([^"]+)"', field).group(1)
    choices = re.search(rf'<datalist id="{list_id}">.*?</datalist>', body, re.S).group(0)
    assert re.findall(r'<option value="(\d+)"', choices) == [str(w["spm_p3"]), str(w["spm_p5b"]), str(w["spm_p5"])]
    assert "p.5 l.1 · Ann Peeters: Figure 2 needs a legend" in choices
    assert body.count(f'<datalist id="{list_id}">') == 1
    assert _order(staff_client.get(f"/consultations/{cid}/comments?type=editorial")) == [w["spm_p3"]]
    assert _order(staff_client.get(f"/consultations/{cid}/comments?reviewer=Bob+Claes")) == [w["spm_p5"]]
    assert _order(staff_client.get(f"/consultations/{cid}/comments?q=legend")) == [w["spm_p5b"]]
    with app.app_context():
        from focalpoint.consultations.models import ConsultationDocument
        from focalpoint.extensions import db

        ch1 = db.session.scalar(sa.select(ConsultationDocument.id).where(ConsultationDocument.title == "Chapter 1"))
    assert _order(staff_client.get(f"/consultations/{cid}/comments?document={ch1}")) == [w["ch1_p2"]]
    assert _order(staff_client.get(f"/consultations/{cid}/comments?decision=undecided")) == _order(page)
    assert _order(staff_client.get(f"/consultations/{cid}/comments?decision=adopt")) == []


def _decide(client, cid, comment_id, **data):
    version = re.search(rf'comments/{comment_id}">.*?name="version" value="(\d+)"',
                        _text(client.get(f"/consultations/{cid}/comments")), re.S).group(1)
    return client.post(f"/consultations/{cid}/comments/{comment_id}",
                       data={"version": version, "action": "save", **data}, follow_redirects=True)


def _comment(app, comment_id) -> dict:
    from focalpoint.consultations.models import ReviewComment

    [row] = rows(app, ReviewComment, ReviewComment.id == comment_id)
    return row


def test_staff_decide_merge_and_undo_from_the_table(app, staff_client):
    w = _comments_world(app)
    cid = w["cid"]
    adopted = _decide(staff_client, cid, w["spm_p5b"], decision="adopt_edited", staff_note="Keep it short.",
                      edited_comment="Figure 2 needs a legend and units.",
                      edited_suggested_change="Add a legend with units.")
    assert f"#{w['spm_p5b']}: Adopt edited." in _flashes(adopted)
    assert "Decided 1 of 4" in _text(adopted)
    row = _comment(app, w["spm_p5b"])
    assert (row["decision"].value, row["edited_comment"], row["staff_note"], row["reviewer_name"]) == (
        "adopt_edited", "Figure 2 needs a legend and units.", "Keep it short.", "Ann Peeters")
    merged = _decide(staff_client, cid, w["spm_p5"], decision="merge", merged_into=str(w["spm_p5b"]))
    assert f"#{w['spm_p5']}: Merge into another." in _flashes(merged)
    assert _comment(app, w["spm_p5"])["merged_into_id"] == w["spm_p5b"]
    assert "Merged into this one:" in _text(merged)
    rejected = _decide(staff_client, cid, w["spm_p5b"], decision="reject")
    assert f"It is merged into #{w['spm_p5b']}, which is not adopted" in _text(rejected)
    undone = staff_client.post(f"/consultations/{cid}/comments/{w['spm_p5b']}",
                               data={"version": str(_comment(app, w["spm_p5b"])["version"]), "action": "undo"},
                               follow_redirects=True)
    assert f"#{w['spm_p5b']}: decision undone; the comment is undecided again." in _flashes(undone)
    assert _comment(app, w["spm_p5b"])["decision"] is None
    assert "Decided 1 of 4" in _text(undone)
    assert [a for a, _d in audit(app, "consultation_comments", w["spm_p5b"])] == ["comment.decision"] * 3


def test_decisions_refuse_bad_input_with_a_message(app, staff_client):
    w = _comments_world(app)
    cid = w["cid"]
    no_text = _decide(staff_client, cid, w["spm_p3"], decision="adopt_edited",
                      edited_comment="Typo in the title")  # the author's words unchanged
    assert "“Adopt edited” needs the edited wording of the comment" in _flashes(no_text)
    itself = _decide(staff_client, cid, w["spm_p3"], decision="merge", merged_into=str(w["spm_p3"]))
    assert "A comment cannot be merged into itself." in _flashes(itself)
    nothing = _decide(staff_client, cid, w["spm_p3"], decision="merge")
    assert "Choose the comment to merge into." in _flashes(nothing)
    empty = _decide(staff_client, cid, w["spm_p3"], decision="")
    assert "Choose a decision." in _flashes(empty)
    bogus = _decide(staff_client, cid, w["spm_p3"], decision="approve")
    assert "Choose a decision." in _flashes(bogus)
    foreign = "A comment can only be merged into another comment of the same consultation."
    for typed in ("99999999999999999999", "twelve", "-3", "#0"):
        refused = _decide(staff_client, cid, w["spm_p3"], decision="merge", merged_into=typed)
        assert refused.status_code == 200, typed
        assert foreign in _flashes(refused), typed
    assert _comment(app, w["spm_p3"])["decision"] is None
    # The number may be typed with its "#", or picked with the list's label after it.
    picked = _decide(staff_client, cid, w["spm_p3"], decision="merge",
                     merged_into=f"#{w['spm_p5']} · p.5 l.1 · Bob Claes: …")
    assert f"#{w['spm_p3']}: Merge into another." in _flashes(picked)
    assert _comment(app, w["spm_p3"])["merged_into_id"] == w["spm_p5"]


def test_a_stale_decision_is_refused(app, staff_client):
    w = _comments_world(app)
    cid = w["cid"]
    version = str(_comment(app, w["spm_p3"])["version"])
    _decide(staff_client, cid, w["spm_p3"], decision="adopt")
    stale = staff_client.post(f"/consultations/{cid}/comments/{w['spm_p3']}",
                              data={"version": version, "action": "save", "decision": "reject"},
                              follow_redirects=True)
    assert "Someone changed this since you opened the page; nothing was saved." in _flashes(stale)
    assert _comment(app, w["spm_p3"])["decision"].value == "adopt"


# --- spreadsheets -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "name"), [("export.xlsx", "consolidated-{day}"), ("export-full.xlsx", "full-{day}"),
                                            ("template.xlsx", "review-template")])
def test_the_spreadsheets_download_as_xlsx(app, staff_client, path, name):
    from focalpoint.consultations import services as svc

    w = _comments_world(app)
    cid = w["cid"]
    _decide(staff_client, cid, w["spm_p3"], decision="adopt")
    response = staff_client.get(f"/consultations/{cid}/{path}")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    with app.app_context():
        day = svc.local_today().isoformat()
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="consultation-{cid}-{name.format(day=day)}.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    header = next(r for r in values if r and "Comment" in r)
    assert "Reviewer" in header
    if path == "export.xlsx":
        assert any(r and "Typo in the title" in r for r in values)
        assert not any(r and "Figure 2 is unclear" in r for r in values)  # undecided


def _template_bytes(rows_: list[list]) -> bytes:
    from focalpoint.consultations.comments import TEMPLATE_COLUMNS

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(TEMPLATE_COLUMNS))
    for row in rows_:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_staff_import_a_filled_template_for_a_participant_with_a_check_first(app, staff_client):
    from focalpoint.consultations.models import ReviewComment

    w = _comments_world(app)
    cid = w["cid"]
    page = _text(staff_client.get(f"/consultations/{cid}/import"))
    assert "Bob Claes &lt;bob.claes@example.org&gt;" in page
    pb = [p for p in _participants(app, cid).values()][1]["id"]
    data = _template_bytes([
        ["", "", "", "", "SPM", "", 4, 2, 4, 5, "Imported remark", "Change it", "General"],
        ["", "", "", "", "SPM", "", "four", "", "", "", "Bad page", "", ""],
        ["", "", "", "", "Chapter 9", "", 1, "", "", "", "", "", ""],
    ])
    before = len(rows(app, ReviewComment))
    check = staff_client.post(f"/consultations/{cid}/import",
                              data={"participant_id": str(pb), "action": "check",
                                    "file": (io.BytesIO(data), "filled.xlsx")}, content_type="multipart/form-data")
    assert check.status_code == 200
    body = _text(check)
    assert "Check only: nothing was saved" in body
    assert "1 row can be imported." in body and "2 rows have errors and were not imported." in body
    assert re.search(r"<td>3</td><td>From page</td><td>From page must be a whole number", body)
    assert re.search(r"<td>4</td><td>Document</td><td>Unknown document", body)
    assert re.search(r"<td>4</td><td>Comment</td><td>The comment is missing.</td>", body)
    assert len(rows(app, ReviewComment)) == before
    done = staff_client.post(f"/consultations/{cid}/import",
                             data={"participant_id": str(pb), "action": "import",
                                   "file": (io.BytesIO(data), "filled.xlsx")}, content_type="multipart/form-data")
    assert done.status_code == 200
    assert "1 comment imported for Bob Claes." in _text(done)
    [new] = [c for c in rows(app, ReviewComment) if c["comment"] == "Imported remark"]
    assert (new["participant_id"], new["reviewer_name"], new["source"].value, new["page_from"]) == (
        pb, "Bob Claes", "upload", 4)


def test_the_import_refuses_a_file_that_is_not_a_template(app, staff_client):
    w = _comments_world(app)
    cid = w["cid"]
    pa = sorted(_participants(app, cid).values(), key=lambda p: p["id"])[0]["id"]
    response = staff_client.post(f"/consultations/{cid}/import",
                                 data={"participant_id": str(pa), "action": "import",
                                       "file": (io.BytesIO(b"MZ not a spreadsheet"), "comments.xlsx")},
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Import report" not in _text(response)
    no_one = staff_client.post(f"/consultations/{cid}/import",
                               data={"participant_id": "0", "file": (io.BytesIO(b"x"), "a.xlsx")},
                               content_type="multipart/form-data")
    assert no_one.status_code == 422
    assert "Choose the participant the comments are from." in _text(no_one)


# --- who may open what ------------------------------------------------------------------------------------
STAFF_PAGES = [("GET", "/consultations/new"), ("GET", "/consultations/{cid}/edit"), ("GET", "/consultations/{cid}/invite"),
               ("GET", "/consultations/{cid}/comments"), ("GET", "/consultations/{cid}/export.xlsx"),
               ("GET", "/consultations/{cid}/export-full.xlsx"), ("GET", "/consultations/{cid}/template.xlsx"),
               ("GET", "/consultations/{cid}/import"), ("POST", "/consultations/{cid}/send"),
               ("POST", "/consultations/{cid}/invite"), ("POST", "/consultations/{cid}/documents")]


@pytest.mark.parametrize("role", ["expert", "reviewer"])
def test_experts_and_reviewers_are_refused_staff_pages(app, make_user, role):
    cid = seed(app)
    make_user(f"{role}@example.org", role)
    client = app.test_client()
    assert login(client, f"{role}@example.org").status_code == 302
    for method, path in STAFF_PAGES:
        response = client.open(path.format(cid=cid), method=method)
        assert response.status_code == 403, (method, path)
        assert "Nexus assessment" not in _text(response)


def test_a_reviewer_sees_no_consultation_and_an_expert_sees_only_their_own(app, make_user):
    from focalpoint.extensions import db

    user_id = make_user("ann.peeters@example.org", "expert", name="Ann Peeters")
    with app.app_context():
        mine = make_consultation("Mine: nexus SOD")
        theirs = make_consultation("Not mine: values FOD", deliverable="values")
        make_participant(mine, make_expert("Ann", "Peeters", user_id=user_id))
        db.session.commit()
        mine_id, theirs_id = mine.id, theirs.id
    make_user("rev@example.org", "reviewer")
    reviewer = app.test_client()
    login(reviewer, "rev@example.org")
    assert reviewer.get("/consultations").status_code == 403
    assert reviewer.get(f"/consultations/{mine_id}").status_code == 403
    expert = app.test_client()
    login(expert, "ann.peeters@example.org")
    listing = expert.get("/consultations")
    assert listing.status_code == 200
    assert "Mine: nexus SOD" in _text(listing) and "Not mine" not in _text(listing)
    assert expert.get(f"/consultations/{mine_id}").status_code == 200
    refused = expert.get(f"/consultations/{theirs_id}")
    assert refused.status_code == 404
    assert "Not mine" not in _text(refused)


# --- queries do not grow with the data --------------------------------------------------------------------
def _bulk(app, n: int) -> int:
    from focalpoint.extensions import db

    with app.app_context():
        target = None
        for i in range(n):
            c = make_consultation(f"Consultation {i:03d}", documents=("SPM", "Chapter 1"))
            target = target or c
        for i in range(n):
            expert = make_expert(f"E{i:03d}", "Expert")
            participant = make_participant(target, expert, removed=i % 5 == 0)
            make_comment(target, participant, document=("SPM", "Chapter 1", None)[i % 3], comment=f"Remark {i}",
                         page_from=i + 1)
        db.session.commit()
        return target.id


@pytest.mark.parametrize("page", ["/consultations", "/consultations?sort=decided&dir=desc&state=open",
                                  "/consultations/{cid}", "/consultations/{cid}/comments",
                                  "/consultations/{cid}/comments?decision=undecided&q=Remark",
                                  "/consultations/{cid}/invite"])
def test_queries_per_page_do_not_grow_with_the_data(app, staff_client, page):
    from test_queries import counting

    from focalpoint.extensions import db

    counts = []
    for n in (4, 30):
        with app.app_context():
            for model_table in ("consultation_comments", "consultation_participants", "consultation_documents",
                                "consultations", "experts"):
                db.session.execute(sa.text(f"DELETE FROM {model_table}"))
            db.session.commit()
        cid = _bulk(app, n)
        path = page.format(cid=cid)
        staff_client.get(path)
        with counting(app) as statements:
            response = staff_client.get(path)
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 20, counts


# --- a comment typed in by staff, linked events, the participants' statuses -------------------------------
def test_staff_add_a_comment_on_behalf_of_a_participant_even_after_the_close(app, staff_client):
    from focalpoint.audit import AuditEntry
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        c = make_consultation(opens_on=TODAY - dt.timedelta(days=30), closes_on=TODAY - dt.timedelta(days=2))
        p = make_participant(c, make_expert("Ann", "Peeters"))
        db.session.commit()
        cid, pid, spm = c.id, p.id, c.documents[0].id
    page = _text(staff_client.get(f"/consultations/{cid}/comments/new?participant={pid}"))
    assert f'<option selected value="{pid}">Ann Peeters</option>' in page
    bad = staff_client.post(f"/consultations/{cid}/comments/new",
                            data={"participant_id": str(pid), "document": str(spm), "page_from": "x", "comment": ""})
    assert bad.status_code == 422
    assert "From page must be a whole number, not “x”." in _text(bad)
    assert "The comment is missing." in _text(bad)
    nobody = staff_client.post(f"/consultations/{cid}/comments/new", data={"participant_id": "0", "comment": "x"})
    assert "Choose the participant the comment is from." in _text(nobody)
    response = staff_client.post(f"/consultations/{cid}/comments/new",
                                 data={"participant_id": str(pid), "document": str(spm), "page_from": "7",
                                       "comment": "Sent by e-mail.", "comment_type": "general"})
    assert response.status_code == 302
    [row] = rows(app, ReviewComment)
    assert response.headers["Location"] == f"/consultations/{cid}/comments#comment-{row['id']}"
    assert (row["participant_id"], row["reviewer_name"], row["page_from"], row["comment_type"].value,
            row["source"].value) == (pid, "Ann Peeters", 7, "general", "browser")
    [entry] = rows(app, AuditEntry, AuditEntry.object_type == "consultation_comments")
    assert entry["action"] == "comment.add"
    with app.app_context():
        from focalpoint.auth.models import User

        assert entry["actor_id"] == db.session.scalar(sa.select(User.id).where(User.email == "staff@example.org"))


def test_the_page_lists_linked_events_and_each_participants_status(app, staff_client):
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    with app.app_context():
        c = make_consultation()
        now = dt.datetime.now(dt.timezone.utc)
        event = Event(title="Information session on the nexus SOD", consultation_id=c.id, starts_at=now,
                      ends_at=now + dt.timedelta(hours=2), uid="walk-event@focalpoint.test")
        db.session.add(event)
        make_participant(c, make_expert("Ann", "Peeters"), sent=False)
        reminded = make_participant(c, make_expert("Bob", "Claes"))
        reminded.reminders_sent = 2
        commented = make_participant(c, make_expert("Cleo", "Dubois"))
        make_comment(c, commented)
        make_comment(c, commented)
        db.session.commit()
        cid, event_id = c.id, event.id
    body = _text(staff_client.get(f"/consultations/{cid}"))
    assert f'<a href="/events/{event_id}">Information session on the nexus SOD</a>' in body
    statuses = re.findall(r'<tr id="participant-\d+"[^>]*>\s*<td>.*?</td>\s*<td class="small">(.*?)</td>', body, re.S)
    flat = [" ".join(re.sub(r"<[^>]+>", " ", s).split()) for s in statuses]
    assert [f.split(" ")[0] for f in flat] == ["sent", "commented", "not"]  # Claes, Dubois, Peeters
    assert flat[0].endswith("reminded 2 times")
    assert flat[1] == "commented (2)" and flat[2] == "not sent"
    assert "Decided 0 of 2" in body
