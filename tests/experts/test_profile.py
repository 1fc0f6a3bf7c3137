"""An expert's own profile: editing, past roles, consent, the download of their data, and erasure."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import login

from .conftest import PDF, get_expert

UTC = dt.timezone.utc


@pytest.fixture
def olga(make_expert):
    return make_expert("olga.owner@example.org", first_name="Olga", last_name="Owner", affiliation="UGent",
                       region="flanders", gender="female", career_stage="mid", languages="nl;en",
                       notes="Secret staff note about Olga", tags=[("discipline", "natural-sciences")],
                       deliverables=["nexus"], roles_held=[("LA", "nexus", 2021)])


@pytest.fixture
def olga_client(olga, expert_login):
    return expert_login("olga@example.org", olga)


def profile_form(client) -> dict:
    """The profile form as the browser would send it back unchanged."""
    page = client.get("/profile").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return {"first_name": "Olga", "last_name": "Owner", "affiliation": "UGent", "region": "flanders",
            "gender": "female", "career_stage": "mid", "orcid": "", "disciplines": ["natural-sciences"],
            "roles_wanted": [], "deliverables": ["nexus"], "gbf_targets": [], "ecosystems": [], "keywords": "",
            "languages": ["nl", "en"], "preferred_language": "en", "availability": "available",
            "availability_note": "", "version": version}


def add_call(app, title: str) -> int:
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall

    with app.app_context():
        call = NominationCall(title=title, national_deadline=dt.date(2031, 3, 1))
        db.session.add(call)
        db.session.commit()
        return call.id


def add_invitation(app, call_id: int, expert_id: int, state: str, **answer) -> int:
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState

    with app.app_context():
        invitation = Invitation(call_id=call_id, expert_id=expert_id, state=InvitationState(state),
                                token_hash=f"{call_id:032d}{expert_id:032d}",
                                expires_at=dt.datetime(2031, 3, 2, tzinfo=UTC),
                                sent_at=dt.datetime(2031, 1, 10, 9, tzinfo=UTC),
                                responded_at=dt.datetime(2031, 1, 12, 9, tzinfo=UTC)
                                if state in ("accepted", "declined") else None, subject="Invitation", **answer)
        db.session.add(invitation)
        db.session.commit()
        return invitation.id


def add_nomination(app, call_id: int, expert_id: int, state: str, **fields) -> int:
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination, NominationState

    with app.app_context():
        nomination = Nomination(call_id=call_id, expert_id=expert_id, state=NominationState(state), **fields)
        db.session.add(nomination)
        db.session.commit()
        return nomination.id


# --- the profile ---------------------------------------------------------------------------------------------
def test_an_expert_without_a_record_gets_a_clear_page(expert_login):
    client = expert_login("new@example.org", None)
    response = client.get("/profile")
    assert response.status_code == 200
    assert "No expert record is linked to your account yet." in response.get_data(as_text=True)
    upload = client.post("/profile/cv", data={"file": (io.BytesIO(PDF), "cv.pdf")},
                         content_type="multipart/form-data")
    assert upload.status_code == 302
    assert upload.headers["Location"] == "/profile"
    assert client.get("/profile/export.json").status_code == 302


def test_the_profile_shows_own_data_but_not_staff_notes(olga_client):
    page = olga_client.get("/profile").get_data(as_text=True)
    assert 'value="Olga"' in page and 'value="UGent"' in page
    assert "olga.owner@example.org" in page
    assert "Secret staff note" not in page
    assert 'name="status"' not in page and 'name="notes"' not in page and 'name="email"' not in page


def test_an_expert_edits_their_profile_but_not_staff_fields(app, olga, olga_client):
    data = profile_form(olga_client) | {
        "affiliation": "Ghent University", "orcid": "0000-0002-1694-233x", "roles_wanted": ["LA", "CLA"],
        "gbf_targets": ["T21"], "keywords": "bees; hoverflies", "availability": "limited",
        "availability_note": "Teaching until June", "preferred_language": "nl",
        # Not fields of the profile: ignored.
        "email": "evil@example.org", "notes": "overwritten", "status": "pending_review", "user_email": "x@y.z"}
    response = olga_client.post("/profile", data=data)
    assert response.status_code == 302
    e = get_expert(app, olga)
    assert (e.affiliation, e.orcid, e.keywords, e.availability.value, e.availability_note, e.preferred_language) == (
        "Ghent University", "0000-0002-1694-233X", "bees; hoverflies", "limited", "Teaching until June", "nl")
    assert sorted(t.code for t in e.terms_of("expert_role")) == ["CLA", "LA"]
    assert [t.code for t in e.terms_of("gbf_target")] == ["T21"]
    assert (e.email, e.notes, e.status.value) == ("olga.owner@example.org", "Secret staff note about Olga", "active")


def test_profile_validation_and_stale_edits(app, olga, olga_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    data = profile_form(olga_client)
    bad = olga_client.post("/profile", data=data | {"orcid": "0000-0002-1825-0098"})
    assert bad.status_code == 422
    assert "Invalid ORCID: the check digit does not match." in bad.get_data(as_text=True)
    with app.app_context():
        db.session.get(Expert, olga).affiliation = "Changed by staff"
        db.session.commit()
    stale = olga_client.post("/profile", data=data | {"affiliation": "Mine"})
    assert stale.status_code == 409
    assert "Affiliation: Changed by staff" in stale.get_data(as_text=True)
    assert get_expert(app, olga).affiliation == "Changed by staff"


def test_an_expert_declares_and_removes_past_roles_but_not_recorded_selections(app, olga, olga_client):
    from focalpoint.experts.models import PastRole
    from focalpoint.extensions import db

    assert olga_client.post("/profile/roles", data={"role": "RE", "deliverable_id": "0",
                                                    "deliverable_text": "Scoping of the nexus"}).status_code == 302
    with app.app_context():
        selected = PastRole(expert_id=olga, role="CLA", deliverable_text="Selected", source="selection")
        db.session.add(selected)
        db.session.commit()
        selected_id = selected.id
    roles = {r.role: r.id for r in get_expert(app, olga).roles_held}
    assert sorted(roles) == ["CLA", "LA", "RE"]
    refused = olga_client.post(f"/profile/roles/{selected_id}/delete", follow_redirects=True)
    assert "Roles recorded from a selection can only be corrected by the focal point." in refused.get_data(as_text=True)
    assert olga_client.post(f"/profile/roles/{roles['RE']}/delete").status_code == 302
    assert sorted(r.role for r in get_expert(app, olga).roles_held) == ["CLA", "LA"]


def test_an_expert_cannot_touch_another_experts_roles(app, olga, olga_client, make_expert):
    other = make_expert("other@example.org", last_name="Other", roles_held=[("LA", "values", 2018)])
    role_id = get_expert(app, other).roles_held[0].id
    assert olga_client.post(f"/profile/roles/{role_id}/delete").status_code == 404
    assert len(get_expert(app, other).roles_held) == 1


# --- consent -----------------------------------------------------------------------------------------------
def test_consent_is_recorded_with_time_and_text_version_and_withdrawn(app, olga, olga_client, make_user):
    page = olga_client.get("/profile").get_data(as_text=True)
    assert "Only the focal point's staff see your profile and your CV." in page
    assert "Version of this text: 2026-1." in page
    before = dt.datetime.now(UTC)
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y", "action": "give"})
    e = get_expert(app, olga)
    assert e.consent_text_version == "2026-1"
    assert before <= e.consent_contact_at <= dt.datetime.now(UTC)
    assert e.consent_processing_at == e.consent_contact_at
    assert e.has_consent
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y", "action": "withdraw"})
    e = get_expert(app, olga)
    assert (e.consent_contact_at, e.consent_processing_at, e.consent_text_version) == (None, None, None)
    olga_client.post("/profile/consent", data={"contact": "y", "action": "give"})
    e = get_expert(app, olga)
    assert (e.consent_contact_at is not None, e.consent_processing_at, e.consent_text_version) == (True, None, "2026-1")
    make_user("staff@example.org", "staff")
    staff = app.test_client()
    login(staff, "staff@example.org")
    history = re.findall(r"· (Consent: [^<]*)</li>", staff.get(f"/experts/{olga}").get_data(as_text=True))
    assert history == ["Consent: given to be contacted (text 2026-1)", "Consent: withdrawn",
                       "Consent: given to be contacted and to the processing of the data (text 2026-1)"]


def test_consent_to_a_new_text_version_is_recorded_anew(app, olga, olga_client):
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y"})
    first = get_expert(app, olga).consent_contact_at
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y"})
    assert get_expert(app, olga).consent_contact_at == first  # same text: the first date stays
    app.config["CONSENT_TEXT_VERSION"] = "2027-1"
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y"})
    e = get_expert(app, olga)
    assert e.consent_text_version == "2027-1"
    assert e.consent_contact_at > first


# --- the download of everything held -------------------------------------------------------------------------
def test_the_json_export_holds_everything(app, olga, olga_client, staff_client):
    call = add_call(app, "Nexus assessment: call for experts")
    other_call = add_call(app, "Fellows for the business assessment")
    add_invitation(app, call, olga, "accepted", role_wanted="LA", motivation="I work on water-food links.")
    add_invitation(app, other_call, olga, "declined", decline_reason="No time this year.")
    add_nomination(app, call, olga, "endorsed", role="LA", rationale="Strong profile")
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y"})
    olga_client.post("/profile/consent", data={"contact": "y", "action": "give"})
    staff_client.post(f"/experts/{olga}/cv", data={"file": (io.BytesIO(PDF), "olga-cv.pdf")},
                      content_type="multipart/form-data")

    response = olga_client.get("/profile/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.data)
    assert sorted(data) == ["consent", "cv", "deliverables", "exported_at", "invitations", "nominations",
                            "past_roles", "profile", "tags"]
    profile = data["profile"]
    assert (profile["id"], profile["first_name"], profile["email"], profile["region"], profile["gender"],
            profile["languages"], profile["staff_notes"], profile["user_account"]) == (
        olga, "Olga", "olga.owner@example.org", "flanders", "female", ["nl", "en"], "Secret staff note about Olga",
        "olga@example.org")
    assert data["tags"] == {"disciplines": [{"code": "natural-sciences", "label": "Natural sciences"}],
                            "roles_wanted": [], "gbf_targets": [], "ecosystems": []}
    assert data["deliverables"] == [{"code": "nexus", "name": "Nexus (biodiversity, water, food and health)"}]
    assert data["past_roles"] == [{"role": "LA", "deliverable": "nexus", "deliverable_text": "", "year_from": 2021,
                                   "year_to": 2021, "source": "declared"}]
    assert [(i["call"], i["state"], i["role_wanted"], i["motivation"], i["decline_reason"])
            for i in data["invitations"]] == [
        ("Nexus assessment: call for experts", "accepted", "LA", "I work on water-food links.", ""),
        ("Fellows for the business assessment", "declined", None, "", "No time this year.")]
    assert [(n["call"], n["state"], n["role"], n["rationale"]) for n in data["nominations"]] == [
        ("Nexus assessment: call for experts", "endorsed", "LA", "Strong profile")]
    consent = data["consent"]
    assert consent["text_version"] == "2026-1"
    assert consent["processing_at"] is None
    assert [(h["contact"], h["processing"], h["text_version"]) for h in consent["history"]] == [
        (True, True, "2026-1"), (True, False, "2026-1")]
    assert data["cv"] | {"uploaded_at": None} == {"filename": "olga-cv.pdf", "content_type": "application/pdf",
                                                  "size": len(PDF), "uploaded_at": None}


# --- erasure ------------------------------------------------------------------------------------------------
def test_erasure_needs_a_ticked_box_and_can_be_cancelled(app, olga, olga_client):
    olga_client.post("/profile/erasure", data={})
    assert get_expert(app, olga).erasure_requested_at is None
    olga_client.post("/profile/erasure", data={"confirm": "y"})
    assert get_expert(app, olga).erasure_requested_at is not None
    assert "You asked for your data to be erased on" in olga_client.get("/profile").get_data(as_text=True)
    olga_client.post("/profile/erasure/cancel")
    assert get_expert(app, olga).erasure_requested_at is None


def test_erasure_flow_removes_the_data_and_keeps_the_counts(app, olga, olga_client, staff_client, make_expert):
    from focalpoint.audit import AuditEntry
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation
    from focalpoint.mail import OutboxMessage, queue_email
    from focalpoint.nominations.models import Nomination

    call = add_call(app, "Nexus assessment: call for experts")
    add_invitation(app, call, olga, "accepted", role_wanted="LA", motivation="Water-food links.",
                   body="Dear Olga Owner, …")
    add_nomination(app, call, olga, "submitted", role="LA", rationale="Olga is strong")
    bystander = make_expert("b@example.org", last_name="Bystander")
    add_invitation(app, call, bystander, "declined", decline_reason="Busy")
    with app.app_context():
        queue_email(to="olga.owner@example.org", subject="Reminder", text="Dear Olga", html="<p>Dear Olga</p>",
                    idem_key="olga:1")
        queue_email(to="b@example.org", subject="Reminder", text="Dear B", html="<p>Dear B</p>", idem_key="b:1")
        db.session.commit()
    olga_client.post("/profile/consent", data={"contact": "y", "processing": "y"})
    olga_client.post("/profile/cv", data={"file": (io.BytesIO(PDF), "cv.pdf")}, content_type="multipart/form-data")
    cv_path = Path(app.instance_path) / "cvs" / get_expert(app, olga).cv_file
    assert cv_path.exists()

    olga_client.post("/profile/erasure", data={"confirm": "y"})
    listing = staff_client.get("/experts/erasure-requests").get_data(as_text=True)
    assert f'href="/experts/{olga}">#{olga} Olga Owner</a>' in listing
    assert staff_client.post(f"/experts/{olga}/erase", data={}).status_code == 302  # box not ticked
    assert get_expert(app, olga).status.value == "active"
    response = staff_client.post(f"/experts/{olga}/erase", data={"confirm": "y"}, follow_redirects=True)
    assert f"The personal data of record #{olga} was erased." in response.get_data(as_text=True)
    assert "No request waiting." in response.get_data(as_text=True)

    e = get_expert(app, olga)
    assert (e.status.value, e.email, e.first_name, e.last_name, e.affiliation, e.region, e.gender, e.career_stage,
            e.orcid, e.keywords, e.languages, e.notes, e.user_id, e.cv_file, e.cv_filename,
            e.consent_contact_at, e.consent_text_version) == (
        "erased", None, "", "", "", None, None, None, None, "", "", "", None, None, None, None, None)
    assert (e.terms, e.deliverables, e.roles_held) == ([], [], [])
    assert e.erased_at is not None
    assert not cv_path.exists()
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email.like("erased-user-%")))
        assert (user.is_enabled, user.name, user.password_hash) == (False, "", None)
        # Counts stay: the invitation and the nomination keep their states, without the answers' text.
        assert db.session.execute(sa.select(Invitation.state, Invitation.motivation, Invitation.body)
                                  .where(Invitation.expert_id == olga)).all() == [("accepted", "", "")]
        assert db.session.execute(sa.select(Nomination.state, Nomination.rationale)
                                  .where(Nomination.expert_id == olga)).all() == [("submitted", "")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)
                                 .where(Invitation.call_id == call)) == 2
        assert db.session.scalars(sa.select(OutboxMessage.to_addr)).all() == ["b@example.org"]
        entries = db.session.execute(sa.select(AuditEntry.action, AuditEntry.data).where(
            AuditEntry.object_type == "experts", AuditEntry.object_id == olga).order_by(AuditEntry.id)).all()
    assert entries[-1][0] == "expert.erased"
    assert entries[-1][1]["requested"] is True
    text = json.dumps([list(e) for e in entries])
    for personal in ("Olga", "Owner", "olga", "UGent", "cv.pdf"):
        assert personal not in text
    # The account is closed: logging in no longer works.
    assert login(app.test_client(), "olga@example.org").status_code == 401
    assert olga_client.get("/profile").headers["Location"] == "/login?next=/profile"
    page = staff_client.get(f"/experts/{olga}").get_data(as_text=True)
    assert f"Erased record #{olga}" in page and "Olga" not in page


def test_erasing_keeps_an_account_that_is_also_staff(app, olga, make_user):
    from focalpoint.auth.models import User
    from focalpoint.experts import services as svc
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    user_id = make_user("colleague@example.org", "staff", "expert")
    with app.app_context():
        expert = db.session.get(Expert, olga)
        expert.user_id = user_id
        svc.erase_expert(expert, actor=None)
        db.session.commit()
        user = db.session.get(User, user_id)
        assert (user.email, user.is_enabled) == ("colleague@example.org", True)
        assert db.session.get(Expert, olga).user_id is None
