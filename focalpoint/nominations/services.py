"""Nomination actions. ``set_nomination_state`` is the one place that writes ``Nomination.state``.

Services flush and never commit; the request, command or job that calls them commits.
"""
from __future__ import annotations

import sqlalchemy as sa

from focalpoint.audit import log_action
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.nominations.models import NOMINATION_TRANSITIONS, Nomination, NominationCall, NominationState


class NominationError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


class TransitionError(NominationError):
    def __init__(self, previous, new):
        super().__init__(f"A nomination cannot go from {previous} to {new}.")
        self.previous, self.new = previous, new


def set_nomination_state(nomination: Nomination, new_state: NominationState, *, actor, note: str = "",
                         selected_role: str | None = None) -> None:
    """Move a nomination to ``new_state``: checks the transition table, stamps dates, writes the audit
    trail. A repeat of the current state is a no-op (double clicks, two staff at once)."""
    new_state = NominationState(new_state)
    previous = nomination.state
    if new_state == previous:
        return
    if new_state not in NOMINATION_TRANSITIONS[previous]:
        raise TransitionError(previous, new_state)
    if new_state == NominationState.SELECTED and not selected_role:
        raise NominationError("Say which role the secretariat selected the expert for.")
    nomination.state = new_state
    nomination.selected_role = selected_role if new_state == NominationState.SELECTED else None
    if new_state == NominationState.SUBMITTED:
        nomination.submitted_at = utcnow()
    if new_state in (NominationState.ENDORSED, NominationState.NOT_ENDORSED, NominationState.SELECTED,
                     NominationState.NOT_SELECTED):
        nomination.decided_at = utcnow()
    log_action(nomination, "nomination.state", actor=actor,
               data={"previous": previous, "new": new_state, "note": note, "selected_role": selected_role})
    db.session.flush()


def add_candidate(call: NominationCall, expert, *, actor, came_forward: bool = False,
                  role: str | None = None) -> Nomination:
    """The expert as a candidate on the call's slate (idempotent; a withdrawn one comes back)."""
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.call_id == call.id,
                                                               Nomination.expert_id == expert.id))
    if nomination is None:
        nomination = Nomination(call_id=call.id, expert_id=expert.id, state=NominationState.CANDIDATE,
                                came_forward=came_forward, role=role)
        db.session.add(nomination)
        db.session.flush()
        log_action(nomination, "nomination.created", actor=actor,
                   data={"call_id": call.id, "expert_id": expert.id, "came_forward": came_forward})
    else:
        if role:
            nomination.role = role
        if nomination.state == NominationState.WITHDRAWN:
            set_nomination_state(nomination, NominationState.CANDIDATE, actor=actor, note="answered again")
    db.session.flush()
    return nomination


def withdraw_candidate(call: NominationCall, expert, *, actor, note: str = "") -> Nomination | None:
    """Take the expert off the slate (before the selection); None when they were not on it."""
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.call_id == call.id,
                                                               Nomination.expert_id == expert.id))
    if nomination is not None and nomination.state != NominationState.WITHDRAWN:
        set_nomination_state(nomination, NominationState.WITHDRAWN, actor=actor, note=note)
    return nomination
