"""The staff's registry: list, search, filters, sorting, pagination, exports, create and edit."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from conftest import login

from .conftest import build_expert, get_expert

UTC = dt.timezone.utc
CONSENTED = {"consent_contact_at": dt.datetime(2026, 1, 5, 9, tzinfo=UTC),
             "consent_processing_at": dt.datetime(2026, 1, 5, 9, tzinfo=UTC), "consent_text_version": "2026-1"}


def listed(response) -> list[int]:
    """Ids of the experts in the list's table, in order."""
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'<td><a href="/experts/(\d+)">', response.get_data(as_text=True))]


@pytest.fixture
def registry(app):
    """Seven records covering every filter: five live ones, an erased one and a merged one."""
    ids = {}
    ids["peeters"] = build_expert(
        app, email="jan.peeters@ugent.be", first_name="Jan", last_name="Peeters", affiliation="Ghent University",
        region="flanders", gender="male", career_stage="mid", orcid="0000-0002-1825-0097",
        keywords="pollination; soils", languages="nl;en", cv_file="0" * 32 + ".pdf", cv_filename="cv.pdf",
        cv_content_type="application/pdf", cv_size=10,
        tags=[("discipline", "natural-sciences"), ("expert_role", "LA"), ("gbf_target", "T3"),
              ("ecosystem", "wetlands")], deliverables=["nexus"], roles_held=[("LA", "nexus", 2022)], **CONSENTED)
    ids["dubois"] = build_expert(
        app, email="marie.dubois@uliege.be", first_name="Marie", last_name="Dubois", affiliation="Université de Liège",
        region="wallonia", gender="female", career_stage="early", languages="fr", availability="limited",
        tags=[("discipline", "social-sciences"), ("expert_role", "FELLOW"), ("ecosystem", "forests")],
        deliverables=["transformative-change"])
    ids["martens"] = build_expert(
        app, email="sofia.martens@vub.be", first_name="Sofia", last_name="Martens", affiliation="VUB",
        region="brussels", gender="female", career_stage="senior", languages="en;nl;fr",
        tags=[("discipline", "ilk"), ("discipline", "humanities"), ("expert_role", "CLA"), ("gbf_target", "T3"),
              ("ecosystem", "marine")], deliverables=["nexus"], **CONSENTED)
    ids["vandamme"] = build_expert(
        app, email="karel.vandamme@health.fgov.be", first_name="Karel", last_name="Van Damme",
        affiliation="FPS Health", region="federal", gender="male", career_stage="senior", status="pending_review",
        tags=[("discipline", "policy-expert"), ("expert_role", "RE")])
    ids["benali"] = build_expert(
        app, email="a.benali@example.org", first_name="Ahmed", last_name="Benali", affiliation="=HYPERLINK(\"x\")",
        region="abroad", gender="non_binary", career_stage="early", languages="ar;fr")
    ids["erased"] = build_expert(app, email=None, status="erased")
    ids["tombstone"] = build_expert(app, email="jan@old.example", first_name="Jan", last_name="Peeters",
                                    merged_into_id=ids["peeters"])
    return ids


def test_the_list_shows_live_records_sorted_by_name(registry, staff_client):
    assert listed(staff_client.get("/experts")) == [registry[k] for k in
                                                     ("benali", "dubois", "martens", "peeters", "vandamme")]


