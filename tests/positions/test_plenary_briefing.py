"""The briefing pack (DOCX): reopened with python-docx, its XML parts checked."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

from lxml import etree

from plenary_helpers import TODAY, add_document, add_item, add_note, add_session

DUE = TODAY + dt.timedelta(days=10)
APPROVED_TEXT = {
    "background": "The budget for 2026-2027 (IPBES/13/4).",
    "national_position": "## Main line\n\nBelgium **supports** the budget and *welcomes* the report.\n\n"
                         "- first point\n- second point\n  - a detail\n\n3. third\n4. fourth\n\n"
                         "See [the documents](https://www.ipbes.net/ipbes-13) and <b>not HTML</b>.",
    "eu_position": "",
    "fallback": "> Accept a smaller increase.\n\n```\ncode line\n```",
}


def _docx(staff_client, sid):
    from docx import Document

    response = staff_client.get(f"/plenary/{sid}/briefing.docx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert response.headers["Content-Disposition"] == 'attachment; filename="briefing-IPBES-13.docx"'
    data = response.get_data()
    return data, Document(io.BytesIO(data))


def _paragraphs(doc):
    return [(p.style.name, p.text) for p in doc.paragraphs]


def _check_parts(data: bytes) -> list[str]:
    """Every XML part parses; the package has its content types and main document; returns the part names."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
        for name in names:
            if name.endswith((".xml", ".rels")):
                etree.fromstring(archive.read(name))  # raises on malformed XML
        return names


def _setup(app):
    sid = add_session(app, "IPBES-13", "Bonn, Germany", dt.date(2027, 3, 1), dt.date(2027, 3, 5))
    budget = add_item(app, sid, "6", "Budget")
    business = add_item(app, sid, "7 (b)", "Business assessment")
    add_item(app, sid, "2", "Agenda")
    add_document(app, sid, "IPBES/13/4", "Financial arrangements", "https://www.ipbes.net/budget", item=budget)
    add_document(app, sid, "IPBES/13/INF/10", "Contributions", item=budget)
    add_document(app, sid, "IPBES/13/INF/12", "List of participants", "https://www.ipbes.net/participants")
    approved = add_note(app, budget, versions=[{"national_position": "old text"}, APPROVED_TEXT], status="approved",
                        approved_at=dt.datetime(2027, 2, 10, 12, tzinfo=dt.timezone.utc),
                        requests={"BE-VL": [DUE, (2, "cleared", "")], "BE-WAL": [DUE, (1, "objected", "No."),
                                                                                 (2, "cleared", "")]})
    review = add_note(app, business, versions=[{"national_position": "Belgium hesitates."}], status="in_review",
                      requests={"BE-VL": [DUE, (1, "objected", "Too vague.")], "BE-FED-ENV": [DUE]})
    return sid, approved, review


