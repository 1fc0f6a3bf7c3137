"""The clearance matrix of a session: notes × administrations, states in words and colours."""
from __future__ import annotations

import datetime as dt
import re

from plenary_helpers import TODAY, add_item, add_note, add_session

DUE = TODAY + dt.timedelta(days=10)


def _cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows


def test_matrix_of_notes_by_administration(app, staff_client):
    sid = add_session(app)
    # In review: BE-VL cleared v2, BE-WAL objected to v2, BE-FED-ENV has not decided, BE-BXL cleared v1 (stale).
    review = add_note(app, add_item(app, sid, "7 (b)", "Business"), versions=[{}, {}], status="in_review", requests={
        "BE-VL": [DUE, (2, "cleared", "")],
        "BE-WAL": [DUE, (1, "cleared", ""), (2, "objected", "Say \"subject to the federated entities\".")],
        "BE-FED-ENV": [DUE],
        "BE-BXL": [DUE, (1, "cleared", "")]})
    approved = add_note(app, add_item(app, sid, "6", "Budget"), status="approved",
                        requests={"BE-VL": [DUE, (1, "cleared", "")]})
    add_item(app, sid, "10", "Next session")
    draft = add_note(app, add_item(app, sid, "2", "Agenda"))

    html = staff_client.get(f"/plenary/{sid}/clearance").get_data(as_text=True)
    header = re.findall(r'<th scope="col">(.*?)</th>', html.split("<thead>", 1)[1].split("</thead>", 1)[0])
    assert [re.sub(r"<[^>]+>", "", h) for h in header] == [
        "Agenda item", "Note", "BE-BXL", "BE-FED-ENV", "BE-FED-FA", "BE-VL", "BE-WAL"]
    assert '<abbr title="Flemish administration (Department of Environment)">BE-VL</abbr>' in html
    due = f"due {DUE:%b} {DUE.day}, {DUE.year}"
    assert _cells(html) == [
        ["2 Agenda", "Draft version 1", "– Not asked", "– Not asked", "– Not asked", "– Not asked", "– Not asked"],
        ["6 Budget", "Approved version 1", "– Not asked", "– Not asked", "– Not asked", f"✓ Cleared {due}",
         "– Not asked"],
        ["7 (b) Business", "In review version 2", f"↻ Decided on an older version {due} · on version 1",
         f"… Awaiting decision {due}", "– Not asked", f"✓ Cleared {due}",
         f"✗ Objected {due} Say &#34;subject to the federated entities&#34;."],
        ["10 Next session", "No position note yet."]]
    # Each state is said in words (the symbols are hidden from screen readers) as well as in colour.
    assert '<span class="badge text-bg-danger"><span aria-hidden="true">✗</span> Objected</span>' in html
    assert '<th scope="row">7 (b) <span class="fw-normal">Business</span></th>' in html
    assert f'href="/positions/{review}">version 2</a>' in html and f'href="/positions/{approved}"' in html
    assert f'href="/positions/{draft}"' in html
    summary = " ".join(re.sub(r"<[^>]+>", " ", html.split("Each cell says", 1)[1].split("</p>", 1)[0]).split())
    assert summary == ("where an administration stands on the note's current version. – Not asked 10 · "
                       "… Awaiting decision 1 · ✓ Cleared 2 · ✗ Objected 1 · ↻ Decided on an older version 1")


def test_matrix_without_notes(app, staff_client):
    sid = add_session(app)
    add_item(app, sid, "3")
    html = staff_client.get(f"/plenary/{sid}/clearance").get_data(as_text=True)
    assert "No position note yet for this session." in html and "<table" not in html
