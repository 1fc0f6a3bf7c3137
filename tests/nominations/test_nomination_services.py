"""Calls and the slate through the services, on both databases: a call opened from a notification,
open/closed from the dates, the transition table, ranking, endorsement, submission, selection into the
expert's history, the e-mail of a decision, matching from the database in a constant number of queries,
and the slate as a spreadsheet."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import os

import pytest
import sqlalchemy as sa

from call_helpers import REGISTRY_CALL, TODAY, store_call, store_expert, store_registry
from config import TestConfig
from conftest import _empty_all_tables
from focalpoint.nominations.models import NOMINATION_TRANSITIONS, NominationState

STATES = list(NominationState)


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- a call from a notification ----------------------------------------------------------------------
def test_call_prefill_from_a_fellow_call_notification(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.services import call_prefill
    from focalpoint.notifications.services import create_manual

    apply_by, nominate_by = TODAY + dt.timedelta(days=40), TODAY + dt.timedelta(days=55)
    title = ("EM/2024/46: Call for nominations for fellows for the methodological assessment of integrated "
             "biodiversity-inclusive spatial planning and ecological connectivity")
    text = (f"Candidates should complete the application form by {long_date(apply_by)}. Nominating Governments "
            f"should approve the nominations by {long_date(nominate_by)}.")
    with app.app_context():
        n = create_manual(title=title, text=text, link=None, published=TODAY, actor=None)
        db.session.commit()
        assert str(n.kind) == "fellow_call"
        assert n.national_deadline is not None and n.national_deadline < apply_by
        spatial = db.session.scalar(sa.text("SELECT id FROM deliverables WHERE code = 'spatial-planning'"))
        assert call_prefill(n) == {
            "title": title, "call_kind": "fellow_call", "deliverable_id": spatial, "roles": ["FELLOW"],
            "description": text, "application_deadline": apply_by, "nomination_deadline": nominate_by,
            "national_deadline": n.national_deadline, "notification_id": n.id}


def test_call_prefill_from_an_expert_call_with_one_deadline_and_a_kind_that_is_not_a_call(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.services import call_prefill
    from focalpoint.notifications.services import create_manual

    due = TODAY + dt.timedelta(days=30)
    with app.app_context():
        n = create_manual(title="Call for nominations of experts for the second global assessment",
                          text=f"Nominations must be submitted by {long_date(due)}.", link=None, published=TODAY,
                          actor=None)
        db.session.commit()
        data = call_prefill(n)
        global2 = db.session.scalar(sa.text("SELECT id FROM deliverables WHERE code = 'global-2'"))
        assert (data["call_kind"], data["deliverable_id"], data["roles"]) == ("expert_call", global2,
                                                                              ["CLA", "LA", "RE"])
        assert (data["application_deadline"], data["nomination_deadline"]) == (due, due)
        event = create_manual(title="Invitation to a webinar", text="", link=None, published=TODAY, actor=None)
        db.session.commit()
        assert call_prefill(event)["call_kind"] == "expert_call"
        assert call_prefill(event)["deliverable_id"] is None


def test_create_call_stores_roles_and_logs(app):
    from focalpoint.audit import entries_for
    from focalpoint.extensions import db

    with app.app_context():
        call = store_call(roles=["RE", "CLA"], keywords="water; food")
        db.session.commit()
        assert [t.code for t in call.roles_sought] == ["CLA", "RE"]
        assert [(e.action, e.data["roles"], e.data["title"]) for e in entries_for(call)] == [
            ("call.created", ["CLA", "RE"], "Nexus call: water quality, food security and health")]


@pytest.mark.parametrize(("changes", "message"), [
    ({"nomination": TODAY + dt.timedelta(days=10)}, "The national deadline comes after the secretariat's "
     "nomination deadline: there would be no time left to submit the nominations."),
    ({"application": TODAY + dt.timedelta(days=30), "nomination": TODAY + dt.timedelta(days=25)},
     "The application deadline comes after the nomination deadline."),
    ({"opens_on": TODAY + dt.timedelta(days=21)}, "The call opens after its national deadline."),
    ({"roles": ["LA", "WIZARD"]}, "Unknown role: WIZARD."),
    ({"title": "  "}, "A call needs a title."),
    ({"kind": "review"}, "Choose the kind of call."),
])
def test_create_call_refuses_inconsistent_input(app, changes, message):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall
    from focalpoint.nominations.services import NominationError

    with app.app_context():
        with pytest.raises(NominationError) as info:
            store_call(**changes)
        assert str(info.value) == message
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NominationCall)) == 0


def test_update_call_logs_only_what_changed(app):
    from focalpoint.audit import entries_for
    from focalpoint.extensions import db
    from focalpoint.nominations.services import update_call

    with app.app_context():
        call = store_call()
        db.session.commit()
        assert update_call(call, actor=None, title=call.title, roles=["CLA", "LA", "RE"]) == []
        later = TODAY + dt.timedelta(days=25)
        assert update_call(call, actor=None, national_deadline=later, keywords="wetlands", roles=["LA"]) == \
            ["keywords", "national_deadline", "roles"]
        db.session.commit()
        entry = entries_for(call)[0]
        assert entry.action == "call.updated"
        assert entry.data == {"keywords": {"before": "", "after": "wetlands"},
                              "national_deadline": {"before": (TODAY + dt.timedelta(days=20)).isoformat(),
                                                    "after": later.isoformat()},
                              "roles": {"before": ["CLA", "LA", "RE"], "after": ["LA"]}}


# --- open and closed follow from the dates -------------------------------------------------------------
def test_call_state_follows_the_dates_and_the_lock_in_python_and_in_sql(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import NominationCall
    from focalpoint.nominations.services import CALL_STATES, call_state, call_state_clause, lock_call

    day = dt.timedelta(days=1)
    with app.app_context():
        calls = {
            "open today": store_call("a", national=TODAY),
            "open, started": store_call("b", opens_on=TODAY - day, national=TODAY + day),
            "opens today": store_call("c", opens_on=TODAY, national=TODAY + day),
            "opens tomorrow": store_call("d", opens_on=TODAY + day, national=TODAY + 9 * day),
            "ended yesterday": store_call("e", national=TODAY - day),
            "locked": store_call("f", national=TODAY + 9 * day),
        }
        lock_call(calls["locked"], actor=None)
        db.session.commit()
        states = {name: call_state(c, TODAY) for name, c in calls.items()}
        assert states == {"open today": "open", "open, started": "open", "opens today": "open",
                          "opens tomorrow": "upcoming", "ended yesterday": "closed", "locked": "locked"}
        assert {name: c.is_open for name, c in calls.items()} == {name: s == "open" for name, s in states.items()}
        for state in CALL_STATES:
            titles = db.session.scalars(sa.select(NominationCall.title).where(call_state_clause(state, TODAY))
                                        .order_by(NominationCall.title)).all()
            assert titles == sorted(calls[name].title for name, s in states.items() if s == state), state


# --- the transition table (one app per database for the 49 moves) ----------------------------------------
@pytest.fixture(scope="module")
def slate_world(database_url, tmp_path_factory):
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.instance_path = str(tmp_path_factory.mktemp("slate-instance"))
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        call_id = store_call().id
        db.session.commit()
    yield app, call_id
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(("previous", "new"), list(itertools.product(STATES, STATES)),
                         ids=[f"{a.value}->{b.value}" for a, b in itertools.product(STATES, STATES)])
def test_transition_table(slate_world, previous, new):
    from focalpoint.audit import AuditEntry
    from focalpoint.experts.models import PastRole
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination, NominationCall
    from focalpoint.nominations.services import TransitionError, set_nomination_state

    app, call_id = slate_world
    with app.app_context():
        call = db.session.get(NominationCall, call_id)
        expert_id = store_expert("Test", "Expert", email=f"{previous.value}.{new.value}@example.org")
        # the row is set up in its starting state directly (setup, not a move)
        nomination = Nomination(call_id=call.id, expert_id=expert_id, state=previous,
                                selected_role="LA" if previous == NominationState.SELECTED else None)
        db.session.add(nomination)
        db.session.flush()
        try:
            if new == previous:
                set_nomination_state(nomination, new, actor=None, selected_role="LA")
                assert nomination.state == previous
                assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                         .where(AuditEntry.object_type == "nominations")) == 0
            elif new in NOMINATION_TRANSITIONS[previous]:
                set_nomination_state(nomination, new, actor=None, note="why", selected_role="LA")
                assert nomination.state == new
                entries = db.session.execute(sa.select(AuditEntry.action, AuditEntry.data)
                                             .where(AuditEntry.object_type == "nominations")).all()
                assert entries == [("nomination.state", {"previous": previous.value, "new": new.value,
                                                         "note": "why", "selected_role": "LA"})]
                assert nomination.selected_role == ("LA" if new == NominationState.SELECTED else None)
                history = db.session.execute(sa.select(PastRole.role, PastRole.source, PastRole.nomination_id)
                                             .where(PastRole.expert_id == expert_id)).all()
                assert history == ([("LA", "selection", nomination.id)] if new == NominationState.SELECTED else [])
            else:
                with pytest.raises(TransitionError) as info:
                    set_nomination_state(nomination, new, actor=None, selected_role="LA")
                assert str(info.value) == f"A nomination cannot go from {previous.value} to {new.value}."
                assert nomination.state == previous
        finally:
            db.session.rollback()


def test_the_table_allows_withdrawal_before_the_selection_only():
    before = {NominationState.CANDIDATE, NominationState.ENDORSED, NominationState.NOT_ENDORSED,
              NominationState.SUBMITTED}
    assert {s for s in STATES if NominationState.WITHDRAWN in NOMINATION_TRANSITIONS[s]} == before
    assert NOMINATION_TRANSITIONS[NominationState.SELECTED] == frozenset()
    assert NOMINATION_TRANSITIONS[NominationState.NOT_SELECTED] == frozenset()


# --- the slate -------------------------------------------------------------------------------------------
def _slate(app, count=4):
    """A call with ``count`` candidates added in order; returns (call id, [nomination ids])."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.nominations.services import add_candidate

    with app.app_context():
        call = store_call()
        ids = []
        for i, name in enumerate(["Ann", "Bart", "Chloé", "David", "Elise"][:count]):
            expert = db.session.get(Expert, store_expert(name, "Slate", email=f"slate{i}@example.org"))
            ids.append(add_candidate(call, expert, actor=None, role="LA").id)
        db.session.commit()
        return call.id, ids


