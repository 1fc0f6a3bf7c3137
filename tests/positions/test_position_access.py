"""Who sees what: reviewers see only the notes asked of their own administration (any other id → 404), act
only for it, see only its comments, and never the inbox, the experts or the consultations."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from position_helpers import TEXTS, ask_review, client_for, make_note, make_session, note_row


@pytest.fixture
def world(app, make_user):
    make_user("stella@example.org", "staff", name="Stella Staff")
    make_user("vera@vl.example", "reviewer", administration="BE-VL", name="Vera Vlaams")
    make_user("walter@wal.example", "reviewer", administration="BE-WAL", name="Walter Wallon")
    make_user("eva@example.org", "expert", name="Eva Expert")
    session = make_session(app)
    flemish = make_note(app, session["items"]["7 (b)"], texts=TEXTS | {"background": "Flemish only note."})
    walloon = make_note(app, session["items"]["8"], texts=TEXTS | {"background": "Walloon only note."})
    both = make_note(app, make_session(app, code="IPBES-41", items=("2",), documents=())["items"]["2"],
                     texts=TEXTS | {"background": "Note for both."})
    requests = {"flemish": ask_review(app, flemish, codes=("BE-VL",)),
                "walloon": ask_review(app, walloon, codes=("BE-WAL",)),
                "both": ask_review(app, both, codes=("BE-VL", "BE-WAL"))}
    return {"flemish": flemish, "walloon": walloon, "both": both, "requests": requests,
            "vera": client_for(app, "vera@vl.example"), "walter": client_for(app, "walter@wal.example"),
            "staff": client_for(app, "stella@example.org")}


def test_reviewers_list_only_the_notes_asked_of_their_administration(app, world):
    vera = world["vera"].get("/positions").get_data(as_text=True)
    assert f'href="/positions/{world["flemish"]}"' in vera and f'href="/positions/{world["both"]}"' in vera
    assert f'href="/positions/{world["walloon"]}"' not in vera
    assert "To clear" in vera
    walter = world["walter"].get("/positions").get_data(as_text=True)
    assert f'href="/positions/{world["walloon"]}"' in walter and f'href="/positions/{world["flemish"]}"' not in walter
    staff = world["staff"].get("/positions").get_data(as_text=True)
    assert all(f'href="/positions/{world[k]}"' in staff for k in ("flemish", "walloon", "both"))


def test_the_reviewer_list_shows_their_state(app, world):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import PositionNote

    with app.app_context():
        vera = db.session.scalar(sa.select(User).where(User.email == "vera@vl.example"))
        svc.decide_clearance(db.session.get(PositionNote, world["both"]), actor=vera, decision="cleared",
                             note_version=1)
        svc.decide_clearance(db.session.get(PositionNote, world["flemish"]), actor=vera, decision="objected",
                             reason="No", note_version=1)
        db.session.commit()
    page = world["vera"].get("/positions").get_data(as_text=True)
    assert "Cleared" in page and "Objected" in page and "To clear" not in page
    with app.app_context():
        note = db.session.get(PositionNote, world["both"])
        svc.save_version(note, texts=TEXTS | {"fallback": "New"}, actor=None, expected_version=note.version)
        db.session.commit()
    assert "New version to clear" in world["vera"].get("/positions").get_data(as_text=True)
    page = world["vera"].get(f"/positions/{world['both']}").get_data(as_text=True)
    assert "New version to clear" in page and f"/positions/{world['both']}/diff?from=1&amp;to=2" in page


@pytest.mark.parametrize("path", ["/positions/{id}", "/positions/{id}/versions", "/positions/{id}/diff",
                                  "/positions/{id}/diff?from=1&to=1"])
def test_another_administrations_note_is_not_found(app, world, path):
    response = world["vera"].get(path.format(id=world["walloon"]))
    assert response.status_code == 404
    assert "Walloon only note." not in response.get_data(as_text=True)
    assert world["vera"].get(path.format(id=world["flemish"])).status_code in (200, 302)
    assert world["vera"].get(path.format(id=99999)).status_code == 404


def test_a_reviewer_cannot_act_on_another_administrations_note(app, world):
    walloon = world["walloon"]
    assert world["vera"].post(f"/positions/{walloon}/comments", data={
        "target": "", "body": "Sneaky", "note_version": "1"}).status_code == 404
    assert world["vera"].post(f"/positions/{walloon}/clearance", data={
        "decision": "cleared", "note_version": "1"}).status_code == 404
    assert note_row(app, walloon)["status"] == "in_review"
    from focalpoint.extensions import db
    from focalpoint.positions.models import Clearance, NoteComment

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Clearance)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NoteComment)) == 0


def test_a_withdrawn_request_hides_the_note_again(app, world):
    world["staff"].post(f"/positions/{world['flemish']}/reviews/{world['requests']['flemish']['BE-VL']}/withdraw")
    assert world["vera"].get(f"/positions/{world['flemish']}").status_code == 404
    assert f'href="/positions/{world["flemish"]}"' not in world["vera"].get("/positions").get_data(as_text=True)


@pytest.mark.parametrize("method,path", [
    ("GET", "/notifications"), ("GET", "/experts"), ("GET", "/consultations"), ("GET", "/plenary"),
    ("GET", "/positions/{id}/edit"), ("POST", "/positions/{id}/edit"), ("POST", "/positions/{id}/reviews"),
    ("POST", "/positions/{id}/reopen"), ("GET", "/plenary/items/1/note"),
    ("POST", "/positions/{id}/reviews/1/withdraw"), ("POST", "/positions/{id}/comments/1/resolve"),
])
def test_reviewers_are_refused_staff_pages(app, world, method, path):
    response = world["vera"].open(path.format(id=world["flemish"]), method=method)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/positions", "/positions/{id}", "/positions/{id}/versions"])
def test_experts_see_no_position_note(app, world, path):
    expert = client_for(app, "eva@example.org")
    assert expert.get(path.format(id=world["flemish"])).status_code == 403


def test_staff_cannot_clear_or_comment_as_an_administration(app, world):
    staff = world["staff"]
    assert staff.post(f"/positions/{world['flemish']}/clearance", data={
        "decision": "cleared", "note_version": "1"}).status_code == 403
    assert staff.post(f"/positions/{world['flemish']}/comments", data={
        "target": "", "body": "x", "note_version": "1"}).status_code == 403


def test_an_admin_without_administration_is_told_not_allowed(app, world, make_user):
    make_user("ada@example.org", "admin", name="Ada Admin")
    admin = client_for(app, "ada@example.org")
    response = admin.post(f"/positions/{world['flemish']}/clearance", data={"decision": "cleared",
                                                                           "note_version": "1"})
    assert response.status_code == 302
    assert "Only reviewers of an administration asked to review this note can do this." in admin.get(
        response.headers["Location"]).get_data(as_text=True)
    assert note_row(app, world["flemish"])["status"] == "in_review"


def test_reviewers_see_only_their_own_administrations_comments(app, world):
    both = world["both"]
    world["vera"].post(f"/positions/{both}/comments", data={"target": "", "body": "Flemish remark",
                                                             "note_version": "1"})
    world["walter"].post(f"/positions/{both}/comments", data={"target": "", "body": "Walloon remark",
                                                               "note_version": "1"})
    world["walter"].post(f"/positions/{both}/clearance", data={"decision": "objected",
                                                                "reason": "Walloon reason", "note_version": "1"})
    vera = world["vera"].get(f"/positions/{both}").get_data(as_text=True)
    assert "Flemish remark" in vera and "Walloon remark" not in vera and "Walloon reason" not in vera
    staff = world["staff"].get(f"/positions/{both}").get_data(as_text=True)
    assert "Flemish remark" in staff and "Walloon remark" in staff and "Walloon reason" in staff


def test_ids_of_other_notes_are_not_found(app, world):
    """A comment of one note reached through another note's address is not found."""
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteComment

    world["walter"].post(f"/positions/{world['walloon']}/comments", data={"target": "", "body": "W",
                                                                           "note_version": "1"})
    with app.app_context():
        comment_id = db.session.scalar(sa.select(NoteComment.id))
    staff = world["staff"]
    assert staff.post(f"/positions/{world['flemish']}/comments/{comment_id}/answer",
                      data={"body": "x"}).status_code == 404
    assert staff.post(f"/positions/{world['flemish']}/comments/{comment_id}/resolve").status_code == 404
    assert staff.post(f"/positions/{world['walloon']}/comments/{comment_id}/answer",
                      data={"body": "Answered"}).status_code == 302


