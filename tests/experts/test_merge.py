"""Duplicate candidates and merging two records into one."""
from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from .conftest import PDF, build_expert, docx_bytes, get_expert
from .test_profile import add_call, add_invitation, add_nomination

UTC = dt.timezone.utc


@pytest.fixture
def pair(app, make_user, staff_client):
    """Two records of one person: ``keep`` (older, sparse) and ``other`` (newer, richer)."""
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Lead

    keep = build_expert(app, email="jan.peeters@ugent.be", first_name="Jan", last_name="Peeters", region="flanders",
                        keywords="pollination", languages="nl", status="pending_review",
                        tags=[("discipline", "natural-sciences")], roles_held=[("LA", "nexus", 2022)])
    other = build_expert(app, email="j.peeters@gmail.com", first_name="PEETERS", last_name="Jan",
                         affiliation="INBO", orcid="0000-0002-1825-0097", gender="male", keywords="Pollination; soils",
                         languages="en;nl", notes="Met at the plenary", user_id=make_user("jan@example.org", "expert"),
                         tags=[("discipline", "ilk"), ("gbf_target", "T3"), ("discipline", "natural-sciences")],
                         deliverables=["values"], roles_held=[("RE", "values", 2019)],
                         consent_contact_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
                         consent_processing_at=dt.datetime(2026, 2, 1, tzinfo=UTC), consent_text_version="2026-1")
    staff_client.post(f"/experts/{other}/cv", data={"file": (io.BytesIO(PDF), "jan.pdf")},
                      content_type="multipart/form-data")
    call1, call2 = add_call(app, "Nexus call"), add_call(app, "Values call")
    add_invitation(app, call1, keep, "accepted", role_wanted="LA")
    add_invitation(app, call1, other, "declined", decline_reason="Already invited")
    add_invitation(app, call2, other, "pending")
    add_nomination(app, call1, keep, "candidate")
    add_nomination(app, call2, other, "endorsed")
    with app.app_context():
        db.session.add(Lead(call_id=call1, suggested_by_id=other, name="Colleague"))
        db.session.commit()
    unrelated = build_expert(app, email="marie@example.org", first_name="Marie", last_name="Dubois")
    return {"keep": keep, "other": other, "unrelated": unrelated, "call1": call1, "call2": call2}


def test_duplicate_candidates_by_normalised_and_swapped_names(app, pair, staff_client):
    build_expert(app, email="h1@example.org", first_name="Hélène", last_name="Dupré")
    build_expert(app, email="h2@example.org", first_name="helene", last_name="DUPRE")
    build_expert(app, email="h3@example.org", first_name="Hélène", last_name="Dupont")
    build_expert(app, email="gone@example.org", first_name="Jan", last_name="Peeters", status="erased")
    page = staff_client.get("/experts/duplicates").get_data(as_text=True)
    groups = [re.findall(r'<a href="/experts/(\d+)">', g)
              for g in re.findall(r'<div class="border rounded p-2 mb-2 duplicate-group">(.*?)</div>', page, re.S)]
    with app.app_context():
        from focalpoint.experts.models import Expert
        from focalpoint.extensions import db

        ids = dict(db.session.execute(sa.select(Expert.email, Expert.id)).all())
    assert groups == [[str(ids["h1@example.org"]), str(ids["h2@example.org"])],
                      [str(pair["keep"]), str(pair["other"])]]
    detail = staff_client.get(f"/experts/{pair['keep']}").get_data(as_text=True)
    assert "Records with a similar name:" in detail
    assert f"/experts/merge?expert_id={pair['keep']}&amp;expert_id={pair['other']}" in detail