def test_briefing_pack_of_a_session_with_draft_notes(app, staff_client):
    sid, _approved, _review = _setup(app)
    data, doc = _docx(staff_client, sid)
    names = _check_parts(data)
    assert {"[Content_Types].xml", "word/document.xml", "word/styles.xml", "docProps/core.xml"} <= set(names)
    assert doc.core_properties.title == "Briefing pack: IPBES-13"
    assert "DRAFT" in doc.core_properties.keywords
    assert doc.sections[0].header.paragraphs[0].text == "IPBES-13 briefing pack — DRAFT"

    paragraphs = _paragraphs(doc)
    assert paragraphs[:4] == [
        ("Title", "Briefing pack"), ("Subtitle", "IPBES-13"),
        ("Normal", f"Place: Bonn, Germany\nDates: March 1, 2027 – March 5, 2027\nGenerated on: "
                   f"{TODAY:%B} {TODAY.day}, {TODAY.year}"),
        ("Normal", "DRAFT — 1 of 2 position notes are not approved yet.")]
    headings = [(style, text) for style, text in paragraphs if style.startswith("Heading")]
    assert headings == [
        ("Heading 1", "Contents"),
        ("Heading 1", "Item 2: Agenda"), ("Heading 2", "Documents"), ("Heading 2", "Position"),
        ("Heading 1", "Item 6: Budget"), ("Heading 2", "Documents"), ("Heading 2", "Position"),
        ("Heading 3", "Background"), ("Heading 3", "National position"), ("Heading 4", "Main line"),
        ("Heading 3", "EU position"), ("Heading 3", "Fallback"), ("Heading 2", "Clearance"),
        ("Heading 1", "Item 7 (b): Business assessment"), ("Heading 2", "Documents"), ("Heading 2", "Position"),
        ("Heading 3", "Background"), ("Heading 3", "National position"), ("Heading 3", "EU position"),
        ("Heading 3", "Fallback"), ("Heading 2", "Clearance"),
        ("Heading 1", "Other documents")]
    contents = paragraphs[paragraphs.index(("Heading 1", "Contents")) + 1:][:3]
    assert contents == [("List Bullet", "Item 2: Agenda — no position note"),
                        ("List Bullet", "Item 6: Budget — Approved"),
                        ("List Bullet", "Item 7 (b): Business assessment — DRAFT (In review)")]

    # The approved note: its status line, its Markdown as Word paragraphs, runs in bold and italic.
    budget = paragraphs[paragraphs.index(("Heading 1", "Item 6: Budget")):
                        paragraphs.index(("Heading 1", "Item 7 (b): Business assessment"))]
    texts = [t for _s, t in budget]
    assert "Approved position (version 2, approved on February 10, 2027)." in texts
    assert ("Normal", "The budget for 2026-2027 (IPBES/13/4).") in budget
    assert ("Normal", "Belgium supports the budget and welcomes the report.") in budget
    assert [(s, t) for s, t in budget if s.startswith("List")] == [
        ("List Bullet", "first point"), ("List Bullet", "second point"), ("List Bullet 2", "a detail"),
        ("List", "3.\tthird"), ("List", "4.\tfourth")]
    assert ("Normal", "See the documents and <b>not HTML</b>.") in budget  # raw HTML stays text
    assert ("Normal", "Not known yet.") in budget  # the empty EU position
    assert ("Quote", "Accept a smaller increase.") in budget and ("Normal", "code line") in budget
    strong = next(p for p in doc.paragraphs if p.text.startswith("Belgium supports"))
    assert [(r.text, bool(r.bold), bool(r.italic)) for r in strong.runs] == [
        ("Belgium ", False, False), ("supports", True, False), (" the budget and ", False, False),
        ("welcomes", False, True), (" the report.", False, False)]
    link = next(p for p in doc.paragraphs if p.text.startswith("See "))
    assert [h.url for h in link.hyperlinks] == ["https://www.ipbes.net/ipbes-13"]
    assert "old text" not in texts

    # The note in review: its latest text, marked DRAFT.
    business = [t for _s, t in paragraphs[paragraphs.index(("Heading 1", "Item 7 (b): Business assessment")):]]
    assert "DRAFT — version 1, not approved (In review): not yet the national position." in business
    assert "Belgium hesitates." in business
    assert "No position note." in [t for _s, t in paragraphs[paragraphs.index(("Heading 1", "Item 2: Agenda")):
                                                             paragraphs.index(("Heading 1", "Item 6: Budget"))]]

    # Tables: documents and clearance per item, then the loose documents.
    tables = [[[c.text for c in row.cells] for row in table.rows] for table in doc.tables]
    assert tables == [
        [["Symbol", "Title", "Link"], ["IPBES/13/4", "Financial arrangements", "https://www.ipbes.net/budget"],
         ["IPBES/13/INF/10", "Contributions", ""]],
        [["Administration", "Status", "Decided", "Reason"],
         ["BE-VL — Flemish administration (Department of Environment)", "Cleared", "Jan 10, 2026", ""],
         ["BE-WAL — Walloon administration (SPW Agriculture, Natural Resources and Environment)", "Cleared",
          "Jan 11, 2026", ""]],
        [["Administration", "Status", "Decided", "Reason"],
         ["BE-FED-ENV — Federal Public Service Health, Food Chain Safety and Environment (DG Environment)",
          "Awaiting decision", "", ""],
         ["BE-VL — Flemish administration (Department of Environment)", "Objected", "Jan 10, 2026", "Too vague."]],
        [["Symbol", "Title", "Link"], ["IPBES/13/INF/12", "List of participants",
                                       "https://www.ipbes.net/participants"]]]
    links = [h.url for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs
             for h in p.hyperlinks]
    assert links == ["https://www.ipbes.net/budget", "https://www.ipbes.net/participants"]


def test_briefing_pack_with_every_note_approved_is_not_a_draft(app, staff_client):
    sid = add_session(app, "IPBES-13", "Online")
    add_note(app, add_item(app, sid, "4", "Only item"), status="approved",
             approved_at=dt.datetime(2027, 2, 10, tzinfo=dt.timezone.utc),
             versions=[{"national_position": "Belgium agrees."}], requests={"BE-VL": [DUE, (1, "cleared", "")]})
    data, doc = _docx(staff_client, sid)
    _check_parts(data)
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "DRAFT" not in text and "DRAFT" not in doc.sections[0].header.paragraphs[0].text
    assert "Belgium agrees." in text and "Place: Online" in text and "Dates: dates not known" in text


def test_briefing_pack_of_an_empty_session(app, staff_client):
    sid = add_session(app, "IPBES-13", "")
    data, doc = _docx(staff_client, sid)
    _check_parts(data)
    texts = [p.text for p in doc.paragraphs]
    assert "DRAFT — No position note has been written yet." in texts and "The agenda is empty." in texts


def test_hostile_text_never_breaks_the_document(app, staff_client):
    sid = add_session(app, "IPBES-13")
    add_note(app, add_item(app, sid, "4", "Bad \x01 title"), versions=[{
        "national_position": "Control \x0b characters \x1f and <script>alert(1)</script> [js](javascript:alert(1))\n\n"
                             "# " + "deep " * 50 + "\n\n###### six\n\n" + "- " * 8 + "nested"}])
    data, doc = _docx(staff_client, sid)
    _check_parts(data)
    texts = [p.text for p in doc.paragraphs]
    assert "Item 4: Bad  title" in texts
    assert "Control  characters  and <script>alert(1)</script> [js](javascript:alert(1))" in texts
    assert not any(h.url.startswith("javascript") for p in doc.paragraphs for h in p.hyperlinks)
    # "#" becomes Heading 4 under the section title, "######" Heading 9; an 8-deep list stays a list.
    assert [(p.style.name, p.text[:10]) for p in doc.paragraphs if p.style.name in ("Heading 4", "Heading 9")] == [
        ("Heading 4", "deep deep "), ("Heading 9", "six")]
    assert ("List Bullet 3", "nested") in [(p.style.name, p.text) for p in doc.paragraphs]
