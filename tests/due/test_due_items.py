"""The aggregator: every source's exact rows, scopes, filters, order, the overdue flag, constant queries."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from due_helpers import STAFF, TODAY, build, day, get_user, users

FLEMISH = "Flemish administration (Department of Environment)"
WALLOON = "Walloon administration (SPW Agriculture, Natural Resources and Environment)"
HOST = "focalpoint.test"


@pytest.fixture
def world(app, make_user):
    ids = users(app, make_user)
    return ids, build(app, ids)[0]


def rows(app, user_id, **kwargs):
    """(kind, id, date, overdue, what is needed, from whom, url, owner) of the user's items, in order."""
    from focalpoint.due.services import due_items

    with app.app_context():
        items = due_items(get_user(app, user_id), today=TODAY, **kwargs)
        return [(i.kind, i.item_id, i.date, i.overdue, i.what_is_needed, i.from_whom, i.url, i.owner_id)
                for i in items]


def items(app, user_id, **kwargs):
    from focalpoint.due.services import due_items

    with app.app_context():
        return due_items(get_user(app, user_id), today=TODAY, **kwargs)


def team_rows(ids, w):
    """Everything the staff work on, nearest first (the expected answer for scope "team")."""
    me, other = ids["staff"], ids["other"]
    reminder_day = day(3)
    return [
        ("notification-national", w["late"], day(-5), True, "National deadline", "Unassigned",
         f"/notifications/{w['late']}", None),
        ("notification-deadline", w["late_deadline"], day(-2), True, "Secretariat: Comments", "Unassigned",
         f"/notifications/{w['late']}", None),
        ("review", w["review_vl"], day(-1), True, "Review and clear the position note", FLEMISH,
         f"/positions/{w['note']}", me),
        ("notification-national", w["mine"], day(3), False, "National deadline", "Stella Staff",
         f"/notifications/{w['mine']}", me),
        ("invitation-reminder", w["call"], reminder_day, False,
         "Reminder e-mailed to the invited experts who have not answered", "1 invited expert",
         f"/calls/{w['call']}", me),
        ("call-national", w["call"], day(5), False, "National deadline: invited experts answer",
         "1 invitation not answered", f"/calls/{w['call']}", me),
        ("review", w["review_wal"], day(7), False, "Review and clear the position note", WALLOON,
         f"/positions/{w['note']}", other),  # asked by nobody on record: the note's author
        ("event", w["event"], day(9), False, "The event takes place", "1 registered", f"/events/{w['event']}", other),
        ("notification-deadline", w["mine_deadline"], day(10), False, "Secretariat: Inputs", "Stella Staff",
         f"/notifications/{w['mine']}", me),
        ("notification-deadline", w["reminder_new_date"], day(12), False, "Secretariat: Extension", "Stella Staff",
         f"/notifications/{w['reminder']}", me),
        ("consultation-close", w["consultation"], day(14), False, "The consultation closes: experts' comments due",
         "1 invited expert", f"/consultations/{w['consultation']}", other),
        ("call-application", w["call"], day(20), False, "Experts apply to the secretariat (application deadline)",
         "1 expert who accepted", f"/calls/{w['call']}", me),
        ("notification-deadline", w["call_notice_other"], day(25), False, "Secretariat: Other", "Bob Other",
         f"/notifications/{w['call_notice']}", other),
        ("call-nomination", w["call"], day(30), False, "Submit the nominations to the secretariat", "Stella Staff",
         f"/calls/{w['call']}", me),
        ("consultation-secretariat", w["consultation"], day(40), False,
         "Send the integrated comments to the secretariat", "Bob Other", f"/consultations/{w['consultation']}", other),
        ("plenary", w["session"], day(60), False, "Plenary session: position notes and briefing pack ready",
         "The focal point team", f"/plenary/{w['session']}", None),
    ]