#: query string → the records listed, in order (one test: the registry is built once for all of them).
FILTER_CASES = [
    ("region=flanders", ["peeters"]),
    ("gender=female", ["dubois", "martens"]),
    ("career_stage=senior", ["martens", "vandamme"]),
    ("discipline=ilk", ["martens"]),
    ("role=LA", ["peeters"]),
    ("deliverable=nexus", ["martens", "peeters"]),
    ("gbf_target=T3", ["martens", "peeters"]),
    ("ecosystem=marine", ["martens"]),
    ("language=fr", ["benali", "dubois", "martens"]),
    ("language=n", []),
    ("availability=limited", ["dubois"]),
    ("consent=yes", ["martens", "peeters"]),
    ("consent=no", ["benali", "dubois", "vandamme"]),
    ("cv=yes", ["peeters"]),
    ("cv=no", ["benali", "dubois", "martens", "vandamme"]),
    ("status=pending_review", ["vandamme"]),
    ("status=active", ["benali", "dubois", "martens", "peeters"]),
    ("status=erased", ["erased"]),
    ("status=merged", ["tombstone"]),
    ("gender=female&consent=yes", ["martens"]),
    ("deliverable=nexus&region=flanders&role=LA", ["peeters"]),
    ("deliverable=nexus&region=wallonia", []),
    ("gender=nonsense&discipline=nonsense-code", []),
    ("gender=nonsense", ["benali", "dubois", "martens", "peeters", "vandamme"]),
    ("q=ghent", ["peeters"]),
    ("q=MARIE.DUBOIS@", ["dubois"]),
    ("q=pollination", ["peeters"]),
    ("q=0000-0002-1825", ["peeters"]),
    ("q=Peeters+Jan", ["peeters"]),
    ("q=Karel+Van+Damme", ["vandamme"]),
    ("q=%25", []),
    ("q=' OR 1=1 --", []),
    ("q=ma&gender=female", ["dubois", "martens"]),
]


def test_filters_and_search_combine(registry, staff_client):
    got = {query: listed(staff_client.get(f"/experts?{query}")) for query, _expected in FILTER_CASES}
    assert got == {query: [registry[k] for k in expected] for query, expected in FILTER_CASES}


def test_sorting_by_other_columns(registry, staff_client):
    live = ["benali", "dubois", "martens", "peeters", "vandamme"]
    assert listed(staff_client.get("/experts?sort=name&dir=desc")) == [registry[k] for k in reversed(live)]
    assert listed(staff_client.get("/experts?sort=region")) == [registry[k] for k in (
        "benali", "martens", "vandamme", "peeters", "dubois")]  # abroad, brussels, federal, flanders, wallonia
    assert listed(staff_client.get("/experts?sort=email")) == [registry[k] for k in (
        "benali", "peeters", "vandamme", "dubois", "martens")]
    assert listed(staff_client.get("/experts?sort=bogus")) == [registry[k] for k in live]


def test_pagination(app, staff_client):
    for n in range(30):
        build_expert(app, email=f"e{n:02d}@example.org", first_name="Expert", last_name=f"N{n:02d}")
    first = staff_client.get("/experts")
    assert "1–25 of 30" in first.get_data(as_text=True)
    assert len(listed(first)) == 25
    second = staff_client.get("/experts?page=2")
    assert "26–30 of 30" in second.get_data(as_text=True)
    with app.app_context():
        from focalpoint.experts.models import Expert
        from focalpoint.extensions import db

        by_name = db.session.scalars(sa.select(Expert.id).order_by(Expert.last_name)).all()
    assert listed(first) + listed(second) == by_name


def test_the_list_page_issues_the_same_queries_for_5_or_40_experts(app, staff_client):
    from focalpoint.extensions import db

    def run() -> int:
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert staff_client.get("/experts?sort=name").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    for n in range(5):
        build_expert(app, email=f"a{n}@example.org", last_name=f"A{n}", tags=[("discipline", "ilk")],
                     deliverables=["nexus"])
    small = run()
    for n in range(35):
        build_expert(app, email=f"b{n}@example.org", last_name=f"B{n}", tags=[("discipline", "ilk")],
                     deliverables=["nexus"])
    assert run() == small


# --- exports -----------------------------------------------------------------------------------------------
def test_csv_export_of_the_filtered_list(registry, staff_client):
    response = staff_client.get("/experts/export.csv?gender=female&sort=name")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="experts-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["Content-Disposition"])
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["email"] for r in rows] == ["marie.dubois@uliege.be", "sofia.martens@vub.be"]
    assert rows[1] | {"created_at": "", "updated_at": ""} == {
        "id": str(registry["martens"]), "email": "sofia.martens@vub.be", "first_name": "Sofia", "last_name": "Martens",
        "gender": "female", "affiliation": "VUB", "region": "brussels", "disciplines": "humanities; ilk",
        "expertise": "T3; marine", "deliverables": "nexus", "roles_wanted": "CLA", "languages": "en; nl; fr",
        "orcid": "", "career_stage": "senior", "availability": "available", "preferred_language": "en",
        "consent_contact_at": "2026-01-05T09:00:00+00:00", "consent_processing_at": "2026-01-05T09:00:00+00:00",
        "consent_text_version": "2026-1", "has_cv": "no", "past_roles": "", "status": "active",
        "created_at": "", "updated_at": ""}


