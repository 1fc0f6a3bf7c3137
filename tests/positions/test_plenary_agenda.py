"""A session's agenda items and documents: natural order, validation, editing, removal."""
from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from plenary_helpers import add_document, add_item, add_note, add_session, session_id


def _items(app, sid):
    from focalpoint.extensions import db
    from focalpoint.positions.models import AgendaItem

    with app.app_context():
        return [(i.number, i.title, i.position) for i in db.session.scalars(
            sa.select(AgendaItem).where(AgendaItem.session_id == sid).order_by(AgendaItem.position))]


def _documents(app, sid):
    from focalpoint.extensions import db
    from focalpoint.positions.models import SessionDocument

    with app.app_context():
        return [(d.symbol, d.title, d.url, d.agenda_item.number if d.agenda_item else None) for d in db.session.scalars(
            sa.select(SessionDocument).where(SessionDocument.session_id == sid)
            .order_by(SessionDocument.position, SessionDocument.symbol))]


def _agenda_rows(html: str) -> list[str]:
    section = html.split('id="agenda-h"', 1)[1].split("</table>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", m).split())
            for m in re.findall(r'<th scope="row" class="nowrap">(.*?)</th>', section, re.S)]


def test_natural_key_orders_item_numbers():
    from focalpoint.positions.plenary_services import natural_key, normalise_number

    numbers = ["10", "7 (b)", "2", "7 (a)", "7", "7 (b) (ii)", "7 (b) (x)", "7 (b) (iv)", "1", "11 (c)"]
    assert sorted(numbers, key=natural_key) == ["1", "2", "7", "7 (a)", "7 (b)", "7 (b) (ii)", "7 (b) (iv)",
                                                 "7 (b) (x)", "10", "11 (c)"]
    assert [normalise_number(v) for v in ("Item 7(b)", " 07 ( B ) ", "12.", "7 b", "seven", "7 (b) (ii)")] == [
        "7 (b)", "7 (b)", "12", None, None, "7 (b) (ii)"]


def test_agenda_in_natural_order_with_documents_and_notes(app, staff_client):
    sid = add_session(app)
    for number in ("10", "7 (b)", "2", "7 (a)"):
        assert staff_client.post(f"/plenary/{sid}/items", data={"item-number": f"Item {number}",
                                                                 "item-title": f"About {number}"}).status_code == 302
    assert _items(app, sid) == [("2", "About 2", 1), ("7 (a)", "About 7 (a)", 2), ("7 (b)", "About 7 (b)", 3),
                                ("10", "About 10", 4)]
    html = staff_client.get(f"/plenary/{sid}").get_data(as_text=True)
    assert _agenda_rows(html) == ["2", "7 (a)", "7 (b)", "10"]


def test_paste_several_items(app, staff_client):
    sid = add_session(app)
    text = "1. Opening of the session\n\nItem 7 (b): Business and biodiversity assessment\n2 (a) Adoption of the agenda\n"
    response = staff_client.post(f"/plenary/{sid}/items/paste", data={"paste-lines": text}, follow_redirects=True)
    assert "3 items added to the agenda." in response.get_data(as_text=True)
    assert [(n, t) for n, t, _p in _items(app, sid)] == [("1", "Opening of the session"),
                                                         ("2 (a)", "Adoption of the agenda"),
                                                         ("7 (b)", "Business and biodiversity assessment")]
    bad = staff_client.post(f"/plenary/{sid}/items/paste", data={"paste-lines": "9 Fine\nno number here"})
    assert bad.status_code == 400
    assert "Line 2: start with the item number, then its title (7 (b) Title)." in bad.get_data(as_text=True)
    dup = staff_client.post(f"/plenary/{sid}/items/paste", data={"paste-lines": "9 Fine\n7(b) Again"})
    assert "Line 2: Item 7 (b) is already on the agenda." in dup.get_data(as_text=True)
    assert len(_items(app, sid)) == 3  # all or nothing


@pytest.mark.parametrize("number, title, message", [
    ("seven", "A title", "An item number looks like 7 or 7 (b)."),
    ("7 (b)", "", "This field is required."),
    ("7(b)", "Twice", "Item 7 (b) is already on the agenda."),
])
def test_a_bad_item_is_refused(app, staff_client, number, title, message):
    sid = add_session(app)
    add_item(app, sid, "7 (b)", "First")
    response = staff_client.post(f"/plenary/{sid}/items", data={"item-number": number, "item-title": title})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _items(app, sid) == [("7 (b)", "First", 1)]


