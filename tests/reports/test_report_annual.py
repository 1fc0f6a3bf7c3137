"""The annual report (DOCX): real headings and Word tables, the charts as pictures, one year's figures."""
from __future__ import annotations

import io

import pytest
from docx import Document

from reports_world import seed


@pytest.fixture
def world(app):
    return seed(app)


def open_docx(response) -> Document:
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return Document(io.BytesIO(response.get_data()))


def headings(doc, level: int) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


def table_rows(t) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in t.rows]


def test_annual_report_of_a_year(app, world, staff_client):
    response = staff_client.get("/reports/annual.docx?year=2024")
    assert response.headers["Content-Disposition"] == 'attachment; filename="ipbes-annual-report-2024.docx"'
    doc = open_docx(response)
    assert [p.text for p in doc.paragraphs if p.style.name == "Title"] == [
        "National involvement in IPBES: annual report 2024"]
    assert doc.core_properties.title == "National involvement in IPBES: annual report 2024"
    assert headings(doc, 1) == ["Summary", "Involvement", "Balance", "Consultations", "Positions"]
    assert "Over time" in headings(doc, 2) and "Clearance per administration" in headings(doc, 2)
    assert "Gender" in headings(doc, 2) and "Indigenous and local knowledge" in headings(doc, 2)
    assert headings(doc, 3).count("How these figures are counted") == 4
    # the summary: one bullet per report, 2024 only
    bullets = [p.text for p in doc.paragraphs if p.style.name == "List Bullet"]
    assert "Involvement: 4 invited, 2 accepted, 3 submitted, 2 selected (selection rate 67%); 4 experts involved." \
        in bullets
    assert "Positions: 6 review requests, 4 cleared; median 3.8 days to clearance." in bullets

    tables = {table_rows(t)[0][0] + "|" + table_rows(t)[0][1]: table_rows(t) for t in doc.tables}
    per_deliverable = tables["Year|Deliverable"]
    assert per_deliverable[1:] == [
        ["2024", "Transformative change", "3", "2", "0", "3", "3", "2", "1", "50%", "1", "0"],
        ["2024", "No deliverable", "1", "0", "1", "2", "1", "1", "1", "100%", "0", "1"],
        ["", "Total", "4", "2", "1", "5", "4", "3", "2", "67%", "1", "1"]]
    clearance = tables["Administration|Review requests"]
    assert clearance[-1] == ["All administrations", "6", "4", "1", "1", "3.8", "4.9"]
    gender = next(t for t in doc.tables if table_rows(t)[0] == ["Category", "Registry (today)", "2024 candidates",
                                                                  "2024 selected"] and table_rows(t)[1][0] == "Female")
    assert table_rows(gender)[1:] == [["Female", "2 (40%)", "2 (50%)", "2 (100%)"], ["Male", "2 (40%)", "1 (25%)", "0 (0%)"],
                                      ["Non-binary", "0 (0%)", "0 (0%)", "0 (0%)"],
                                      ["Undisclosed", "0 (0%)", "0 (0%)", "0 (0%)"],
                                      ["Not stated", "1 (20%)", "1 (25%)", "0 (0%)"], ["Experts", "5", "4", "2"]]
    # header rows repeat on each page and are marked as headers
    assert all(t.rows[0]._tr.trPr is not None and t.rows[0]._tr.trPr.xml.count("tblHeader") == 1 for t in doc.tables)

    # the charts: pictures (PNG) with alternative text, each followed by a caption
    shapes = doc.inline_shapes
    # involvement 5, balance 5, consultations 3, positions 2
    assert len(shapes) == 15
    for shape in shapes:
        assert shape._inline.docPr.get("descr")
        blip = shape._inline.graphic.graphicData.pic.blipFill.blip
        image = doc.part.related_parts[blip.embed]
        assert image.content_type == "image/png" and image.blob.startswith(b"\x89PNG\r\n\x1a\n")
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert captions[0] == "Figure 1: Involvement per year" and len(captions) == 15


def test_annual_report_with_deliverables_and_an_empty_year(app, world, staff_client):
    doc = open_docx(staff_client.get(f"/reports/annual.docx?year=2023&deliverable={world['nexus']}"))
    assert "Deliverables covered: Nexus (biodiversity, water, food and health)." in [p.text for p in doc.paragraphs]
    per_deliverable = next(t for t in doc.tables if table_rows(t)[0][:2] == ["Year", "Deliverable"])
    assert [row[:3] for row in table_rows(per_deliverable)[1:]] == [
        ["2023", "Nexus (biodiversity, water, food and health)", "4"], ["", "Total", "4"]]
    empty = open_docx(staff_client.get("/reports/annual.docx?year=2031"))
    assert headings(empty, 1) == ["Summary", "Involvement", "Balance", "Consultations", "Positions"]
    assert "Nothing in 2031." in [p.text for p in empty.paragraphs]
    # only the registry to draw (the balance charts); the administrations' table is still there (with zeros)
    assert [p.text for p in empty.paragraphs if p.style.name == "Caption"] == [
        "Figure 1: Gender: shares", "Figure 2: Region: shares", "Figure 3: Discipline: shares",
        "Figure 4: Career stage: shares", "Figure 5: Indigenous and local knowledge: shares"]
    assert len(empty.inline_shapes) == 5
    assert any(table_rows(t)[0][0] == "Administration" for t in empty.tables)


def test_bad_year_goes_back_with_a_message(app, staff_client):
    response = staff_client.get("/reports/annual.docx?year=nineteen")
    assert response.status_code == 302 and response.headers["Location"] == "/reports"
    assert "The year of the annual report must be between 2000 and 2100." in \
        staff_client.get("/reports").get_data(as_text=True)


def test_the_index_offers_the_annual_report(app, staff_client):
    from focalpoint.reports.services import today

    html = staff_client.get("/reports").get_data(as_text=True)
    with app.test_request_context():
        last_year = today().year - 1
    assert f'<option value="{last_year}" selected>{last_year}</option>' in html
    assert 'action="/reports/annual.docx"' in html
    for report in ("involvement", "balance", "consultations", "positions"):
        assert f'href="/reports/{report}"' in html
