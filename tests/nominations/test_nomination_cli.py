"""``focalpoint calls list`` and ``focalpoint calls match`` through click's runner, on both databases."""
from __future__ import annotations

import datetime as dt
import json

from call_helpers import REGISTRY_CALL, TODAY, store_call, store_expert, store_registry


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_calls_list_json_has_deadlines_state_and_counts(app):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.services import add_candidate, lock_call
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title="EM/2031/05: Call for nominations of experts", text="", link=None, published=TODAY,
                          actor=None)
        first = store_call("Nexus call", notification=n, application=TODAY + dt.timedelta(days=30),
                           nomination=TODAY + dt.timedelta(days=45), opens_on=TODAY)
        second = store_call("Values fellows", kind="fellow_call", deliverable="values", roles=["FELLOW"],
                            national=TODAY - dt.timedelta(days=1))
        lock_call(second, actor=None)
        for i, state in enumerate([InvitationState.PENDING, InvitationState.ACCEPTED, InvitationState.EXPIRED]):
            expert_id = store_expert("E", str(i), email=f"e{i}@example.org")
            db.session.add(Invitation(call_id=first.id, expert_id=expert_id, state=state, token_hash=f"{i:064d}",
                                      expires_at=dt.datetime.now(dt.timezone.utc),
                                      responded_at=dt.datetime.now(dt.timezone.utc)
                                      if state == InvitationState.ACCEPTED else None))
            if state == InvitationState.ACCEPTED:
                add_candidate(first, db.session.get(Expert, expert_id), actor=None)
        db.session.commit()
        ids = (n.id, first.id, second.id)
    result = _invoke(app, "calls", "list", "--json")
    assert result.exit_code == 0, result.output
    zero_inv = {"pending": 0, "accepted": 0, "declined": 0, "expired": 0}
    zero_nom = {s: 0 for s in ("candidate", "endorsed", "not_endorsed", "submitted", "selected", "not_selected",
                               "withdrawn")}
    assert json.loads(result.output) == [
        {"id": ids[1], "title": "Nexus call", "notification_id": ids[0], "call_kind": "expert_call",
         "deliverable": "nexus", "roles_sought": ["CLA", "LA", "RE"], "opens_on": TODAY.isoformat(),
         "application_deadline": (TODAY + dt.timedelta(days=30)).isoformat(),
         "nomination_deadline": (TODAY + dt.timedelta(days=45)).isoformat(),
         "national_deadline": (TODAY + dt.timedelta(days=20)).isoformat(), "state": "open", "is_open": True,
         "is_locked": False, "invitations": {**zero_inv, "pending": 1, "accepted": 1, "expired": 1},
         "nominations": {**zero_nom, "candidate": 1}},
        {"id": ids[2], "title": "Values fellows", "notification_id": None, "call_kind": "fellow_call",
         "deliverable": "values", "roles_sought": ["FELLOW"], "opens_on": None, "application_deadline": None,
         "nomination_deadline": None, "national_deadline": (TODAY - dt.timedelta(days=1)).isoformat(),
         "state": "locked", "is_open": False, "is_locked": True, "invitations": zero_inv, "nominations": zero_nom}]
    text = _invoke(app, "calls", "list")
    assert text.exit_code == 0
    assert text.output.splitlines()[1] == "     invitations: pending=1 accepted=1 expired=1; slate: candidate=1"


def test_calls_match_json_and_limit_and_unknown_call(app):
    from focalpoint.extensions import db

    with app.app_context():
        ids = store_registry()
        call_id = store_call(**REGISTRY_CALL).id
        db.session.commit()
    result = _invoke(app, "calls", "match", str(call_id), "--json", "--limit", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(x["expert_id"], x["score"]) for x in data] == [(ids["ann"], 106), (ids["david"], 40), (ids["bart"], 25)]
    assert data[2]["reasons"] == [f"RE on Values (diverse values and valuation of nature) {TODAY.year - 8}–"
                                  f"{TODAY.year - 4}", "wants LA, RE", "keywords: food, security",
                                  "limited availability"]
    assert (data[1]["flags"], data[1]["can_invite"]) == (["no_consent"], False)
    text = _invoke(app, "calls", "match", str(call_id), "--limit", "1")
    assert text.output.splitlines() == [
        f"{ids['ann']:6}   106  Ann Peeters: expertise in Nexus (biodiversity, water, food and health); LA on Nexus "
        f"(biodiversity, water, food and health) {TODAY.year - 5}–{TODAY.year - 2}; wants CLA; keywords: quality, "
        f"water; GBF targets: T2; ecosystems: wetlands"]
    missing = _invoke(app, "calls", "match", "999999")
    assert missing.exit_code == 1
    assert "No nomination call 999999" in missing.output