def test_csv_export_defuses_a_formula(registry, staff_client):
    response = staff_client.get("/experts/export.csv?region=abroad")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["affiliation"] for r in rows] == ["'=HYPERLINK(\"x\")"]


def test_xlsx_export_of_the_filtered_list(registry, staff_client):
    from openpyxl import load_workbook

    response = staff_client.get("/experts/export.xlsx?consent=no&sort=name")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[:14] == ("id", "email", "first_name", "last_name", "gender", "affiliation", "region", "disciplines",
                           "expertise", "deliverables", "roles_wanted", "languages", "orcid", "career_stage")
    assert [r[1] for r in rows[1:]] == ["a.benali@example.org", "marie.dubois@uliege.be",
                                        "karel.vandamme@health.fgov.be"]
    benali = ws.cell(row=2, column=header.index("affiliation") + 1)
    assert (benali.value, benali.data_type) == ('=HYPERLINK("x")', "s")
    assert rows[3][header.index("status")] == "pending_review"


def test_export_of_everything_includes_past_roles(registry, staff_client):
    rows = list(csv.DictReader(io.StringIO(staff_client.get("/experts/export.csv?region=flanders")
                                           .data.decode("utf-8-sig"))))
    assert [(r["email"], r["past_roles"], r["has_cv"], r["orcid"]) for r in rows] == [
        ("jan.peeters@ugent.be", "LA nexus 2022-2022", "yes", "0000-0002-1825-0097")]


REGISTRY_PAGES = ["/experts", "/experts/export.csv", "/experts/export.xlsx", "/experts/new", "/experts/{id}",
                  "/experts/{id}/edit", "/experts/duplicates", "/experts/erasure-requests", "/experts/import",
                  "/experts/merge?expert_id={id}&expert_id={other}"]


@pytest.mark.parametrize("role", ["expert", "reviewer"])
def test_the_registry_is_for_staff_only(app, make_user, registry, role):
    make_user(f"{role}@example.org", role)
    client = app.test_client()
    login(client, f"{role}@example.org")
    seen = {}
    for path in REGISTRY_PAGES:
        response = client.get(path.format(id=registry["peeters"], other=registry["dubois"]))
        seen[path] = (response.status_code, "Peeters" in response.get_data(as_text=True))
    assert seen == {path: (403, False) for path in REGISTRY_PAGES}


# --- create and edit -------------------------------------------------------------------------------------
FORM = {"first_name": "Lotte", "last_name": "Janssens", "email": "Lotte.Janssens@KULeuven.be", "affiliation": "KU Leuven",
        "region": "flanders", "gender": "female", "career_stage": "early", "orcid": "https://orcid.org/0000-0001-5109-3700",
        "disciplines": ["natural-sciences", "interdisciplinary"], "roles_wanted": ["FELLOW", "LA"],
        "deliverables": ["nexus", "spatial-planning"], "gbf_targets": ["T2", "T12"], "ecosystems": ["urban"],
        "keywords": "urban ecology; green roofs; urban ecology", "languages": ["nl", "en"], "preferred_language": "nl",
        "availability": "limited", "availability_note": "Not in July", "status": "active", "notes": "Met at IPBES-11",
        "user_email": ""}