def test_edit_an_item_reorders_the_agenda(app, staff_client):
    sid = add_session(app)
    first = add_item(app, sid, "3")
    add_item(app, sid, "5")
    form = staff_client.get(f"/plenary/items/{first}/edit").get_data(as_text=True)
    assert 'value="3"' in form and 'value="Title of item 3"' in form
    response = staff_client.post(f"/plenary/items/{first}/edit", data={"number": "8 (a)", "title": "Moved"})
    assert response.status_code == 302 and response.headers["Location"] == f"/plenary/{sid}#item-{first}"
    assert _items(app, sid) == [("5", "Title of item 5", 1), ("8 (a)", "Moved", 2)]
    clash = staff_client.post(f"/plenary/items/{first}/edit", data={"number": "5", "title": "Moved"})
    assert clash.status_code == 400 and "Item 5 is already on the agenda." in clash.get_data(as_text=True)


def test_remove_an_item_but_never_one_with_a_note(app, staff_client):
    sid = add_session(app)
    bare = add_item(app, sid, "3")
    noted = add_item(app, sid, "4")
    doc = add_document(app, sid, "IPBES/13/2", item=bare)
    add_note(app, noted)
    html = staff_client.get(f"/plenary/{sid}").get_data(as_text=True)
    assert f'action="/plenary/items/{bare}/delete" class="d-inline" data-confirm="Remove item 3 from the agenda?"' \
        in html
    assert f'/plenary/items/{noted}/delete' not in html  # no button where it would be refused

    refused = staff_client.post(f"/plenary/items/{noted}/delete", follow_redirects=True).get_data(as_text=True)
    assert "Item 4 has a position note: it cannot be removed." in refused
    done = staff_client.post(f"/plenary/items/{bare}/delete", follow_redirects=True).get_data(as_text=True)
    assert "Item 3 removed from the agenda." in done
    assert _items(app, sid) == [("4", "Title of item 4", 1)]
    assert _documents(app, sid) == [("IPBES/13/2", "Document IPBES/13/2", "", None)]  # the document stays
    assert doc


def test_documents_symbols_validated_and_normalised(app, staff_client):
    sid = session_id(app, "IPBES-12")
    item = add_item(app, sid, "7 (b)")
    ok = {"doc-symbol": " ipbes/12/inf/04 ", "doc-title": "Chapters", "doc-url": "https://www.ipbes.net/chapters",
          "doc-agenda_item_id": str(item)}
    assert staff_client.post(f"/plenary/{sid}/documents", data=ok).status_code == 302
    assert staff_client.post(f"/plenary/{sid}/documents", data={"doc-symbol": "IPBES/12/3",
                                                                "doc-title": "SPM"}).status_code == 302
    assert _documents(app, sid) == [("IPBES/12/3", "SPM", "", None),
                                    ("IPBES/12/INF/4", "Chapters", "https://www.ipbes.net/chapters", "7 (b)")]
    html = staff_client.get(f"/plenary/{sid}").get_data(as_text=True)
    documents = html.split('id="documents-h"', 1)[1]
    assert re.findall(r'<th scope="row" class="nowrap">(?:<a [^>]*>)?([^<]+)', documents) == [
        "IPBES/12/3", "IPBES/12/INF/4"]
    assert "Working document" in documents and "Information document" in documents
    agenda = html.split('id="agenda-h"', 1)[1].split('id="documents-h"', 1)[0]
    assert 'href="https://www.ipbes.net/chapters" rel="noopener noreferrer nofollow" target="_blank">IPBES/12/INF/4' \
        in agenda