@pytest.fixture
def expected(app, world):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Deadline

    ids, w = world
    with app.app_context():
        w["call_notice_other"] = db.session.scalar(sa.select(Deadline.id).where(
            Deadline.notification_id == w["call_notice"], Deadline.label == "other"))
    return team_rows(ids, w)


def test_team_scope_lists_every_source_nearest_first(app, world, expected):
    ids, _w = world
    assert rows(app, ids["staff"], scope="team") == expected


def test_all_scope_adds_each_experts_pending_invitation(app, world, expected):
    ids, w = world
    got = rows(app, ids["staff"], scope="all")
    invitation = ("invitation", w["invitation"], day(5), False, "Answer the invitation", "Erin Expert",
                  f"/invitations/{w['invitation']}", ids["expert"])
    assert got == expected[:6] + [invitation] + expected[6:]


def test_mine_is_what_the_staff_member_owns(app, world, expected):
    ids, _w = world
    me = ids["staff"]
    assert rows(app, me, scope="mine") == [r for r in expected if r[7] == me]
    assert [r[0] for r in rows(app, me, scope="mine")] == [
        "review", "notification-national", "invitation-reminder", "call-national", "notification-deadline",
        "notification-deadline", "call-application", "call-nomination"]
    other = rows(app, ids["other"], scope="mine")
    assert other == [r for r in expected if r[7] == ids["other"]]
    assert [r[0] for r in other] == ["review", "event", "consultation-close", "notification-deadline",
                                     "consultation-secretariat"]


def test_an_expert_gets_their_invitation_consultation_and_event_whatever_the_scope(app, world):
    ids, w = world
    expected = [
        ("invitation", w["invitation"], day(5), False, "Answer the invitation", "You",
         f"/invitations/{w['invitation']}", ids["expert"]),
        ("event", w["event"], day(9), False, "Attend the event (you are registered)", "You",
         f"/events/{w['event']}", ids["expert"]),
        ("consultation-close", w["consultation"], day(14), False,
         "Your comments on the drafts (the consultation closes)", "You", f"/consultations/{w['consultation']}",
         ids["expert"]),
    ]
    for scope in ("mine", "team", "all"):
        assert rows(app, ids["expert"], scope=scope) == expected


def test_reviewers_get_their_administrations_open_reviews(app, world):
    ids, w = world
    assert rows(app, ids["reviewer"], scope="all") == [
        ("review", w["review_vl"], day(-1), True, "Review and clear the position note", FLEMISH,
         f"/positions/{w['note']}", ids["staff"])]
    assert [r[:2] for r in rows(app, ids["walloon"])] == [("review", w["review_wal"])]


def test_a_decision_on_the_current_version_or_an_approved_note_ends_the_review(app, world):
    from focalpoint.extensions import db
    from focalpoint.positions.models import Clearance, NoteVersion, PositionNote

    ids, w = world
    with app.app_context():
        db.session.add(Clearance(request_id=w["review_wal"], note_version=1, decision="objected"))
        db.session.commit()
    assert rows(app, ids["walloon"]) == []
    with app.app_context():  # a new version reopens it
        note = db.session.get(PositionNote, w["note"])
        db.session.add(NoteVersion(note_id=note.id, number=2))
        note.current_version = 2
        db.session.commit()
    assert [r[:2] for r in rows(app, ids["walloon"])] == [("review", w["review_wal"])]
    with app.app_context():
        db.session.get(PositionNote, w["note"]).status = "approved"
        db.session.commit()
    assert rows(app, ids["walloon"]) == [] and rows(app, ids["reviewer"]) == []


def test_a_user_with_no_role_of_the_workflows_gets_nothing(app, world, make_user):
    assert rows(app, make_user("lonely@example.org", "expert"), scope="all") == []


@pytest.mark.parametrize("workflow", ["notifications", "calls", "invitations", "consultations", "positions",
                                      "plenary", "events"])
def test_workflow_filter_keeps_that_workflows_rows(app, world, expected, workflow):
    ids, _w = world
    from focalpoint.due.services import KINDS

    assert rows(app, ids["staff"], scope="team", workflow=workflow) == [
        r for r in expected if KINDS[r[0]] == workflow]