def test_staff_create_an_expert_with_every_field(app, staff_client):
    response = staff_client.post("/experts/new", data=FORM)
    assert response.status_code == 302
    expert_id = int(response.headers["Location"].rsplit("/", 1)[1])
    e = get_expert(app, expert_id)
    assert (e.first_name, e.last_name, e.email, e.affiliation, e.region, e.gender.value, e.career_stage.value,
            e.orcid, e.keywords, e.languages, e.preferred_language, e.availability.value, e.availability_note,
            e.status.value, e.notes, e.user_id) == (
        "Lotte", "Janssens", "lotte.janssens@kuleuven.be", "KU Leuven", "flanders", "female", "early",
        "0000-0001-5109-3700", "urban ecology; green roofs", "nl;en", "nl", "limited", "Not in July", "active",
        "Met at IPBES-11", None)
    assert sorted((t.vocabulary, t.code) for t in e.terms) == [
        ("discipline", "interdisciplinary"), ("discipline", "natural-sciences"), ("ecosystem", "urban"),
        ("expert_role", "FELLOW"), ("expert_role", "LA"), ("gbf_target", "T12"), ("gbf_target", "T2")]
    assert sorted(d.code for d in e.deliverables) == ["nexus", "spatial-planning"]
    with app.app_context():
        from focalpoint.audit import AuditEntry
        from focalpoint.extensions import db

        assert db.session.execute(sa.select(AuditEntry.action, AuditEntry.data).where(
            AuditEntry.object_type == "experts", AuditEntry.object_id == expert_id)).all() == [
            ("expert.created", {"source": "form"})]
    page = staff_client.get(f"/experts/{expert_id}").get_data(as_text=True)
    assert "Lotte Janssens" in page and "Urban areas" in page and "Met at IPBES-11" in page


#: (changes to a valid form, the error shown)
INVALID = [
    ({"email": "JAN.PEETERS@ugent.be"}, "An expert with this e-mail address already exists (#{peeters})."),
    ({"email": "jan@old.example"}, "An expert with this e-mail address already exists (#{tombstone})."),
    ({"orcid": "0000-0002-1825-0097"}, "An expert with this ORCID already exists (#{peeters})."),
    ({"orcid": "0000-0002-1825-0098"}, "Invalid ORCID: the check digit does not match."),
    ({"orcid": "1234"}, "Invalid ORCID: it has the form 0000-0002-1825-0097."),
    ({"email": "not-an-address"}, "Invalid email address."),
    ({"last_name": ""}, "This field is required."),
    ({"region": "Flandres"}, "Not a valid choice."),
    ({"user_email": "nobody@example.org"}, "No user account has this e-mail address."),
]


def test_create_refuses_invalid_data(app, registry, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    answers = []
    for changes, error in INVALID:
        response = staff_client.post("/experts/new", data=FORM | changes)
        answers.append((response.status_code, error.format(**registry) in response.get_data(as_text=True)))
    assert answers == [(422, True)] * len(INVALID)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Expert)) == 7


def test_linking_a_user_account(app, make_user, staff_client):
    user_id = make_user("lotte@example.org", "expert")
    response = staff_client.post("/experts/new", data=FORM | {"user_email": "LOTTE@example.org"})
    expert_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert get_expert(app, expert_id).user_id == user_id
    again = staff_client.post("/experts/new", data=FORM | {"email": "other@example.org", "orcid": "",
                                                            "user_email": "lotte@example.org"})
    assert again.status_code == 422
    assert f"This account is already linked to expert #{expert_id}." in again.get_data(as_text=True)


def test_edit_changes_fields_and_tags_and_records_only_field_names(app, registry, staff_client):
    expert_id = registry["dubois"]
    form = staff_client.get(f"/experts/{expert_id}/edit").get_data(as_text=True)
    assert 'value="marie.dubois@uliege.be"' in form
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    data = FORM | {"first_name": "Marie", "last_name": "Dubois-Lambert", "email": "marie.dubois@uliege.be",
                   "orcid": "", "disciplines": ["social-sciences"], "roles_wanted": ["FELLOW"], "gbf_targets": [],
                   "ecosystems": ["forests", "mountains"], "deliverables": ["transformative-change"],
                   "keywords": "", "languages": ["fr"], "preferred_language": "fr", "availability": "limited",
                   "availability_note": "", "notes": "", "affiliation": "Université de Liège", "region": "wallonia",
                   "gender": "female", "career_stage": "early", "version": version}
    response = staff_client.post(f"/experts/{expert_id}/edit", data=data)
    assert response.status_code == 302
    e = get_expert(app, expert_id)
    assert e.last_name == "Dubois-Lambert"
    assert e.preferred_language == "fr"
    assert sorted(t.code for t in e.terms_of("ecosystem")) == ["forests", "mountains"]
    with app.app_context():
        from focalpoint.audit import AuditEntry
        from focalpoint.extensions import db

        entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.object_id == expert_id,
                                                               AuditEntry.action == "expert.updated")).one()
        assert entry.data == {"fields": ["last_name", "preferred_language", "tags"]}
    history = staff_client.get(f"/experts/{expert_id}").get_data(as_text=True)
    assert "Stella Staff · Changed: last name, language of e-mails, tags</li>" in history


