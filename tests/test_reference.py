"""Reference data shipped with the package: the facts, loaded once, idempotently."""
import json

import sqlalchemy as sa


def test_reference_data_holds_the_shared_facts(app, shared_dir):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable, PlenarySession, ReferenceTerm

    facts = json.loads((shared_dir / "reference" / "taxonomies.json").read_text())
    with app.app_context():
        codes = set(db.session.scalars(sa.select(Deliverable.code)))
        assert {a["id"] for a in facts["ipbes_assessments"]} <= codes
        assert len(codes) == len(facts["ipbes_assessments"]) + len(facts["ipbes_task_forces_2023_2026"]["items"])
        targets = db.session.scalars(sa.select(ReferenceTerm).where(ReferenceTerm.vocabulary == "gbf_target")
                                     .order_by(ReferenceTerm.position)).all()
        assert [t.code for t in targets] == [f"T{n}" for n in range(1, 24)]
        assert targets[1].label == "Target 2: Restore 30% of all Degraded Ecosystems"
        roles = set(db.session.scalars(sa.select(ReferenceTerm.code).where(ReferenceTerm.vocabulary == "expert_role")))
        assert roles == {r["code"] for r in facts["ipbes_expert_roles"]["items"]}
        disciplines = db.session.scalars(sa.select(ReferenceTerm.label).where(ReferenceTerm.vocabulary == "discipline")
                                         .order_by(ReferenceTerm.position)).all()
        assert disciplines == facts["ipbes_disciplines"]["items"]
        sessions = {s.code: s for s in db.session.scalars(sa.select(PlenarySession))}
        assert len(sessions) == len(facts["ipbes_plenary_sessions"])
        assert (str(sessions["IPBES-12"].start_date), str(sessions["IPBES-12"].end_date)) == ("2026-02-03", "2026-02-08")
        assert (str(sessions["IPBES-7"].start_date), str(sessions["IPBES-7"].end_date)) == ("2019-04-29", "2019-05-04")
        assert sorted(db.session.scalars(sa.select(Administration.code))) == [
            "BE-BXL", "BE-FED-ENV", "BE-FED-FA", "BE-VL", "BE-WAL"]


def test_loading_twice_adds_nothing_and_keeps_staff_changes(app):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    with app.app_context():
        admin = db.session.scalar(sa.select(Administration).where(Administration.code == "BE-VL"))
        admin.name = "Departement Omgeving"
        db.session.commit()
        assert load_reference_data("BE") == {"deliverables": 0, "terms": 0, "plenary_sessions": 0,
                                             "administrations": 0}
        db.session.commit()
        assert db.session.scalar(sa.select(Administration.name).where(Administration.code == "BE-VL")) == \
            "Departement Omgeving"


def test_loading_again_keeps_staff_corrections_of_a_plenary_session(app):
    import datetime as dt

    from focalpoint.extensions import db
    from focalpoint.reference.models import PlenarySession
    from focalpoint.reference.services import load_reference_data

    with app.app_context():
        session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-12"))
        assert session.place == "Manchester, United Kingdom"
        session.place, session.end_date = "Manchester (UK), Central convention complex", dt.date(2026, 2, 9)
        db.session.commit()
        load_reference_data("BE")
        db.session.commit()
        session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-12"))
        assert (session.place, session.start_date, session.end_date) == (
            "Manchester (UK), Central convention complex", dt.date(2026, 2, 3), dt.date(2026, 2, 9))


def test_another_country_gets_no_belgian_administrations(app):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    with app.app_context():
        db.session.execute(sa.delete(Administration))
        assert load_reference_data("NL")["administrations"] == 0
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count(Administration.id))) == 0
