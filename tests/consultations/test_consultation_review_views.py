"""The experts' review workspace: the personal link and the logged-in door, adding, editing and deleting
one's own comments, validation messages by field, closed consultations and decided comments."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from consultation_helpers import TODAY, make_comment, make_consultation, make_expert, make_participant

from conftest import login

COMMENT = {"document": "", "chapter": "3.2", "page_from": "12", "line_from": "4", "page_to": "", "line_to": "9",
           "comment": "The trend in Figure 3.4 is not supported by the cited sources.",
           "suggested_change": "Cite the 2023 assessment.", "comment_type": "specific"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def seed(app, make_user=None, *, documents=("SPM", "Chapter 1"), ann_account=False, **consultation) -> dict:
    """A consultation with Ann and Bob invited (each with a personal link and one comment), Carl removed,
    and another consultation to which only Bob is invited. With ``ann_account`` Ann logs in as an expert."""
    from focalpoint.consultations import links
    from focalpoint.extensions import db

    user_id = make_user("ann.peeters@example.org", "expert", name="Ann Peeters") if ann_account else None
    with app.app_context():
        c = make_consultation(documents=documents, confidentiality_note="Drafts are confidential: do not cite.",
                              **consultation)
        other = make_consultation("Pollinators assessment, first order draft", documents=("Chapter 2",),
                                  draft="fod")
        ann = make_expert("Ann", "Peeters", user_id=user_id)
        bob = make_expert("Bob", "Claes")
        carl = make_expert("Carl", "Maes")
        pa, pb, pc = make_participant(c, ann), make_participant(c, bob), make_participant(c, carl)
        po = make_participant(other, bob)
        secrets = {"ann": links.new_secret(pa), "bob": links.new_secret(pb), "carl": links.new_secret(pc)}
        db.session.flush()
        pc.removed_at = dt.datetime.now(dt.timezone.utc)
        ann_comment = make_comment(c, pa, comment="Ann's own remark on the SPM.", page_from=3, line_from=10)
        bob_comment = make_comment(c, pb, comment="Bob's private remark.", page_from=5)
        other_comment = make_comment(other, po, document="Chapter 2", comment="Bob on the other draft.")
        db.session.commit()
        return {"id": c.id, "other_id": other.id, "secrets": secrets, "ann": ann.id, "bob": bob.id,
                "pa": pa.id, "pb": pb.id, "ann_comment": ann_comment.id, "bob_comment": bob_comment.id,
                "other_comment": other_comment.id, "documents": {d.title: d.id for d in c.documents},
                "user_id": user_id}


def comment_row(app, comment_id: int) -> dict | None:
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        row = db.session.get(ReviewComment, comment_id)
        if row is None:
            return None
        return {k: getattr(row, k) for k in ("comment", "suggested_change", "chapter", "page_from", "line_from",
                                              "page_to", "line_to", "document_title", "participant_id",
                                              "expert_id", "reviewer_name", "reviewer_email", "version")} | {
            "comment_type": row.comment_type.value, "source": row.source.value}


def comments_of(app, participant_id: int) -> list[str]:
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        return list(db.session.scalars(sa.select(ReviewComment.comment).where(
            ReviewComment.participant_id == participant_id).order_by(ReviewComment.id)))


def audit(app, action: str) -> list[tuple[int | None, dict]]:
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        return [(e.actor_id, e.data) for e in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def set_decision(app, comment_id: int, decision: str = "adopt", note: str = "Staff only: weak argument.") -> None:
    from focalpoint.consultations.models import Decision, ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        row = db.session.get(ReviewComment, comment_id)
        row.decision, row.staff_note = Decision(decision), note
        db.session.commit()


def expert_client(app, email="ann.peeters@example.org"):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


# --- the personal link ------------------------------------------------------------------------------------
def test_link_opens_the_workspace_with_the_note_first_and_only_the_experts_own_comments(app, client):
    world = seed(app)
    secret = world["secrets"]["ann"]
    response = client.get(f"/review/{secret}")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    body = _text(response)
    note = body.index("Drafts are confidential: do not cite.")
    assert note < body.index("The consultation</h2>") < body.index("Documents</h2>")
    assert "Ann&#39;s own remark on the SPM." in body
    assert "Bob&#39;s private remark." not in body and "Bob on the other draft." not in body
    assert "Pollinators" not in body
    assert re.search(r"SPM · |SPM\s*<span class=\"fw-normal\">p\. 3, l\. 10</span>", body)
    assert 'href="https://files.example.org/0.pdf" rel="noopener noreferrer"' in body
    # The secret appears only in this workspace's own form actions and links.
    uses = re.findall(r'(?:action|href)="/review/' + re.escape(secret) + r'[^"]*"', body)
    assert len(uses) == body.count(secret)
    assert len(uses) >= 5  # add, template, upload, edit, delete
    assert f'action="/review/{secret}"' in body
    assert f'href="/review/{secret}/comments/{world["ann_comment"]}/edit"' in body


@pytest.mark.parametrize("kind", ["malformed", "too short", "unknown", "removed", "other's shape"])
def test_a_link_that_does_not_work_says_so_with_the_contact_and_no_hint(app, client, kind):
    world = seed(app)
    app.config["STAFF_EMAIL"] = "nfp@example.org"
    secret = {"malformed": "abc$def%20ghi<script>jklmnopqrstu", "too short": "abc",
              "unknown": "x" * 43, "removed": world["secrets"]["carl"],
              "other's shape": world["secrets"]["ann"][:-1] + ("A" if world["secrets"]["ann"][-1] != "A" else "B"),
              }[kind]
    response = client.get(f"/review/{secret}")
    assert response.status_code == 404
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = _text(response)
    assert "This link does not work" in body
    assert "nfp@example.org" in body and 'href="mailto:nfp@example.org?subject=' in body
    assert "Nexus" not in body and "Carl" not in body
    for sub in ("/template.xlsx", f"/comments/{world['ann_comment']}/edit",
                f"/documents/{world['documents']['SPM']}"):
        assert client.get(f"/review/{secret}{sub}").status_code == 404
    before = comments_of(app, world["pa"])
    assert client.post(f"/review/{secret}", data=COMMENT).status_code == 404
    assert client.post(f"/review/{secret}/comments/{world['ann_comment']}/delete").status_code == 404
    assert comments_of(app, world["pa"]) == before


def test_every_bad_link_gets_the_same_page(app, client):
    world = seed(app)
    pages = {_text(client.get(f"/review/{s}")) for s in ("abc", "y" * 43, world["secrets"]["carl"])}
    assert len(pages) == 1


def test_after_the_close_the_link_shows_the_comments_read_only(app, client):
    world = seed(app, opens_on=TODAY - dt.timedelta(days=30), closes_on=TODAY - dt.timedelta(days=2))
    secret = world["secrets"]["ann"]
    body = _text(client.get(f"/review/{secret}"))
    closed_on = (TODAY - dt.timedelta(days=2)).strftime("%B %-d, %Y")
    assert f"This consultation closed on {closed_on}" in body
    assert "Ann&#39;s own remark on the SPM." in body
    assert f'action="/review/{secret}"' not in body and "/edit" not in body and "/delete" not in body
    assert f'action="/review/{secret}/upload"' not in body
    response = client.post(f"/review/{secret}", data=COMMENT)
    assert response.status_code == 409
    assert "The consultation is closed" in _text(response)
    assert "The trend in Figure 3.4" in _text(response)  # the typed text is shown back, not lost
    edit = client.post(f"/review/{secret}/comments/{world['ann_comment']}/edit",
                       data=COMMENT | {"version": "1"}, follow_redirects=True)
    assert "The consultation is closed" in _text(edit)
    client.post(f"/review/{secret}/comments/{world['ann_comment']}/delete")
    assert comments_of(app, world["pa"]) == ["Ann's own remark on the SPM."]


def test_before_the_opening_the_link_says_when_it_opens(app, client):
    opens = TODAY + dt.timedelta(days=3)
    world = seed(app, opens_on=opens, closes_on=TODAY + dt.timedelta(days=20))
    body = _text(client.get(f"/review/{world['secrets']['ann']}"))
    assert f"This consultation opens on {opens.strftime('%B %-d, %Y')}" in body
    assert client.post(f"/review/{world['secrets']['ann']}", data=COMMENT).status_code == 409
    assert "The consultation is not open yet." in _text(client.post(f"/review/{world['secrets']['ann']}",
                                                                    data=COMMENT))
    assert comments_of(app, world["pa"]) == ["Ann's own remark on the SPM."]


# --- adding ---------------------------------------------------------------------------------------------
def test_adding_a_comment_through_the_link_keeps_the_author_and_audits_via_link(app, client):
    world = seed(app)
    secret = world["secrets"]["ann"]
    response = client.post(f"/review/{secret}", data=COMMENT | {"document": str(world["documents"]["Chapter 1"])})
    assert response.status_code == 302
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        new_id = db.session.scalar(sa.select(sa.func.max(ReviewComment.id)))
    assert response.headers["Location"] == f"/review/{secret}#comment-{new_id}"
    assert comment_row(app, new_id) == {
        "comment": COMMENT["comment"], "suggested_change": "Cite the 2023 assessment.", "chapter": "3.2",
        "page_from": 12, "line_from": 4, "page_to": 12, "line_to": 9, "document_title": "Chapter 1",
        "participant_id": world["pa"], "expert_id": world["ann"], "reviewer_name": "Ann Peeters",
        "reviewer_email": "ann.peeters@example.org", "version": 1, "comment_type": "specific",
        "source": "browser"}
    assert audit(app, "comment.add") == [(None, {"consultation": world["id"], "source": "browser", "via": "link"})]
    page = _text(client.get(f"/review/{secret}"))
    assert "Your comment is saved." in page
    assert page.index("Ann&#39;s own remark") < page.index("The trend in Figure 3.4")  # SPM before Chapter 1


def test_through_the_link_the_audit_names_the_experts_account_when_there_is_one(app, client, make_user):
    world = seed(app, make_user, ann_account=True)
    assert client.post(f"/review/{world['secrets']['ann']}",
                       data=COMMENT | {"document": "SPM"}).status_code == 302
    assert audit(app, "comment.add") == [(world["user_id"], {"consultation": world["id"], "source": "browser",
                                                             "via": "link"})]


def test_the_document_select_is_hidden_when_there_is_one_document(app, client):
    world = seed(app, documents=("Full draft",))
    secret = world["secrets"]["ann"]
    body = _text(client.get(f"/review/{secret}"))
    assert 'name="document"' not in body
    assert client.post(f"/review/{secret}", data=COMMENT | {"document": "whatever"}).status_code == 302
    assert comments_of(app, world["pa"])[-1] == COMMENT["comment"]
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        assert db.session.scalar(sa.select(ReviewComment.document_title).order_by(ReviewComment.id.desc())
                                 .limit(1)) == "Full draft"


def _field_error(body: str, field: str) -> str:
    match = re.search(rf'<div id="{field}-errors" class="invalid-feedback">(.*?)</div>', body, re.S)
    return match.group(1).strip() if match else ""


def test_validation_messages_appear_next_to_their_fields_and_nothing_is_stored(app, client):
    world = seed(app)
    secret = world["secrets"]["ann"]
    response = client.post(f"/review/{secret}", data=COMMENT | {
        "document": "987654", "page_from": "twelve", "line_from": "-3", "page_to": "", "comment": "   ",
        "comment_type": "urgent", "chapter": "Typed chapter stays"})
    assert response.status_code == 422
    body = _text(response)
    assert _field_error(body, "document") == \
        "Unknown document “987654” (this consultation has: SPM, Chapter 1)."
    assert _field_error(body, "page_from") == "From page must be a whole number, not “twelve”."
    assert _field_error(body, "line_from") == "From line must be between 1 and 100000."
    assert _field_error(body, "comment") == "The comment is missing."
    assert _field_error(body, "comment_type") == "Type must be General, Specific or Editorial, not “urgent”."
    assert _field_error(body, "suggested_change") == ""
    assert 'value="Typed chapter stays"' in body
    assert re.search(r'<input [^>]*class="form-control is-invalid" id="page_from" [^>]*value="twelve">', body)
    assert comments_of(app, world["pa"]) == ["Ann's own remark on the SPM."]


def test_page_order_and_length_are_checked(app, client):
    world = seed(app)
    secret = world["secrets"]["ann"]
    body = _text(client.post(f"/review/{secret}", data=COMMENT | {"document": "SPM", "page_from": "9",
                                                                   "page_to": "4"}))
    assert _field_error(body, "page_to") == "To page comes before From page."
    response = client.post(f"/review/{secret}", data=COMMENT | {"document": "SPM", "comment": "x" * 20_001})
    assert response.status_code == 422
    assert _field_error(_text(response), "comment") == "The comment is longer than 20000 characters."
    body = _text(client.post(f"/review/{secret}", data=COMMENT | {"document": ""}))
    assert _field_error(body, "document") == "Say which document the comment is about."
    assert comments_of(app, world["pa"]) == ["Ann's own remark on the SPM."]


# --- editing and deleting ---------------------------------------------------------------------------------
def test_editing_ones_comment_through_the_link(app, client):
    world = seed(app)
    secret, cid = world["secrets"]["ann"], world["ann_comment"]
    form = _text(client.get(f"/review/{secret}/comments/{cid}/edit"))
    assert "Ann&#39;s own remark on the SPM." in form
    assert 'name="version" type="hidden" value="1"' in form
    assert '<option selected value="%d">SPM</option>' % world["documents"]["SPM"] in form
    response = client.post(f"/review/{secret}/comments/{cid}/edit", data=COMMENT | {
        "document": str(world["documents"]["SPM"]), "comment": "Ann's remark, rephrased.", "version": "1",
        "comment_type": "editorial"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/{secret}#comment-{cid}"
    row = comment_row(app, cid)
    assert (row["comment"], row["comment_type"], row["page_from"], row["version"]) == \
        ("Ann's remark, rephrased.", "editorial", 12, 2)
    [(actor, data)] = audit(app, "comment.edit")
    assert actor is None and data["via"] == "link"
    assert set(data["fields"]) == {"comment", "comment_type", "chapter", "page_from", "line_from", "page_to",
                                   "line_to", "suggested_change"}


def test_a_stale_edit_is_refused_and_shows_the_saved_version(app, client):
    world = seed(app)
    secret, cid = world["secrets"]["ann"], world["ann_comment"]
    client.post(f"/review/{secret}/comments/{cid}/edit", data=COMMENT | {
        "document": "SPM", "comment": "Saved in the other tab.", "version": "1"})
    response = client.post(f"/review/{secret}/comments/{cid}/edit", data=COMMENT | {
        "document": "SPM", "comment": "Typed in the old tab.", "version": "1"})
    assert response.status_code == 409
    body = _text(response)
    assert "changed elsewhere since you opened it" in body
    assert "The saved version" in body and "Saved in the other tab." in body
    assert "Typed in the old tab." in body  # kept in the form
    assert 'name="version" type="hidden" value="2"' in body
    assert comment_row(app, cid)["comment"] == "Saved in the other tab."


def test_deleting_ones_comment_and_a_stale_delete(app, client):
    world = seed(app)
    secret, cid = world["secrets"]["ann"], world["ann_comment"]
    response = client.post(f"/review/{secret}/comments/{cid}/delete", data={"version": "0"})
    assert response.status_code == 302
    assert comment_row(app, cid) is not None
    response = client.post(f"/review/{secret}/comments/{cid}/delete", data={"version": "1"})
    assert response.headers["Location"] == f"/review/{secret}"
    assert comment_row(app, cid) is None
    [(actor, data)] = audit(app, "comment.delete")
    assert data == {"consultation": world["id"], "comment": "Ann's own remark on the SPM.", "via": "link"}
    assert "Your comment is deleted." in _text(client.get(f"/review/{secret}"))
    assert comments_of(app, world["pb"]) == ["Bob's private remark."]


@pytest.mark.parametrize("target", ["bob_comment", "other_comment", "missing"])
def test_another_experts_comment_is_not_found_through_either_door(app, make_user, target):
    world = seed(app, make_user, ann_account=True)
    cid = world.get(target, 999_999)
    before = (comment_row(app, world["bob_comment"]), comment_row(app, world["other_comment"]))
    link = app.test_client()
    account = expert_client(app)
    for client, prefix in ((link, f"/review/{world['secrets']['ann']}"),
                           (account, f"/consultations/{world['id']}/review")):
        assert client.get(f"{prefix}/comments/{cid}/edit").status_code == 404
        response = client.post(f"{prefix}/comments/{cid}/edit", data=COMMENT | {"comment": "Hijack", "version": "1",
                                                                                 "document": "SPM"})
        assert response.status_code == 404
        assert "Bob" not in _text(response)
        assert client.post(f"{prefix}/comments/{cid}/delete", data={"version": "1"}).status_code == 404
    assert (comment_row(app, world["bob_comment"]), comment_row(app, world["other_comment"])) == before


def test_a_decided_comment_is_locked_and_the_staff_note_is_never_shown(app, client):
    world = seed(app)
    secret, cid = world["secrets"]["ann"], world["ann_comment"]
    set_decision(app, cid)
    body = _text(client.get(f"/review/{secret}"))
    assert "The focal point has already decided on this comment: it can no longer change." in body
    assert f"/comments/{cid}/edit" not in body and f"/comments/{cid}/delete" not in body
    assert "Staff only" not in body and "Adopt" not in body
    response = client.get(f"/review/{secret}/comments/{cid}/edit", follow_redirects=True)
    assert "already decided" in _text(response)
    assert "Staff only" not in _text(response)
    client.post(f"/review/{secret}/comments/{cid}/edit", data=COMMENT | {"document": "SPM", "version": "1"})
    client.post(f"/review/{secret}/comments/{cid}/delete", data={"version": "1"})
    assert comment_row(app, cid)["comment"] == "Ann's own remark on the SPM."


# --- the logged-in expert ---------------------------------------------------------------------------------
def test_a_logged_in_expert_uses_the_same_workspace_under_the_consultation(app, make_user):
    world = seed(app, make_user, ann_account=True)
    client = expert_client(app)
    prefix = f"/consultations/{world['id']}/review"
    response = client.get(prefix)
    assert response.status_code == 200
    body = _text(response)
    assert "Ann&#39;s own remark on the SPM." in body and "Bob&#39;s private remark." not in body
    assert f'action="{prefix}"' in body and "/review/" + world["secrets"]["ann"] not in body
    assert f'href="{prefix}/comments/{world["ann_comment"]}/edit"' in body
    response = client.post(prefix, data=COMMENT | {"document": "Chapter 1"})
    assert response.status_code == 302 and response.headers["Location"].startswith(f"{prefix}#comment-")
    assert audit(app, "comment.add") == [(world["user_id"], {"consultation": world["id"], "source": "browser"})]
    cid = world["ann_comment"]
    assert client.post(f"{prefix}/comments/{cid}/edit", data=COMMENT | {
        "document": "SPM", "comment": "Edited while logged in.", "version": "1"}).status_code == 302
    assert comment_row(app, cid)["comment"] == "Edited while logged in."
    assert client.post(f"{prefix}/comments/{cid}/delete", data={"version": "2"}).status_code == 302
    assert comments_of(app, world["pa"]) == [COMMENT["comment"]]


def test_a_logged_in_expert_gets_404_for_consultations_they_are_not_invited_to(app, make_user):
    world = seed(app, make_user, ann_account=True)
    client = expert_client(app)
    response = client.get(f"/consultations/{world['other_id']}/review")
    assert response.status_code == 404
    assert "Pollinators" not in _text(response)
    assert client.get("/consultations/999999/review").status_code == 404
    assert client.get(f"/consultations/{world['other_id']}/review/template.xlsx").status_code == 404
    assert client.post(f"/consultations/{world['other_id']}/review", data=COMMENT).status_code == 404
    # Removed: the expert loses access.
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    with app.app_context():
        db.session.get(Participant, world["pa"]).removed_at = dt.datetime.now(dt.timezone.utc)
        db.session.commit()
    assert client.get(f"/consultations/{world['id']}/review").status_code == 404
    assert app.test_client().get(f"/review/{world['secrets']['ann']}").status_code == 404


def test_an_expert_account_without_a_record_gets_404(app, make_user):
    world = seed(app)
    make_user("lone@example.org", "expert")
    response = expert_client(app, "lone@example.org").get(f"/consultations/{world['id']}/review")
    assert response.status_code == 404
    assert "Nexus" not in _text(response)


@pytest.mark.parametrize("role", ["reviewer", "staff"])
def test_reviewers_and_staff_are_refused_the_expert_door(app, make_user, role):
    world = seed(app)
    make_user(f"{role}@example.org", role)
    client = expert_client(app, f"{role}@example.org")
    for path in ("", "/template.xlsx", f"/comments/{world['ann_comment']}/edit"):
        response = client.get(f"/consultations/{world['id']}/review{path}")
        assert response.status_code == 403
        assert "Nexus" not in _text(response)


def test_anonymous_visitors_of_the_expert_door_are_sent_to_login(app, client):
    world = seed(app)
    response = client.get(f"/consultations/{world['id']}/review")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/consultations/{world['id']}/review"


# --- /consultations and /consultations/<id> for experts (views.py calls expert_index / expert_detail) -------
def test_the_expert_list_shows_only_their_consultations_with_state_and_counts(app, make_user):
    world = seed(app, make_user, ann_account=True)
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    with app.app_context():
        closed = make_consultation("Closed values draft", closes_on=TODAY - dt.timedelta(days=1),
                                   opens_on=TODAY - dt.timedelta(days=20))
        gone = make_consultation("Removed from this one")
        ann = db.session.get(Participant, world["pa"]).expert
        make_participant(closed, ann)
        make_participant(gone, ann, removed=True)
        closed_id = closed.id
        db.session.commit()
    response = expert_client(app).get("/consultations")
    assert response.status_code == 200
    body = _text(response)
    rows = re.findall(r'<a href="/consultations/(\d+)/review">([^<]+)</a>.*?<span class="badge [^"]+">([^<]+)</span>'
                      r'.*?<td class="text-end">(\d+)</td>', body, re.S)
    assert rows == [(str(world["id"]), "Nexus assessment, second order draft", "Open", "1"),
                    (str(closed_id), "Closed values draft", "Closed", "0")]
    assert "Pollinators" not in body and "Removed from this one" not in body


def test_the_expert_list_without_an_expert_record_is_friendly(app, make_user):
    make_user("lone@example.org", "expert")
    response = expert_client(app, "lone@example.org").get("/consultations")
    assert response.status_code == 200
    assert "No expert record is linked to your account yet." in _text(response)


def test_the_consultation_page_is_the_workspace_for_an_invited_expert_and_404_otherwise(app, make_user):
    world = seed(app, make_user, ann_account=True)
    client = expert_client(app)
    response = client.get(f"/consultations/{world['id']}")
    assert response.status_code == 200
    assert "Ann&#39;s own remark on the SPM." in _text(response)
    assert f'action="/consultations/{world["id"]}/review"' in _text(response)
    response = client.get(f"/consultations/{world['other_id']}")
    assert response.status_code == 404
    assert "Pollinators" not in _text(response)


def test_through_the_link_the_page_speaks_the_experts_language(app, client):
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    world = seed(app, closes_on=dt.date(2031, 3, 15))
    with app.app_context():
        db.session.get(Participant, world["pa"]).expert.preferred_language = "fr"
        db.session.commit()
    body = _text(client.get(f"/review/{world['secrets']['ann']}", headers={"Accept-Language": "nl"}))
    assert '<html lang="fr">' in body
    assert "15 mars 2031" in body