def test_several_workflows_at_once(app, world, expected):
    ids, _w = world
    got = rows(app, ids["staff"], scope="team", workflow=("plenary", "events"))
    assert [r[0] for r in got] == ["event", "plenary"]


def test_overdue_window(app, world, expected):
    ids, _w = world
    assert rows(app, ids["staff"], scope="team", window="overdue") == [r for r in expected if r[3]]
    assert [r[0] for r in rows(app, ids["staff"], scope="team", window="overdue")] == [
        "notification-national", "notification-deadline", "review"]


@pytest.mark.parametrize("days", [7, 30])
def test_next_days_window_leaves_out_overdue_and_later_rows(app, world, expected, days):
    ids, _w = world
    got = rows(app, ids["staff"], scope="team", window=str(days))
    assert got == [r for r in expected if not r[3] and r[2] <= day(days)]
    assert len(got) == (4 if days == 7 else 11)


def test_a_passed_call_deadline_is_overdue_until_the_call_is_locked(app, world):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall

    from focalpoint.due.services import due_items

    ids, w = world
    later = TODAY + dt.timedelta(days=6)
    with app.app_context():
        late = due_items(get_user(app, ids["staff"]), scope="team", workflow="calls", today=later)
        assert [(i.kind, i.overdue) for i in late] == [("call-national", True), ("call-application", False),
                                                       ("call-nomination", False)]
        db.session.get(NominationCall, w["call"]).locked_at = dt.datetime.now(dt.timezone.utc)
        db.session.commit()
        assert due_items(get_user(app, ids["staff"]), scope="team", workflow="calls", today=later) == []


def test_timed_items_keep_their_moment(app, world):
    ids, w = world
    got = {i.kind + str(i.item_id): i for i in items(app, ids["staff"], scope="team")}
    deadline = got[f"notification-deadline{w['mine_deadline']}"]
    assert deadline.at == dt.datetime.combine(day(10), dt.time(12), tzinfo=ZoneInfo("Europe/Berlin"))
    event = got[f"event{w['event']}"]
    assert (event.at, event.ends_at) == (dt.datetime.combine(day(9), dt.time(10), tzinfo=dt.timezone.utc),
                                         dt.datetime.combine(day(9), dt.time(12), tzinfo=dt.timezone.utc))
    assert got[f"plenary{w['session']}"].end_date == day(65)
    assert got[f"notification-national{w['mine']}"].at is None


def test_uids_are_stable_and_unique(app, world):
    ids, w = world
    first = [i.uid for i in items(app, ids["staff"], scope="all")]
    second = [i.uid for i in items(app, ids["staff"], scope="all")]
    assert first == second and len(set(first)) == len(first)
    assert f"notification-deadline-{w['mine_deadline']}@{HOST}" in first
    assert f"call-national-{w['call']}@{HOST}" in first
    assert f"invitation-reminder-{w['call']}-{day(3):%Y%m%d}@{HOST}" in first


def test_a_reminder_and_a_relayed_copy_add_no_row_but_an_extension_does(app, world):
    ids, w = world
    titles = [(i.kind, i.title) for i in items(app, ids["staff"], scope="team", workflow="notifications")]
    assert titles == [
        ("notification-national", "EM/2030/000 Review of chapter 0"),
        ("notification-deadline", "EM/2030/000 Review of chapter 0"),
        ("notification-national", "EM/2031/000: Call for inputs 0"),
        ("notification-deadline", "EM/2031/000: Call for inputs 0"),
        ("notification-deadline", "REMINDER: call for inputs 0"),
        ("notification-deadline", "Call for experts 0"),
    ]


def test_a_done_notification_has_nothing_due(app, world):
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification

    ids, w = world
    with app.app_context():
        db.session.get(Notification, w["late"]).status = "done"
        db.session.commit()
    kinds = [(i.kind, i.item_id) for i in items(app, ids["staff"], scope="team", window="overdue")]
    assert kinds == [("review", w["review_vl"])]