def test_ranking_moves_and_renumbers(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination, NominationCall
    from focalpoint.nominations.services import NominationError, ordered_slate, rank_nomination, withdraw_nomination

    call_id, (a, b, c, d) = _slate(app)
    with app.app_context():
        call = db.session.get(NominationCall, call_id)

        def order():
            return [n.id for n in ordered_slate(call)]

        assert order() == [a, b, c, d]  # unranked: by arrival
        get = lambda i: db.session.get(Nomination, i)  # noqa: E731
        assert rank_nomination(get(c), actor=None, delta=-1) == 2
        assert order() == [a, c, b, d]
        assert [get(i).rank for i in order()] == [1, 2, 3, 4]
        assert rank_nomination(get(a), actor=None, position=99) == 4
        assert order() == [c, b, d, a]
        assert rank_nomination(get(c), actor=None, delta=-1) == 1  # already first: stays
        assert rank_nomination(get(d), actor=None, position=1) == 1
        assert order() == [d, c, b, a]
        withdraw_nomination(get(c), actor=None, note="no time")
        assert order() == [d, b, a, c]  # withdrawn last
        with pytest.raises(NominationError):
            rank_nomination(get(c), actor=None, position=1)
        assert rank_nomination(get(a), actor=None, delta=-1) == 2
        assert order() == [d, a, b, c]
        db.session.commit()


def test_endorsement_needs_a_rationale_and_submission_then_selection_enter_the_history(app):
    from focalpoint.experts.models import PastRole
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage
    from focalpoint.nominations.models import Nomination
    from focalpoint.nominations.services import (NominationError, TransitionError, decide_endorsement, mark_submitted,
                                                 record_outcome)

    call_id, (a, b) = _slate(app, 2)
    with app.app_context():
        ann, bart = db.session.get(Nomination, a), db.session.get(Nomination, b)
        with pytest.raises(NominationError) as info:
            decide_endorsement(ann, endorsed=True, rationale="  ", actor=None)
        assert str(info.value) == "Give the rationale of the decision (it goes to the steering committee)."
        with pytest.raises(TransitionError):
            mark_submitted(ann, actor=None)
        decide_endorsement(ann, endorsed=True, rationale="Strong water-food record.", actor=None, notify=True)
        decide_endorsement(bart, endorsed=False, rationale="Already on two assessments.", actor=None)
        assert (ann.state, ann.rationale, bart.state, bart.rationale) == (
            NominationState.ENDORSED, "Strong water-food record.", NominationState.NOT_ENDORSED,
            "Already on two assessments.")
        decide_endorsement(bart, endorsed=False, rationale="Already on three assessments.", actor=None)
        assert (bart.state, bart.rationale) == (NominationState.NOT_ENDORSED, "Already on three assessments.")
        mark_submitted(ann, actor=None, notify=True)
        assert ann.submitted_at is not None
        record_outcome(ann, selected_role="CLA", actor=None, notify=True)
        db.session.commit()
        assert (ann.state, ann.selected_role) == (NominationState.SELECTED, "CLA")
        nexus = db.session.scalar(sa.text("SELECT id FROM deliverables WHERE code = 'nexus'"))
        assert db.session.execute(sa.select(PastRole.expert_id, PastRole.role, PastRole.deliverable_id,
                                            PastRole.year_from, PastRole.source, PastRole.nomination_id)).all() == [
            (ann.expert_id, "CLA", nexus, dt.datetime.now(dt.timezone.utc).year, "selection", ann.id)]
        mails = db.session.execute(sa.select(OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.category)
                                   .order_by(OutboxMessage.id)).all()
        title = "Nexus call: water quality, food security and health"
        assert mails == [("slate0@example.org", f"Your nomination is endorsed: {title}", "nomination"),
                         ("slate0@example.org", f"Your nomination was submitted to IPBES: {title}", "nomination"),
                         ("slate0@example.org", f"You were selected: {title}", "nomination")]
        text = db.session.scalar(sa.select(OutboxMessage.text_body).order_by(OutboxMessage.id.desc()).limit(1))
        assert f"selected you as Coordinating lead author for: {title}" in text
        assert "http://focalpoint.test/invitations" in text


def test_not_selected_needs_no_role_and_selected_does(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination
    from focalpoint.nominations.services import NominationError, set_nomination_state

    _call_id, (a,) = _slate(app, 1)
    with app.app_context():
        n = db.session.get(Nomination, a)
        for state in (NominationState.ENDORSED, NominationState.SUBMITTED):
            set_nomination_state(n, state, actor=None)
        with pytest.raises(NominationError) as info:
            set_nomination_state(n, NominationState.SELECTED, actor=None)
        assert str(info.value) == "Say which role the secretariat selected the expert for."
        set_nomination_state(n, NominationState.NOT_SELECTED, actor=None)
        assert (n.state, n.selected_role, n.decided_at is not None) == (NominationState.NOT_SELECTED, None, True)


def test_check_version_refuses_a_stale_form(app):
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination
    from focalpoint.nominations.services import StaleFormError, check_version, rank_nomination

    _call_id, (a, b) = _slate(app, 2)
    with app.app_context():
        n = db.session.get(Nomination, b)
        version = n.version
        check_version(n, str(version))
        rank_nomination(n, actor=None, delta=-1)
        db.session.commit()
        assert n.version == version + 1
        for stale in (str(version), "", None, "x"):
            with pytest.raises(StaleFormError):
                check_version(n, stale)


# --- matching from the database ---------------------------------------------------------------------------
def _count_queries(app):
    from focalpoint.extensions import db

    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    return seen, lambda: sa.event.remove(db.engine, "before_cursor_execute", listener)


def test_match_call_from_the_database_ranks_the_registry_in_nine_queries(app):
    from focalpoint.experts.models import Expert, ExpertStatus
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.matching import match_call
    from focalpoint.nominations.models import NominationCall
    from focalpoint.nominations.services import add_candidate

    with app.app_context():
        ids = store_registry()
        call = store_call(**REGISTRY_CALL)
        other = store_call("Values call", deliverable="values")
        femke = db.session.get(Expert, ids["femke"])
        add_candidate(call, femke, actor=None)
        endorsed = add_candidate(other, femke, actor=None)
        from focalpoint.nominations.services import decide_endorsement

        decide_endorsement(endorsed, endorsed=True, rationale="ok", actor=None)
        db.session.add(Invitation(call_id=call.id, expert_id=ids["elise"], state=InvitationState.PENDING,
                                  token_hash="a" * 64, expires_at=dt.datetime.now(dt.timezone.utc),
                                  has_conflict=True))
        db.session.add(Invitation(call_id=call.id, expert_id=ids["chloe"], state=InvitationState.DECLINED,
                                  token_hash="b" * 64, expires_at=dt.datetime.now(dt.timezone.utc),
                                  responded_at=dt.datetime.now(dt.timezone.utc)))
        store_expert("Gone", "Away", status=ExpertStatus.ERASED, deliverables=["nexus"])
        db.session.commit()
        call_id = call.id
    with app.app_context():
        call = db.session.get(NominationCall, call_id)
        seen, stop = _count_queries(app)
        ranked = match_call(db.session, call)
        stop()
        assert len(seen) == 9
        year = TODAY.year
        assert [(x.expert.name, x.score) for x in ranked] == [
            ("Ann Peeters", 106), ("David Maes", 40), ("Bart Claes", 25), ("Elise Janssens", 0),
            ("Femke Wouters", 0), ("Chloé Dubois", -37)]
        by_name = {x.expert.name: x for x in ranked}
        assert by_name["Ann Peeters"].reasons == [
            "expertise in Nexus (biodiversity, water, food and health)",
            f"LA on Nexus (biodiversity, water, food and health) {year - 5}–{year - 2}", "wants CLA",
            "keywords: quality, water", "GBF targets: T2", "ecosystems: wetlands"]
        assert by_name["Femke Wouters"].flags == [
            ("on_slate", "on the slate (candidate)"), ("other_call", "nominated on another call: Values call"),
            ("current_role", f"current IPBES role: CA on Values (diverse values and valuation of nature) "
                             f"{year - 1}–{year + 1}")]
        assert by_name["Elise Janssens"].flag_codes == {"invited", "conflict_declared"}
        assert by_name["Chloé Dubois"].flag_codes == {"unavailable", "declined"}
        assert by_name["David Maes"].flag_codes == {"no_consent"}
        # more experts, same number of queries
        for i in range(30):
            store_expert("More", f"Expert{i}", email=f"more{i}@example.org", deliverables=["nexus"],
                         tags=[("expert_role", "LA"), ("discipline", "humanities")],
                         past_roles=[("RE", "values", 2015, 2018)])
        db.session.commit()
        call = db.session.get(NominationCall, call_id)
        assert [t.code for t in call.roles_sought] == ["CLA", "LA", "RE"]
        seen, stop = _count_queries(app)
        assert len(match_call(db.session, call)) == 36
        stop()
        assert len(seen) == 9


# --- the slate as a spreadsheet -------------------------------------------------------------------------
def test_slate_xlsx_opens_with_the_candidates_in_rank_order_and_formulas_as_text(app):
    from openpyxl import load_workbook

    from focalpoint.experts.models import CareerStage, Expert, Gender
    from focalpoint.extensions import db
    from focalpoint.nominations.models import Nomination, NominationCall
    from focalpoint.nominations.services import (add_candidate, decide_endorsement, rank_nomination, slate_xlsx,
                                                 withdraw_nomination)
    from focalpoint.nominations.views import labels

    with app.test_request_context():
        call = store_call(title="=HYPERLINK(\"http://evil.example\")", nomination=TODAY + dt.timedelta(days=30))
        first = db.session.get(Expert, store_expert(
            "Ann", "Peeters", affiliation="+32 Ghent University", region="flanders", gender=Gender.FEMALE,
            career_stage=CareerStage.SENIOR, tags=[("discipline", "natural-sciences"), ("discipline", "ilk")]))
        second = db.session.get(Expert, store_expert("Bart", "Claes", affiliation="UCLouvain", region="wallonia"))
        third = db.session.get(Expert, store_expert("Carl", "Gone"))
        n1 = add_candidate(call, first, actor=None, role="LA")
        n2 = add_candidate(call, second, actor=None, role="CLA")
        withdraw_nomination(add_candidate(call, third, actor=None), actor=None)
        rank_nomination(n2, actor=None, position=1)
        decide_endorsement(n1, endorsed=True, rationale="=1+1 strong record", actor=None)
        db.session.commit()
        data = slate_xlsx(db.session.get(NominationCall, call.id), labels())
        assert isinstance(db.session.get(Nomination, n1.id), Nomination)
    ws = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == '=HYPERLINK("http://evil.example")'
    assert ws["A1"].data_type == "s"
    assert rows[3] == ["Rank", "Name", "Affiliation", "Region", "Gender", "Career stage", "Disciplines", "Role",
                       "State", "Rationale", "Selected as"]
    assert rows[4:] == [
        [1, "Bart Claes", "UCLouvain", "Wallonia", None, None, None, "CLA", "Candidate", None, None],
        [2, "Ann Peeters", "+32 Ghent University", "Flanders", "Female", "Senior",
         "Natural sciences; Indigenous and local knowledge (ILK) / ILK systems", "LA", "Endorsed",
         "=1+1 strong record", None]]
    assert [ws.cell(row=6, column=col).data_type for col in (3, 10)] == ["s", "s"]
