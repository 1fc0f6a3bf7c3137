"""CSV and XLSX downloads: the same numbers as the pages, numbers as numbers, formula-looking text as text."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from reports_world import seed


@pytest.fixture
def world(app):
    return seed(app)


def read_csv(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # a byte order mark, so Excel reads the accents
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_involvement_csv(app, world, staff_client):
    response = staff_client.get("/reports/involvement.csv?from=2023&to=2024")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report-involvement-2023-2024.csv"'
    rows = read_csv(response)
    assert rows == [
        ["Year", "Deliverable", "Invited", "Accepted", "Declined", "Candidates", "Endorsed", "Submitted", "Selected",
         "Selection rate (%)", "CLA (Selected as: Coordinating lead author)", "LA (Selected as: Lead author)",
         "FELLOW (Selected as: Fellow (early-career individual, IPBES fellowship programme))"],
        ["2023", "Nexus (biodiversity, water, food and health)", "4", "2", "1", "3", "2", "2", "1", "50.0", "1", "0",
         "0"],
        ["2024", "Transformative change", "3", "2", "0", "3", "3", "2", "1", "50.0", "0", "1", "0"],
        ["2024", "No deliverable", "1", "0", "1", "2", "1", "1", "1", "100.0", "0", "0", "1"],
        ["", "Total", "8", "4", "2", "8", "6", "5", "3", "60.0", "1", "1", "1"],
    ]


def test_involvement_xlsx_has_every_table(app, world, staff_client):
    response = staff_client.get("/reports/involvement.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="report-involvement-all.xlsx"'
    wb = load_workbook(io.BytesIO(response.get_data()))
    assert wb.sheetnames == ["Per deliverable and year", "Per year", "Registry history"]
    ws = wb["Per year"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0][:11] == ["Year", "Invited", "Accepted", "Declined", "Candidates", "Endorsed", "Submitted",
                            "Selected", "Selection rate (%)", "Experts involved", "Experts selected"]
    assert rows[1] == ["2023", 4, 2, 1, 3, 2, 2, 1, 0.5, 5, 1, 1, 0, 0]
    assert rows[2][:10] == ["2024", 4, 2, 1, 5, 4, 3, 2, pytest.approx(2 / 3), 4]
    assert rows[3][:9] == ["Total", 8, 4, 2, 8, 6, 5, 3, 0.6]
    assert ws["I2"].number_format == "0.0%" and ws["B2"].data_type == "n"
    assert ws["A4"].font.b and ws["A1"].font.b and ws.freeze_panes == "A2"
    history = [list(r) for r in wb["Registry history"].iter_rows(values_only=True)]
    assert history[0] == ["Year", "CLA (Roles: Coordinating lead author)", "LA (Roles: Lead author)",
                          "FELLOW (Roles: Fellow (early-career individual, IPBES fellowship programme))", "Total"]
    assert history[1] == ["2019", 0, 1, 0, 1] and history[-1] == ["2024", 0, 1, 1, 2]


def test_balance_exports_one_long_table(app, world, staff_client):
    rows = read_csv(staff_client.get("/reports/balance.csv"))
    assert rows[0] == ["Dimension", "Category", "Population", "Year", "Experts", "Of", "Share (%)"]
    assert rows[1] == ["Gender", "Female", "Registry (today)", "", "2", "5", "40.0"]
    assert ["Gender", "Female", "Candidates", "2024", "2", "4", "50.0"] in rows
    assert ["Indigenous and local knowledge", "ILK", "Selected", "2023", "0", "1", "0.0"] in rows
    # 5 dimensions: gender 5 categories, region 6, discipline 8, career stage 4, ILK 2; 5 populations each
    assert len(rows) == 1 + (5 + 6 + 8 + 4 + 2) * 5
    wb = load_workbook(io.BytesIO(staff_client.get("/reports/balance.xlsx").get_data()))
    assert wb.sheetnames == ["Balance"]
    assert list(next(wb["Balance"].iter_rows(min_row=2, max_row=2, values_only=True))) == [
        "Gender", "Female", "Registry (today)", None, 2, 5, 0.4]


def test_consultations_and_positions_exports(app, world, staff_client):
    rows = read_csv(staff_client.get("/reports/consultations.csv"))
    assert rows[0][:2] == ["Year", "Draft"] and rows[0][-1] == "Share adopted (%)"
    assert rows[1] == ["2023", "First order draft", "1", "2", "2", "6", "1", "1", "2", "1", "3", "2", "1", "60.0"]
    assert rows[2][-1] == ""  # no decided comment: no share
    wb = load_workbook(io.BytesIO(staff_client.get("/reports/consultations.xlsx").get_data()))
    assert wb.sheetnames == ["Per draft and year", "Per draft", "Per year"]
    positions = read_csv(staff_client.get("/reports/positions.csv"))
    assert positions[0] == ["Administration", "Review requests", "Cleared", "Objected", "Awaiting", "Median days",
                            "Mean days"]
    assert positions[-2] == ["Walloon administration (SPW Agriculture, Natural Resources and Environment)", "2", "1",
                             "0", "1", "1.25", "1.25"]
    assert positions[-1] == ["All administrations", "7", "5", "1", "1", "3.0", "4.15"]
    ws = load_workbook(io.BytesIO(staff_client.get("/reports/positions.xlsx").get_data()))["Clearance"]
    # header, Brussels, Foreign Affairs, Federal environment, Flemish, Walloon, the total
    assert [c.value for c in ws[6]] == ["Walloon administration (SPW Agriculture, Natural Resources and Environment)",
                                        2, 1, 0, 1, 1.25, 1.25]
    assert ws["F6"].number_format == "0.0" and ws["A7"].value == "All administrations"


def test_formula_looking_names_stay_text(app, world, staff_client):
    from focalpoint.auth.models import Administration
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import NominationCall
    from focalpoint.positions.models import PositionNote, ReviewRequest
    from focalpoint.reference.models import Deliverable

    with app.app_context():
        hostile = Deliverable(code="hostile", short_name='=HYPERLINK("http://evil.example","x")', title="Hostile",
                              type="thematic")
        db.session.add(hostile)
        db.session.flush()
        call = NominationCall(title="Hostile call", deliverable_id=hostile.id, national_deadline=dt.date(2025, 1, 10))
        db.session.add(call)
        db.session.flush()
        expert = db.session.scalars(db.select(Expert).order_by(Expert.id)).first()
        db.session.add(Invitation(call_id=call.id, expert_id=expert.id, token_hash="h" * 64,
                                  expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)))
        admin = Administration(code="EVIL", name="@SUM(1+1)")
        db.session.add(admin)
        db.session.flush()
        note = db.session.scalars(db.select(PositionNote).order_by(PositionNote.id)).first()
        db.session.add(ReviewRequest(note_id=note.id, administration_id=admin.id, due_date=dt.date(2025, 1, 1)))
        db.session.commit()
        hostile_id = hostile.id
    rows = read_csv(staff_client.get(f"/reports/involvement.csv?deliverable={hostile_id}"))
    assert rows[1][:3] == ["2025", "'=HYPERLINK(\"http://evil.example\",\"x\")", "1"]
    ws = load_workbook(io.BytesIO(staff_client.get(f"/reports/involvement.xlsx?deliverable={hostile_id}")
                                  .get_data()))["Per deliverable and year"]
    assert ws["B2"].value == '=HYPERLINK("http://evil.example","x")' and ws["B2"].data_type == "s"
    assert ws["B2"].quotePrefix
    positions = load_workbook(io.BytesIO(staff_client.get("/reports/positions.xlsx").get_data()))["Clearance"]
    assert (positions["A2"].value, positions["A2"].data_type) == ("@SUM(1+1)", "s")
    assert read_csv(staff_client.get("/reports/positions.csv"))[1][0] == "'@SUM(1+1)"
