"""Importing a spreadsheet: a report per row, duplicates by e-mail, ORCID and name, dry runs, the upload
page, the command line, and 10,000 rows in under 30 seconds."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import login

from .conftest import build_expert, get_expert

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["email", "first_name", "last_name", "gender", "affiliation", "region", "disciplines", "expertise",
           "deliverables", "roles_wanted", "languages", "orcid", "career_stage"]


def csv_bytes(rows: list[list[str]], header=COLUMNS, delimiter=",", encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[str]], header=COLUMNS) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def existing(app):
    """The registry before the import."""
    return {
        "peeters": build_expert(app, email="jan.peeters@ugent.be", first_name="Jan", last_name="Peeters",
                                region="flanders", tags=[("discipline", "natural-sciences")]),
        "dubois": build_expert(app, email="marie.dubois@uliege.be", first_name="Marie", last_name="Dubois",
                               affiliation="ULiège", orcid="0000-0002-1825-0097", region="wallonia",
                               gender="female", career_stage="early", keywords="soils", languages="fr",
                               tags=[("discipline", "social-sciences")]),
        "lambert": build_expert(app, email="l.lambert@example.org", first_name="Luc", last_name="Lambert",
                                orcid="0000-0001-5109-3700"),
    }


#: line → row; the comment says what the row is meant to test.
ROWS = [
    # 2: new, values by code and by label in any case; expertise mixes tags and keywords
    ["Sofia.Martens@VUB.be", "Sofia", "Martens", "Female", "VUB", "BRUSSELS", "ilk; Humanities",
     "T3; Wetlands and peatlands; urban bees", "nexus; Values (diverse values and valuation of nature)",
     "Lead author; cla", "en; French", "https://orcid.org/0000-0002-1694-233X", "Senior"],
    # 3: the e-mail of Dubois: fills in what her record lacks (never overwrites); "forests" is a tag, "soils" known
    ["marie.dubois@uliege.be", "Marie", "Dubois", "male", "Université de Liège", "brussels", "humanities", "soils; forests",
     "", "FELLOW", "fr; nl", "", "mid"],
    # 4: the e-mail of Peeters, nothing new
    ["JAN.PEETERS@ugent.be", "Jan", "Peeters", "", "", "flanders", "natural-sciences", "", "", "", "", "", ""],
    # 5: the ORCID of Lambert under another address
    ["luc.lambert@gmail.com", "Luc", "Lambert", "", "", "", "", "", "", "", "", "0000-0001-5109-3700", ""],
    # 6: a similar name (accents, swapped)
    ["peeters.jan@inbo.be", "PEETERS", "Jàn", "", "INBO", "", "", "", "", "", "", "", ""],
    # 7: several errors at once
    ["x@example.org", "Xavier", "Bad", "", "", "Flandres", "astrology", "", "nexus-2", "", "", "0000-0002-1825-0098",
     "junior"],
    # 8: no e-mail
    ["", "No", "Mail", "", "", "", "", "", "", "", "", "", ""],
    # 9: a second row with the e-mail of line 2
    ["sofia.martens@vub.be", "Sofia", "Martens-Bis", "", "", "", "", "", "", "", "", "", ""],
    # 10: new, with few values
    ["new.person@example.org", "", "Newman", "", "", "", "", "", "", "", "", "", ""],
    # 11: unknown language, invalid e-mail
    ["not an address", "Ann", "Other", "", "", "", "", "", "", "", "Klingon", "", ""],
    # 12: same name as line 10
    ["newman2@example.org", "", "NEWMAN", "", "", "", "", "", "", "", "", "", ""],
]


def expected_report(ids: dict, created: dict | None = None) -> list[tuple]:
    created = created or {}
    return [
        (2, "created", "", created.get(2)),
        (3, "updated", "filled in: languages, tags", ids["dubois"]),
        (4, "skipped", f"duplicate of #{ids['peeters']} by e-mail, nothing new", ids["peeters"]),
        (5, "skipped", f"duplicate of #{ids['lambert']} by ORCID", ids["lambert"]),
        (6, "skipped", f"similar name to #{ids['peeters']} (Jan Peeters)", ids["peeters"]),
        (7, "skipped", "invalid ORCID '0000-0002-1825-0098'; unknown region 'Flandres'; unknown career stage "
                       "'junior'; unknown discipline 'astrology'; unknown deliverable 'nexus-2'", None),
        (8, "skipped", "e-mail missing", None),
        (9, "skipped", "duplicate of line 2 by e-mail", None),
        (10, "created", "", created.get(10)),
        (11, "skipped", "invalid e-mail 'not an address'; unknown language 'Klingon'", None),
        (12, "skipped", "similar name to line 10 (Newman)", None),
    ]


def run_import(app, data: bytes, name: str, dry_run: bool):
    from focalpoint.experts.services import import_experts, read_import_file
    from focalpoint.extensions import db

    with app.app_context():
        rows, warnings = read_import_file(data, name)
        report = import_experts(rows, dry_run=dry_run)
        db.session.commit()
        return report, warnings


def table_counts(app) -> dict[str, int]:
    from focalpoint.extensions import db

    with app.app_context():
        return {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
                for t in ("experts", "expert_terms", "expert_deliverables", "audit_entries")}


def created_ids(app) -> dict[int, int]:
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        emails = dict(db.session.execute(sa.select(Expert.email, Expert.id)).all())
    return {2: emails.get("sofia.martens@vub.be"), 10: emails.get("new.person@example.org")}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_report_per_row_and_bad_rows_do_not_stop_the_others(app, existing, kind):
    data = csv_bytes(ROWS) if kind == "csv" else xlsx_bytes(ROWS)
    report, warnings = run_import(app, data, f"experts.{kind}", dry_run=False)
    assert warnings == []
    assert [(r.line, r.outcome, r.reason, r.expert_id) for r in report.rows] == expected_report(
        existing, created_ids(app))
    assert report.counts == {"created": 2, "updated": 1, "skipped": 8}

    sofia = get_expert(app, created_ids(app)[2])
    assert (sofia.email, sofia.first_name, sofia.last_name, sofia.gender.value, sofia.affiliation, sofia.region,
            sofia.orcid, sofia.career_stage.value, sofia.keywords, sofia.languages, sofia.status.value) == (
        "sofia.martens@vub.be", "Sofia", "Martens", "female", "VUB", "brussels", "0000-0002-1694-233X", "senior",
        "urban bees", "en;fr", "active")
    assert sorted((t.vocabulary, t.code) for t in sofia.terms) == [
        ("discipline", "humanities"), ("discipline", "ilk"), ("ecosystem", "wetlands"), ("expert_role", "CLA"),
        ("expert_role", "LA"), ("gbf_target", "T3")]
    assert sorted(d.code for d in sofia.deliverables) == ["nexus", "values"]

    marie = get_expert(app, existing["dubois"])  # filled in, nothing overwritten
    assert (marie.gender.value, marie.affiliation, marie.region, marie.career_stage.value, marie.keywords,
            marie.languages, marie.version) == ("female", "ULiège", "wallonia", "early", "soils", "fr;nl", 2)
    assert sorted((t.vocabulary, t.code) for t in marie.terms) == [
        ("discipline", "humanities"), ("discipline", "social-sciences"), ("ecosystem", "forests"),
        ("expert_role", "FELLOW")]
    new = created_ids(app)
    with app.app_context():
        from focalpoint.audit import AuditEntry
        from focalpoint.extensions import db

        assert db.session.execute(sa.select(AuditEntry.object_id, AuditEntry.action, AuditEntry.data)
                                  .order_by(AuditEntry.id)).all() == [
            (existing["dubois"], "expert.updated",
             {"fields": ["languages", "tags"], "source": "import", "line": 3}),
            (new[2], "expert.created", {"source": "import", "line": 2}),
            (new[10], "expert.created", {"source": "import", "line": 10}),
            (None, "experts.imported", {"created": 2, "updated": 1, "skipped": 8})]


def test_a_dry_run_writes_nothing_and_reports_the_same(app, existing):
    before = table_counts(app)
    report, _warnings = run_import(app, csv_bytes(ROWS), "experts.csv", dry_run=True)
    assert table_counts(app) == before
    assert report.dry_run is True
    assert [(r.line, r.outcome, r.reason, r.expert_id) for r in report.rows] == expected_report(existing)
    assert get_expert(app, existing["dubois"]).keywords == "soils"


def test_excel_csv_with_semicolons_in_windows_encoding(app, existing):
    rows = [["h.dupre@uclouvain.be", "Hélène", "Dupré", "F", "UCLouvain", "Wallonie", "", "", "", "", "fr", "", ""],
            ["a.claes@ugent.be", "Arne", "Claes", "male", "UGent", "flanders", "social-sciences;humanities",
             "governance;T14", "", "LA;RE", "nl;en", "", "early career"]]
    data = csv_bytes(rows, delimiter=";", encoding="cp1252")
    report, _warnings = run_import(app, data, "export.csv", dry_run=False)
    assert [(r.line, r.outcome, r.reason, r.name) for r in report.rows] == [
        (2, "skipped", "unknown region 'Wallonie'; unknown gender 'F'", "Hélène Dupré"),
        (3, "created", "", "Arne Claes")]
    arne = get_expert(app, report.rows[1].expert_id)
    assert (arne.keywords, arne.languages, arne.career_stage.value) == ("governance", "nl;en", "early")
    assert sorted(t.code for t in arne.terms) == ["LA", "RE", "T14", "humanities", "social-sciences"]


def test_unknown_columns_are_reported_and_missing_ones_are_empty():
    data = csv_bytes([["a@example.org", "Ann", "Smith", "Nice person"]],
                     header=["E-mail ", "First Name", "last_name", "comment"])
    from focalpoint.experts.services import ImportFileError, read_import_file

    with pytest.raises(ImportFileError) as refused:
        read_import_file(data, "x.csv")
    assert str(refused.value).startswith("The file has no 'email' column")
    rows, warnings = read_import_file(csv_bytes([["a@example.org", "Ann", "Smith", "Nice"]],
                                                header=["Email", "First Name", "last_name", "comment"]), "x.csv")
    assert warnings == ["Column 'comment' is not one of ours: ignored."]
    assert rows == [(2, {"email": "a@example.org", "first_name": "Ann", "last_name": "Smith"})]


@pytest.mark.parametrize("data,name,message", [
    (b"", "x.csv", "The file is empty."),
    (b"\x00\x01\x02binary", "x.csv", "The file is neither CSV nor XLSX."),
    (b"PK\x03\x04broken", "x.xlsx", "The file is damaged or not of an accepted type."),
])
def test_unreadable_files(data, name, message):
    from focalpoint.experts.services import ExpertError, read_import_file

    with pytest.raises(ExpertError) as refused:
        read_import_file(data, name)
    assert str(refused.value) == message


def test_an_import_into_a_merged_record_goes_to_the_kept_one(app, existing):
    tombstone = build_expert(app, email="old.address@ugent.be", first_name="Jan", last_name="Peeters",
                             merged_into_id=existing["peeters"])
    report, _ = run_import(app, csv_bytes([["old.address@ugent.be", "Jan", "Peeters", "male", "", "", "", "", "", "",
                                            "", "", ""]]), "x.csv", dry_run=False)
    assert [(r.outcome, r.reason, r.expert_id) for r in report.rows] == [
        ("updated", "filled in: gender", existing["peeters"])]
    assert get_expert(app, tombstone).gender is None


# --- the upload page -----------------------------------------------------------------------------------
def post_file(client, url, data: bytes, name: str):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_upload_preview_then_confirm(app, existing, staff_client, make_user):
    make_user("other-staff@example.org", "staff")
    before = table_counts(app)
    preview = post_file(staff_client, "/experts/import", xlsx_bytes(ROWS), "registry.xlsx")
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "Preview: nothing is saved yet" in page
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<p id="import-counts">(.*?)</p>', page, re.S)
                                      .group(1))).strip() == "2 to create · 1 to update · 8 skipped"
    assert f"similar name to #{existing['peeters']} (Jan Peeters)" in page
    assert "unknown region &#39;Flandres&#39;" in page
    assert table_counts(app) == before
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)

    # Another staff member cannot confirm someone else's upload.
    other = app.test_client()
    login(other, "other-staff@example.org")
    refused = other.post("/experts/import/confirm", data={"token": token}, follow_redirects=True)
    assert "This preview is no longer available: upload the file again." in refused.get_data(as_text=True)
    assert table_counts(app) == before

    done = staff_client.post("/experts/import/confirm", data={"token": token})
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "Import done: 2 created, 1 updated, 8 skipped." in body
    assert created_ids(app)[2] is not None
    assert table_counts(app)["experts"] == before["experts"] + 2
    again = staff_client.post("/experts/import/confirm", data={"token": token}, follow_redirects=True)
    assert "This preview is no longer available: upload the file again." in again.get_data(as_text=True)
    assert table_counts(app)["experts"] == before["experts"] + 2


def test_upload_of_nothing_importable_offers_no_confirmation(app, existing, staff_client):
    response = post_file(staff_client, "/experts/import", csv_bytes([ROWS[3]]), "x.csv")
    page = response.get_data(as_text=True)
    assert "No row can be imported: correct the file and upload it again." in page
    assert 'name="token"' not in page
    bad = post_file(staff_client, "/experts/import", b"name;comment\r\nAnn;x\r\n", "x.csv")
    assert bad.status_code == 422
    assert "The file has no &#39;email&#39; column" in bad.get_data(as_text=True)


def test_a_forged_token_is_refused(app, staff_client):
    tokens = ["../../secret_key", "0" * 32 + ".txt", "", "x" * 32 + ".csv", "0" * 32 + ".csv"]
    answers = {token: "This preview is no longer available: upload the file again." in staff_client.post(
        "/experts/import/confirm", data={"token": token}, follow_redirects=True).get_data(as_text=True)
        for token in tokens}
    assert answers == {token: True for token in tokens}


# --- command line -------------------------------------------------------------------------------------------
def test_cli_import_dry_run_then_for_real_then_list(app, existing, tmp_path):
    path = tmp_path / "experts.csv"
    path.write_bytes(csv_bytes(ROWS))
    runner = app.test_cli_runner()
    before = table_counts(app)
    dry = runner.invoke(args=["experts", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0
    lines = dry.output.splitlines()
    assert lines[0] == "line 2: created (Sofia Martens)"
    assert lines[2] == f"line 4: skipped #{existing['peeters']} (Jan Peeters): duplicate of #{existing['peeters']} " \
                       "by e-mail, nothing new"
    assert lines[-1] == "Dry run (nothing written): 2 created, 1 updated, 8 skipped"
    assert table_counts(app) == before

    real = runner.invoke(args=["experts", "import", str(path), "--json"])
    assert real.exit_code == 0
    data = json.loads(real.output)
    assert (data["dry_run"], data["counts"]) == (False, {"created": 2, "updated": 1, "skipped": 8})
    assert data["rows"][4] == {"line": 6, "outcome": "skipped", "expert_id": existing["peeters"],
                               "reason": f"similar name to #{existing['peeters']} (Jan Peeters)",
                               "name": "PEETERS Jàn", "email": "peeters.jan@inbo.be"}

    listed = runner.invoke(args=["experts", "list", "--json"])
    assert listed.exit_code == 0
    experts = json.loads(listed.output)
    assert [e["email"] for e in experts] == ["marie.dubois@uliege.be", "l.lambert@example.org",
                                             "sofia.martens@vub.be", "new.person@example.org",
                                             "jan.peeters@ugent.be"]
    assert experts[2] == {"id": created_ids(app)[2], "name": "Sofia Martens", "email": "sofia.martens@vub.be",
                          "region": "brussels", "gender": "female", "career_stage": "senior",
                          "disciplines": ["humanities", "ilk"], "roles_wanted": ["CLA", "LA"],
                          "deliverables": ["nexus", "values"], "status": "active"}
    text = runner.invoke(args=["experts", "list"])
    assert text.exit_code == 0
    assert len(text.output.splitlines()) == 5


def test_cli_exits_non_zero_when_nothing_could_be_imported(app, existing, tmp_path):
    path = tmp_path / "again.csv"
    path.write_bytes(csv_bytes([ROWS[2], ROWS[3], ROWS[6]]))
    result = app.test_cli_runner().invoke(args=["experts", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "0 created, 0 updated, 3 skipped"
    missing = app.test_cli_runner().invoke(args=["experts", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name\r\nAnn\r\n")
    result = app.test_cli_runner().invoke(args=["experts", "import", str(bad)])
    assert result.exit_code == 1
    assert "Error: The file has no 'email' column" in result.output


# --- 10,000 rows -------------------------------------------------------------------------------------------
def bench_module():
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_ten_thousand_rows_import_in_under_30_seconds(app):
    bench = bench_module()
    data = bench.to_csv(bench.generate_rows(10_000, 11, "t"))
    started = time.perf_counter()
    report, _warnings = run_import(app, data, "experts.csv", dry_run=False)
    elapsed = time.perf_counter() - started
    assert report.counts == {"created": 10_000, "updated": 0, "skipped": 0}
    assert table_counts(app)["experts"] == 10_000
    assert elapsed < 30, f"{elapsed:.1f} s"