def test_the_preview_says_what_will_happen_and_changes_nothing(app, pair, staff_client):
    response = staff_client.get(f"/experts/merge?expert_id={pair['other']}&expert_id={pair['keep']}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    plan = re.search(r'<ul id="merge-plan">(.*?)</ul>', page, re.S).group(1)
    items = [" ".join(re.sub(r"<[^>]+>", "", i).split()) for i in re.findall(r"<li[^>]*>(.*?)</li>", plan, re.S)]
    other = pair["other"]
    assert items == [
        f"Affiliation: taken from #{other} (INBO)", f"Gender: taken from #{other} (Male)",
        f"ORCID iD: taken from #{other} (0000-0002-1825-0097)", f"Status: taken from #{other} (Active)",
        "Tags added: Indigenous and local knowledge (ILK) / ILK systems, Target 3: Conserve 30% of Land, Waters and Seas",
        "Deliverables added: Values (diverse values and valuation of nature)", "Keywords added: soils",
        "Languages added: en", "1 past IPBES role moved", "1 nomination moved", "1 invitation moved",
        f"Both were invited to “Nexus call”: the invitation of #{other} stays with the merged record.",
        f"The CV of #{other} is moved.", f"The user account of #{other} is linked to the kept record.",
        f"The consent given on #{other} is kept.", f"The staff notes of #{other} are added to the kept record's."]
    assert get_expert(app, pair["other"]).merged_into_id is None
    swapped = staff_client.get(f"/experts/merge?expert_id={pair['other']}&expert_id={pair['keep']}"
                               f"&keep={pair['other']}").get_data(as_text=True)
    assert f"Merge #{pair['keep']} into #{pair['other']}" in swapped


def test_merging_moves_everything_without_conflict_and_leaves_a_tombstone(app, pair, staff_client):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Lead, Nomination

    keep_id, other_id = pair["keep"], pair["other"]
    cv_file = get_expert(app, other_id).cv_file
    user_id = get_expert(app, other_id).user_id
    response = staff_client.post("/experts/merge", data={"keep_id": keep_id, "other_id": other_id},
                                 follow_redirects=True)
    assert f"Record #{other_id} merged into #{keep_id}." in response.get_data(as_text=True)
    keep, other = get_expert(app, keep_id), get_expert(app, other_id)
    assert (keep.first_name, keep.last_name, keep.email, keep.affiliation, keep.orcid, keep.gender.value,
            keep.status.value, keep.keywords, keep.languages, keep.user_id, keep.cv_file, keep.cv_filename,
            keep.consent_text_version) == (
        "Jan", "Peeters", "jan.peeters@ugent.be", "INBO", "0000-0002-1825-0097", "male", "active",
        "pollination; soils", "nl;en", user_id, cv_file, "jan.pdf", "2026-1")
    assert keep.notes == f"From record #{other_id}:\nMet at the plenary"
    assert sorted((t.vocabulary, t.code) for t in keep.terms) == [
        ("discipline", "ilk"), ("discipline", "natural-sciences"), ("gbf_target", "T3")]
    assert [d.code for d in keep.deliverables] == ["values"]
    assert sorted((r.role, r.year_from) for r in keep.roles_held) == [("LA", 2022), ("RE", 2019)]
    assert (other.merged_into_id, other.orcid, other.user_id, other.cv_file, other.terms, other.deliverables,
            other.roles_held) == (keep_id, None, None, None, [], [], [])
    assert Path(app.instance_path, "cvs", cv_file).exists()
    with app.app_context():
        assert sorted(db.session.execute(sa.select(Invitation.call_id, Invitation.expert_id, Invitation.state)).all()) \
            == sorted([(pair["call1"], keep_id, "accepted"), (pair["call1"], other_id, "declined"),
                       (pair["call2"], keep_id, "pending")])
        assert sorted(db.session.execute(sa.select(Nomination.call_id, Nomination.expert_id)).all()) == sorted(
            [(pair["call1"], keep_id), (pair["call2"], keep_id)])
        assert db.session.scalars(sa.select(Lead.suggested_by_id)).all() == [keep_id]
        audit = dict(db.session.execute(sa.select(AuditEntry.action, AuditEntry.data).where(
            AuditEntry.action.in_(["expert.merged", "expert.merged_into"]))).all())
    assert audit["expert.merged_into"] == {"into_id": keep_id}
    assert audit["expert.merged"] == {
        "merged_id": other_id, "fields": ["affiliation", "gender", "orcid", "status"], "tags": 2, "deliverables": 1,
        "past_roles": 1, "nominations_moved": 1, "nominations_kept_apart": 0, "invitations_moved": 1,
        "invitations_kept_apart": 1, "cv": "move", "user": "move"}
    listing = staff_client.get("/experts").get_data(as_text=True)
    assert f'<td><a href="/experts/{other_id}">' not in listing
    assert f'<td><a href="/experts/{other_id}">' in staff_client.get("/experts?status=merged").get_data(as_text=True)
    # The merged person's login now opens the kept record.
    from conftest import login

    client = app.test_client()
    login(client, "jan@example.org")
    assert 'value="INBO"' in client.get("/profile").get_data(as_text=True)


def test_when_both_have_a_cv_and_an_account_the_kept_ones_stay(app, pair, staff_client, make_user):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    keep_user = make_user("keep@example.org", "expert")
    with app.app_context():
        db.session.get(Expert, pair["keep"]).user_id = keep_user
        db.session.commit()
    staff_client.post(f"/experts/{pair['keep']}/cv", data={"file": (io.BytesIO(docx_bytes()), "keep.docx")},
                      content_type="multipart/form-data")
    other_cv = get_expert(app, pair["other"]).cv_file
    keep_cv = get_expert(app, pair["keep"]).cv_file
    page = staff_client.get(f"/experts/merge?expert_id={pair['keep']}&expert_id={pair['other']}").get_data(as_text=True)
    assert f"The CV of #{pair['other']} is deleted (the kept record has its own)." in page
    assert f"The user account of #{pair['other']} is unlinked (the kept record has its own)." in page
    staff_client.post("/experts/merge", data={"keep_id": pair["keep"], "other_id": pair["other"]})
    keep, other = get_expert(app, pair["keep"]), get_expert(app, pair["other"])
    assert (keep.cv_file, keep.user_id, other.cv_file, other.user_id) == (keep_cv, keep_user, None, None)
    assert sorted(os.listdir(Path(app.instance_path, "cvs"))) == [keep_cv]
    assert other_cv != keep_cv


@pytest.mark.parametrize("case,message", [
    ("same", "Choose two different records."),
    ("merged", "Record #{other} was erased or merged already."),
    ("erasure", "Record #{other} has an erasure request: handle it first."),
])
def test_merges_that_are_refused(app, pair, staff_client, case, message):
    from focalpoint.db import utcnow
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    other = pair["other"]
    if case == "merged":
        with app.app_context():
            db.session.get(Expert, other).merged_into_id = pair["unrelated"]
            db.session.commit()
    if case == "erasure":
        with app.app_context():
            db.session.get(Expert, other).erasure_requested_at = utcnow()
            db.session.commit()
    data = {"keep_id": pair["keep"], "other_id": pair["keep"] if case == "same" else other}
    response = staff_client.post("/experts/merge", data=data, follow_redirects=True)
    assert message.format(other=other) in response.get_data(as_text=True)
    assert get_expert(app, pair["keep"]).affiliation == ""


def test_the_preview_needs_exactly_two_records(pair, staff_client):
    response = staff_client.get(f"/experts/merge?expert_id={pair['keep']}", follow_redirects=True)
    assert "Tick exactly two records to merge." in response.get_data(as_text=True)