@pytest.mark.parametrize("data, message", [
    ({"doc-symbol": "IPBES/12", "doc-title": "T"}, "A document symbol looks like IPBES/12/3 or IPBES/12/INF/4."),
    ({"doc-symbol": "UNEP/CBD/COP/16/1", "doc-title": "T"},
     "A document symbol looks like IPBES/12/3 or IPBES/12/INF/4."),
    ({"doc-symbol": "IPBES/11/3", "doc-title": "T"}, "The documents of IPBES-12 have symbols starting with IPBES/12/."),
    ({"doc-symbol": "IPBES/12/1", "doc-title": "T"}, "IPBES/12/1 is already in the list."),
    ({"doc-symbol": "IPBES/12/5", "doc-title": "T", "doc-url": "javascript:alert(1)"},
     "The link must be a web address starting with http:// or https://."),
    ({"doc-symbol": "IPBES/12/5", "doc-title": "T", "doc-url": "ftp://files.example.org/x"},
     "The link must be a web address starting with http:// or https://."),
    ({"doc-symbol": "IPBES/12/5", "doc-title": ""}, "This field is required."),
])
def test_a_bad_document_is_refused(app, staff_client, data, message):
    sid = session_id(app, "IPBES-12")
    add_document(app, sid, "IPBES/12/1", "Provisional agenda")
    response = staff_client.post(f"/plenary/{sid}/documents", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _documents(app, sid) == [("IPBES/12/1", "Provisional agenda", "", None)]


def test_a_document_cannot_point_at_another_sessions_item(app, staff_client):
    sid = session_id(app, "IPBES-12")
    other = add_item(app, add_session(app), "3")
    response = staff_client.post(f"/plenary/{sid}/documents", data={"doc-symbol": "IPBES/12/2", "doc-title": "T",
                                                                     "doc-agenda_item_id": str(other)})
    assert response.status_code == 400
    assert "Choose an item of this session's agenda." in unescape(response.get_data(as_text=True))
    assert _documents(app, sid) == []


def test_edit_and_remove_a_document(app, staff_client):
    sid = session_id(app, "IPBES-12")
    item = add_item(app, sid, "6")
    doc = add_document(app, sid, "IPBES/12/4", "Budget")
    form = staff_client.get(f"/plenary/documents/{doc}/edit").get_data(as_text=True)
    assert 'value="IPBES/12/4"' in form and f'<option value="{item}">6: Title of item 6</option>' in form
    response = staff_client.post(f"/plenary/documents/{doc}/edit", data={
        "symbol": "IPBES/12/INF/10", "title": "Contributions", "url": "http://example.org/c", "agenda_item_id": item})
    assert response.status_code == 302
    assert _documents(app, sid) == [("IPBES/12/INF/10", "Contributions", "http://example.org/c", "6")]
    page = staff_client.get(f"/plenary/{sid}").get_data(as_text=True)
    assert f'action="/plenary/documents/{doc}/delete" class="d-inline" data-confirm="Remove IPBES/12/INF/10 from ' \
           'the session?"' in page
    done = staff_client.post(f"/plenary/documents/{doc}/delete", follow_redirects=True).get_data(as_text=True)
    assert "IPBES/12/INF/10 removed." in done
    assert _documents(app, sid) == []


def test_a_document_of_an_approved_note_stays(app, staff_client):
    from focalpoint.extensions import db
    from focalpoint.positions.models import PositionNote, SessionDocument

    sid = session_id(app, "IPBES-12")
    item = add_item(app, sid, "6")
    doc = add_document(app, sid, "IPBES/12/4", "Budget", item=item)
    note = add_note(app, item, status="approved")
    with app.app_context():
        row = db.session.get(PositionNote, note)
        row.documents.append(db.session.get(SessionDocument, doc))
        db.session.commit()
    refused = staff_client.post(f"/plenary/documents/{doc}/delete", follow_redirects=True).get_data(as_text=True)
    assert "IPBES/12/4 is linked to an approved position note: reopen the note first." in refused
    assert len(_documents(app, sid)) == 1


def test_the_agenda_offers_to_write_a_note_or_links_to_it(app, staff_client):
    sid = add_session(app)
    bare = add_item(app, sid, "3")
    note = add_note(app, add_item(app, sid, "4"), status="in_review", versions=[{}, {}])
    html = staff_client.get(f"/plenary/{sid}").get_data(as_text=True)
    row3 = html.split(f'id="item-{bare}"', 1)[1].split("</tr>", 1)[0]
    assert f'<form method="post" action="/plenary/items/{bare}/note"' in row3 and "Write the position note" in row3
    row4 = html.split("<tr id=\"item-", 3)[2].split("</tr>", 1)[0]
    assert "In review" in row4 and f'href="/positions/{note}">Open the note</a>' in row4 and "version 2" in row4


def test_a_race_on_the_same_number_is_refused_without_an_error_page(app, staff_client, monkeypatch):
    """Two staff adding item 5 at once: the second insert hits the unique constraint and says so."""
    from focalpoint.positions import plenary_services

    sid = add_session(app)
    add_item(app, sid, "5", "First")
    real = plenary_services._check_item
    monkeypatch.setattr(plenary_services, "_check_item",
                        lambda session, item, number, title: (real(session, item, "99", title)[0] and "5", title))
    response = staff_client.post(f"/plenary/{sid}/items", data={"item-number": "5", "item-title": "Second"})
    assert response.status_code == 400
    assert "Someone else saved the same thing at the same moment: nothing was changed." in response.get_data(
        as_text=True)
    assert _items(app, sid) == [("5", "First", 1)]