def test_a_stale_edit_is_refused_with_the_other_change_shown(app, registry, staff_client):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    expert_id = registry["dubois"]
    form = staff_client.get(f"/experts/{expert_id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    with app.app_context():  # someone else saves meanwhile
        db.session.get(Expert, expert_id).affiliation = "ULiège, Gembloux Agro-Bio Tech"
        db.session.commit()
    mine = FORM | {"first_name": "Marie", "last_name": "Dubois", "email": "marie.dubois@uliege.be", "orcid": "",
                   "affiliation": "Université de Liège (Arlon)", "version": version}
    response = staff_client.post(f"/experts/{expert_id}/edit", data=mine)
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Someone else saved this record after you opened it." in body
    assert "Affiliation: ULiège, Gembloux Agro-Bio Tech" in body
    assert 'value="Université de Liège (Arlon)"' in body  # what was typed is kept
    assert get_expert(app, expert_id).affiliation == "ULiège, Gembloux Agro-Bio Tech"
    newer = re.search(r'name="version" type="hidden" value="(\d+)"', body).group(1)
    assert int(newer) == int(version) + 1
    assert staff_client.post(f"/experts/{expert_id}/edit", data=mine | {"version": newer}).status_code == 302
    assert get_expert(app, expert_id).affiliation == "Université de Liège (Arlon)"


def test_erased_and_merged_records_cannot_be_edited(registry, staff_client):
    for key in ("erased", "tombstone"):
        response = staff_client.get(f"/experts/{registry[key]}/edit")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/experts/{registry[key]}"
    page = staff_client.get(f"/experts/{registry['tombstone']}").get_data(as_text=True)
    assert f'This record was merged into <a href="/experts/{registry["peeters"]}">' in page


def test_staff_add_and_remove_past_roles(app, registry, staff_client):
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable

    expert_id = registry["dubois"]
    with app.app_context():
        values = db.session.scalar(sa.select(Deliverable.id).where(Deliverable.code == "values"))
    response = staff_client.post(f"/experts/{expert_id}/roles", data={"role": "FELLOW", "deliverable_id": values,
                                                                      "year_from": "2019", "year_to": "2022"})
    assert response.status_code == 302
    response = staff_client.post(f"/experts/{expert_id}/roles", data={"role": "CA", "deliverable_id": "0",
                                                                      "deliverable_text": "Regional ECA update"})
    assert response.status_code == 302
    bad = staff_client.post(f"/experts/{expert_id}/roles", data={"role": "LA", "deliverable_id": values,
                                                                 "year_from": "2022", "year_to": "2020"},
                            follow_redirects=True)
    assert "The end year is before the start year." in bad.get_data(as_text=True)
    e = get_expert(app, expert_id)
    assert sorted((r.role, r.deliverable.code if r.deliverable else r.deliverable_text, r.year_from, r.year_to,
                   r.source) for r in e.roles_held) == [("CA", "Regional ECA update", None, None, "declared"),
                                       ("FELLOW", "values", 2019, 2022, "declared")]
    fellow = next(r for r in e.roles_held if r.role == "FELLOW")
    other = registry["peeters"]
    assert staff_client.post(f"/experts/{other}/roles/{fellow.id}/delete").status_code == 404
    assert staff_client.post(f"/experts/{expert_id}/roles/{fellow.id}/delete").status_code == 302
    assert [r.role for r in get_expert(app, expert_id).roles_held] == ["CA"]
