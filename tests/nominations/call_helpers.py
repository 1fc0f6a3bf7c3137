"""Rows for the nomination-call tests: experts stored exactly as described, calls, nominations, and the
hand-made registry whose ranking the tests know by heart."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

#: The same "today" as NominationCall.is_open (UTC).
TODAY = dt.datetime.now(dt.timezone.utc).date()


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def deliverable_id(code: str) -> int:
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable

    return db.session.scalar(sa.select(Deliverable.id).where(Deliverable.code == code))


def store_expert(first: str, last: str, *, email: str | None = None, tags=(), deliverables=(), past_roles=(),
                 consent: bool = True, **fields) -> int:
    """One Expert as described (inside an app context): tags as (vocabulary, code), deliverables as codes,
    past_roles as (role, deliverable code or None, year_from, year_to)."""
    from focalpoint.experts.models import Expert, PastRole
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable, ReferenceTerm

    expert = Expert(email=email or f"{first}.{last}@example.org".lower().replace("é", "e"), first_name=first,
                    last_name=last, consent_contact_at=utc(2025, 1, 1) if consent else None,
                    consent_processing_at=utc(2025, 1, 1), **fields)
    for vocabulary, code in tags:
        term = db.session.scalar(sa.select(ReferenceTerm).where(ReferenceTerm.vocabulary == vocabulary,
                                                                ReferenceTerm.code == code))
        assert term is not None, (vocabulary, code)
        expert.terms.append(term)
    for code in deliverables:
        expert.deliverables.append(db.session.scalar(sa.select(Deliverable).where(Deliverable.code == code)))
    for role, code, year_from, year_to in past_roles:
        expert.roles_held.append(PastRole(role=role, deliverable_id=deliverable_id(code) if code else None,
                                          deliverable_text="" if code else "Old task force", year_from=year_from,
                                          year_to=year_to))
    db.session.add(expert)
    db.session.flush()
    return expert.id


def store_call(title: str = "Nexus call: water quality, food security and health", *, kind: str = "expert_call",
               deliverable: str | None = "nexus", roles=("CLA", "LA", "RE"), description: str = "",
               keywords: str = "", national: dt.date | None = None, opens_on: dt.date | None = None,
               application: dt.date | None = None, nomination: dt.date | None = None, notification=None):
    from focalpoint.nominations.services import create_call

    return create_call(actor=None, roles=list(roles), notification=notification, title=title, call_kind=kind,
                       deliverable_id=deliverable_id(deliverable) if deliverable else None, description=description,
                       keywords=keywords, national_deadline=national or TODAY + dt.timedelta(days=20),
                       opens_on=opens_on, application_deadline=application, nomination_deadline=nomination)


#: The call of the hand-made registry: its text names water, food, health, wetlands, forests and targets 2, 11.
REGISTRY_CALL = dict(title="Nexus call: water quality, food security and health",
                     description="Wetlands and forests; KM-GBF targets 2 and 11.")


def store_registry() -> dict[str, int]:
    """Six experts whose scores against REGISTRY_CALL are known (see test_nomination_matching)."""
    from focalpoint.experts.models import Availability, CareerStage, Gender

    year = TODAY.year
    return {
        "ann": store_expert("Ann", "Peeters", region="flanders", gender=Gender.FEMALE, career_stage=CareerStage.SENIOR,
                            keywords="water quality; governance", deliverables=["nexus"],
                            past_roles=[("LA", "nexus", year - 5, year - 2)],
                            tags=[("expert_role", "CLA"), ("gbf_target", "T2"), ("ecosystem", "wetlands"),
                                  ("discipline", "natural-sciences")]),
        "bart": store_expert("Bart", "Claes", region="wallonia", gender=Gender.MALE, career_stage=CareerStage.MID,
                             keywords="food security; agroecology", availability=Availability.LIMITED,
                             past_roles=[("RE", "values", year - 8, year - 4)],
                             tags=[("expert_role", "RE"), ("expert_role", "LA"), ("discipline", "social-sciences")]),
        "chloe": store_expert("Chloé", "Dubois", region="brussels", gender=Gender.FEMALE,
                              career_stage=CareerStage.EARLY, keywords="forest management",
                              availability=Availability.UNAVAILABLE,
                              tags=[("ecosystem", "forests"), ("discipline", "ilk"),
                                    ("discipline", "natural-sciences")]),
        "david": store_expert("David", "Maes", region="flanders", gender=Gender.MALE, career_stage=CareerStage.EARLY,
                              deliverables=["nexus"], consent=False),
        "elise": store_expert("Elise", "Janssens", region="abroad", gender=Gender.NON_BINARY,
                              career_stage=CareerStage.MID, keywords="marine biology"),
        "femke": store_expert("Femke", "Wouters", region="federal", career_stage=CareerStage.SENIOR,
                              past_roles=[("CA", "values", year - 1, year + 1)]),
    }