def test_the_secretariat_deadline_of_a_consultation_is_the_open_notifications_row(app, world):
    from focalpoint.consultations.models import Consultation
    from focalpoint.extensions import db
    from focalpoint.notifications.models import Deadline, Notification
    from focalpoint.notifications.services import due_moment

    ids, w = world
    with app.app_context():
        n = Notification(origin="manual", guid="manual:review", title="External review", status="in_progress")
        db.session.add(n)
        db.session.flush()
        db.session.add(Deadline(notification_id=n.id, date=day(40), due_at=due_moment(day(40), None, None),
                                label="comments"))
        db.session.get(Consultation, w["consultation"]).notification_id = n.id
        db.session.commit()
        notification_id = n.id
    kinds = [i.kind for i in items(app, ids["staff"], scope="team") if i.date == day(40)]
    assert kinds == ["notification-deadline"]
    with app.app_context():
        db.session.get(Notification, notification_id).status = "done"
        db.session.commit()
    kinds = [i.kind for i in items(app, ids["staff"], scope="team") if i.date == day(40)]
    assert kinds == ["consultation-secretariat"]


def test_bad_arguments_are_refused(app, world):
    from focalpoint.due.services import due_items

    ids, _w = world
    with app.app_context():
        user = get_user(app, ids["staff"])
        for kwargs in ({"scope": "everyone"}, {"workflow": "inbox"}, {"window": "14"}):
            with pytest.raises(ValueError):
                due_items(user, **kwargs)


def test_find_item_checks_who_may_see_it(app, world):
    from focalpoint.due.services import find_item

    ids, w = world
    with app.app_context():
        staff, expert, reviewer = (get_user(app, ids[k]) for k in ("staff", "expert", "reviewer"))
        assert find_item(staff, "invitation", w["invitation"]).uid == f"invitation-{w['invitation']}@{HOST}"
        assert find_item(expert, "invitation", w["invitation"]).from_whom == "You"
        assert find_item(reviewer, "invitation", w["invitation"]) is None
        assert find_item(expert, "review", w["review_vl"]) is None
        assert find_item(reviewer, "review", w["review_vl"]).item_id == w["review_vl"]
        assert find_item(reviewer, "review", w["review_wal"]) is None
        assert find_item(staff, "nonsense", 1) is None
        assert find_item(staff, "event", 999999) is None


# --- constant queries ------------------------------------------------------------------------------------
def _count_queries(app, fn) -> int:
    from focalpoint.extensions import db

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            fn()
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _queries(app, make_user, copies: int) -> dict:
    from focalpoint.due.services import due_items
    from focalpoint.extensions import db

    ids = users(app, make_user)
    build(app, ids, copies)
    counts = {}
    for who, scope in (("staff", "all"), ("staff", "mine"), ("expert", "mine"), ("reviewer", "mine")):
        def run():
            user = get_user(app, ids[who])
            user.roles  # noqa: B018 (the user's roles are read once, whatever the data)
            result = due_items(user, scope=scope, today=TODAY)
            assert len(result) >= (copies if who != "reviewer" else 1)
            db.session.remove()
        counts[(who, scope)] = _count_queries(app, run)
    return counts


def test_queries_do_not_grow_with_the_data(app, make_user):
    from conftest import _empty_all_tables
    from focalpoint.auth.models import User
    from focalpoint.due.services import due_items
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    small = _queries(app, make_user, 5)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    large = _queries(app, make_user, 50)
    assert small == large
    # One per source (notifications read deadlines and national deadlines; invitations reminders and rows).
    assert small[("staff", "all")] - small[("reviewer", "mine")] == 9 - 1
    with app.app_context():
        staff = db.session.scalar(sa.select(User).where(User.email == STAFF))
        assert len(due_items(staff, scope="all", today=TODAY)) == 50 * 17
