"""Staff's consultation services: decisions (the one writer), merges and their chains, participants."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from consultation_helpers import make_comment, make_consultation, make_expert, make_participant


@pytest.fixture
def world(app, make_user):
    """A consultation with three comments on the SPM by Ann and Bob, and another consultation's comment."""
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    staff_id = make_user("staff@example.org", "staff")
    with app.app_context():
        c = make_consultation()
        other = make_consultation("Other consultation", documents=("SPM",))
        ann, bob = make_expert("Ann", "Peeters"), make_expert("Bob", "Claes")
        pa, pb = make_participant(c, ann), make_participant(c, bob)
        a = make_comment(c, pa, comment="A: figure 2 is unclear", page_from=2)
        b = make_comment(c, pb, comment="B: figure 2 lacks units", page_from=2, line_from=5)
        d = make_comment(c, pb, comment="D: typo", page_from=9)
        x = make_comment(other, make_participant(other, ann), comment="X: elsewhere")
        db.session.commit()
        ids = {"a": a.id, "b": b.id, "d": d.id, "x": x.id, "cid": c.id}
    with app.app_context():
        yield {**ids, "staff": db.session.get(User, staff_id)}


def _get(comment_id):
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    return db.session.get(ReviewComment, comment_id)


def _decisions(audit_object_id) -> list[dict]:
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    return [e.data for e in db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.object_type == "consultation_comments", AuditEntry.object_id == audit_object_id,
        AuditEntry.action == "comment.decision").order_by(AuditEntry.id))]


def test_a_decision_keeps_the_author_stamps_who_and_when_and_is_audited(world):
    from focalpoint.consultations import services as svc
    from focalpoint.extensions import db

    a = _get(world["a"])
    result = svc.decide_comment(a, "adopt", actor=world["staff"], staff_note=" Clear. ", version=a.version)
    db.session.commit()
    a = _get(world["a"])
    assert result.changed is True
    assert (a.decision.value, a.staff_note, a.decided_by_id, a.reviewer_name, a.reviewer_email, a.comment) == (
        "adopt", "Clear.", world["staff"].id, "Ann Peeters", "ann.peeters@example.org", "A: figure 2 is unclear")
    assert a.decided_at is not None
    [entry] = _decisions(a.id)
    assert (entry["previous"], entry["new"], entry["note"], entry["author"]) == (None, "adopt", "Clear.",
                                                                                  "Ann Peeters")
    again = svc.decide_comment(a, "adopt", actor=world["staff"], staff_note="Clear.")
    assert again.changed is False
    assert len(_decisions(a.id)) == 1


def test_adopt_edited_needs_the_edited_text_and_exports_it(world):
    from focalpoint.consultations import services as svc

    a = _get(world["a"])
    with pytest.raises(svc.ConsultationError, match="needs the edited wording") as caught:
        svc.decide_comment(a, "adopt_edited", actor=world["staff"], edited_comment="   ")
    assert caught.value.field == "edited_comment"
    svc.decide_comment(a, "adopt_edited", actor=world["staff"], edited_comment="Figure 2: add a legend.",
                       edited_suggested_change="Legend.")
    assert (a.final_comment, a.final_suggested_change, a.comment) == ("Figure 2: add a legend.", "Legend.",
                                                                      "A: figure 2 is unclear")


def test_undo_makes_the_comment_undecided_again(world):
    from focalpoint.consultations import services as svc

    a, b = _get(world["a"]), _get(world["b"])
    svc.decide_comment(b, "merge", actor=world["staff"], merged_into=a.id)
    result = svc.decide_comment(b, None, actor=world["staff"])
    assert result.changed is True
    assert (b.decision, b.merged_into_id, b.decided_at, b.decided_by_id) == (None, None, None, None)
    assert [d["new"] for d in _decisions(b.id)] == ["merge", None]


@pytest.mark.parametrize(("target", "message"), [("self", "cannot be merged into itself"),
                                                 ("x", "same consultation"), ("999999", "same consultation"),
                                                 ("nonsense", "same consultation"), (None, "Choose the comment")])
def test_merges_are_refused_into_itself_another_consultation_or_nothing(world, target, message):
    from focalpoint.consultations import services as svc

    a = _get(world["a"])
    value = {"self": a.id, "x": world["x"]}.get(target, target)
    with pytest.raises(svc.ConsultationError, match=message):
        svc.decide_comment(a, "merge", actor=world["staff"], merged_into=value)
    assert a.decision is None


def test_a_merge_into_a_merged_comment_goes_on_to_its_target(world):
    from focalpoint.consultations import services as svc

    a, b, d = _get(world["a"]), _get(world["b"]), _get(world["d"])
    svc.decide_comment(b, "merge", actor=world["staff"], merged_into=a.id)
    result = svc.decide_comment(d, "merge", actor=world["staff"], merged_into=b.id)
    assert (d.merged_into_id, result.merged_into.id, result.followed_from.id) == (a.id, a.id, b.id)
    assert _decisions(d.id)[-1]["followed_from"] == b.id