def test_the_services_check_access_too(app, world):
    from focalpoint.auth.models import Administration, User
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import AgendaItem, PositionNote

    with app.app_context():
        vera = db.session.scalar(sa.select(User).where(User.email == "vera@vl.example"))
        eva = db.session.scalar(sa.select(User).where(User.email == "eva@example.org"))
        walloon = db.session.get(PositionNote, world["walloon"])
        flemish = db.session.get(PositionNote, world["flemish"])
        assert svc.can_view(flemish, vera) and not svc.can_view(walloon, vera) and not svc.can_view(flemish, eva)
        with pytest.raises(svc.AccessDenied):
            svc.decide_clearance(walloon, actor=vera, decision="cleared", note_version=1)
        with pytest.raises(svc.AccessDenied):
            svc.add_comment(walloon, actor=vera, section=None, paragraph=None, body="x", note_version=1)
        with pytest.raises(svc.AccessDenied):
            svc.save_version(flemish, texts=TEXTS, actor=vera, expected_version=flemish.version)
        with pytest.raises(svc.AccessDenied):
            svc.request_review(flemish, db.session.scalars(sa.select(Administration)).all(), svc.local_today(),
                               actor=vera)
        with pytest.raises(svc.AccessDenied):
            svc.reopen_note(flemish, actor=vera)
        with pytest.raises(svc.AccessDenied):
            svc.create_note(db.session.get(AgendaItem, flemish.agenda_item_id), actor=eva)
        visible = db.session.scalars(sa.select(PositionNote.id).where(svc.visible_notes_clause(vera))).all()
        assert sorted(visible) == sorted([world["flemish"], world["both"]])
        assert db.session.scalars(sa.select(PositionNote.id).where(svc.visible_notes_clause(eva))).all() == []