def test_comments_merged_into_one_follow_it_when_it_is_merged(world):
    from focalpoint.consultations import services as svc

    a, b, d = _get(world["a"]), _get(world["b"]), _get(world["d"])
    svc.decide_comment(b, "merge", actor=world["staff"], merged_into=a.id)  # B → A
    result = svc.decide_comment(a, "merge", actor=world["staff"], merged_into=d.id)  # A → D: B follows to D
    assert (a.merged_into_id, b.merged_into_id, result.moved) == (d.id, d.id, [b.id])
    assert _decisions(b.id)[-1]["moved_from"] == a.id
    assert svc.merged_here([d.id]) == {d.id: [a.id, b.id]}


def test_a_merge_that_would_loop_is_refused(world):
    from focalpoint.consultations import services as svc

    a, b = _get(world["a"]), _get(world["b"])
    svc.decide_comment(b, "merge", actor=world["staff"], merged_into=a.id)
    with pytest.raises(svc.ConsultationError, match="is merged into this one"):
        svc.decide_comment(a, "merge", actor=world["staff"], merged_into=b.id)


def test_a_stale_version_is_refused(world):
    from focalpoint.consultations import services as svc
    from focalpoint.extensions import db

    a = _get(world["a"])
    seen = a.version
    svc.decide_comment(a, "reject", actor=world["staff"])
    db.session.commit()
    with pytest.raises(svc.StaleFormError, match="Someone changed this"):
        svc.decide_comment(_get(world["a"]), "adopt", actor=world["staff"], version=seen)
    with pytest.raises(svc.StaleFormError):
        svc.decide_comment(_get(world["a"]), "adopt", actor=world["staff"], version="")


def test_warnings_name_merges_into_comments_that_are_not_adopted(world):
    from focalpoint.consultations import services as svc

    a, b, d = _get(world["a"]), _get(world["b"]), _get(world["d"])
    svc.decide_comment(b, "merge", actor=world["staff"], merged_into=a.id)
    assert list(svc.merge_warnings([a, b, d])) == [b.id]
    svc.decide_comment(a, "adopt", actor=world["staff"])
    assert svc.merge_warnings([a, b, d]) == {}
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db

    assert svc.progress(db.session.get(Consultation, world["cid"])) == (2, 3)


def test_a_removed_participant_invited_again_comes_back_with_a_new_link(app, world):
    from focalpoint.consultations import links
    from focalpoint.consultations import services as svc
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    participant = db.session.scalar(sa.select(Participant).where(Participant.consultation_id == world["cid"])
                                    .order_by(Participant.id))
    old = links.new_secret(participant)
    svc.remove_participant(participant, actor=world["staff"])
    assert links.find_participant(old) is None
    result = svc.add_participants(participant.consultation, [participant.expert], actor=world["staff"])
    assert [p.id for p in result.added] == [participant.id]
    assert participant.removed_at is None and participant.token_hash is not None
    assert links.find_participant(old) is None
    assert svc.add_participants(participant.consultation, [participant.expert], actor=None).refused == [
        (participant.expert, "already invited")]


@pytest.mark.parametrize(("text", "marks"), [("7;2", [7, 2]), ("2, 7;7", [7, 2]), ("", []), ("a;3;-1;999", [3])])
def test_reminder_days_are_read_leniently(text, marks):
    from focalpoint.consultations.services import reminder_marks

    assert reminder_marks(text) == marks


@pytest.mark.parametrize(("text", "draft"), [("Review of the second order draft", "sod"),
                                             ("First-order draft of chapter 2", "fod"),
                                             ("the Summary for Policymakers (SPM)", "spm"),
                                             ("Scoping report for a nexus assessment", "scoping"),
                                             ("Call for experts", "other")])
def test_the_kind_of_draft_is_read_from_the_notification(text, draft):
    from focalpoint.consultations.services import guess_draft

    assert guess_draft(text).value == draft


def test_the_state_clause_agrees_with_the_dates(app):
    from focalpoint.consultations import comments as cm
    from focalpoint.consultations import services as svc
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db

    with app.app_context():
        today = svc.local_today()
        made = [make_consultation(f"C{i}", opens_on=today + dt.timedelta(days=o), closes_on=today + dt.timedelta(days=c))
                for i, (o, c) in enumerate([(1, 5), (0, 0), (-5, -1), (-5, 3)])]
        db.session.commit()
        for state in ("upcoming", "open", "closed"):
            ids = set(db.session.scalars(sa.select(Consultation.id).where(svc.state_clause(state, svc.local_today()))))
            assert ids == {c.id for c in made if cm.state(c) == state}, state
