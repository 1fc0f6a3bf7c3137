"""Drafting a position note: every save a version, no-change saves, no lost updates, diffs, preview."""
from __future__ import annotations

import html as html_lib
import threading

import pytest
import sqlalchemy as sa

from position_helpers import TEXTS, ask_review, client_for, edit_data, make_note, make_session, note_row


@pytest.fixture
def world(app, make_user):
    make_user("stella@example.org", "staff", name="Stella Staff")
    make_user("sam@example.org", "staff", name="Sam Second")
    session = make_session(app)
    return {"session": session, "item": session["items"]["7 (b)"]}


def save(client, note_id, **changes):
    data = edit_data(client, note_id)
    data.update(changes)
    data["save"] = "Save"
    return client.post(f"/positions/{note_id}/edit", data=data)


def versions(app, note_id):
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteVersion

    with app.app_context():
        return [(v.number, v.author.email if v.author else None, v.summary, v.national_position) for v in
                db.session.scalars(sa.select(NoteVersion).where(NoteVersion.note_id == note_id)
                                   .order_by(NoteVersion.number))]


def test_staff_create_a_note_for_an_agenda_item(app, world):
    client = client_for(app, "stella@example.org")
    page = client.get(f"/plenary/items/{world['item']}/note")
    assert page.status_code == 200
    assert "Item 7 (b): Agenda item 7 (b) of IPBES-40" in page.get_data(as_text=True)
    response = client.post(f"/plenary/items/{world['item']}/note")
    assert response.status_code == 302
    note_id = int(response.headers["Location"].split("/")[2])
    assert response.headers["Location"] == f"/positions/{note_id}/edit"
    assert note_row(app, note_id) | {"version": None} == {
        "status": "draft", "current_version": 0, "version": None, "versions": 0, "background": "",
        "national_position": "", "eu_position": "", "fallback": "", "approved_at": None, "documents": []}
    # Asking again leads to the same note.
    again = client.post(f"/plenary/items/{world['item']}/note")
    assert again.headers["Location"] == f"/positions/{note_id}"
    assert client.get(f"/plenary/items/{world['item']}/note").headers["Location"] == f"/positions/{note_id}"
    assert client.get("/plenary/items/99999/note").status_code == 404


def test_every_save_is_a_version_with_author_time_and_summary(app, world):
    note_id = make_note(app, world["item"], texts={})
    stella, sam = client_for(app, "stella@example.org"), client_for(app, "sam@example.org")
    first = save(stella, note_id, national_position="Belgium welcomes the assessment.", summary="First draft")
    assert first.status_code == 302 and first.headers["Location"] == f"/positions/{note_id}"
    assert "Version 1 saved." in stella.get(first.headers["Location"]).get_data(as_text=True)
    second = save(sam, note_id, national_position="Belgium warmly welcomes the assessment.")
    assert second.status_code == 302
    assert versions(app, note_id) == [
        (1, "stella@example.org", "First draft", "Belgium welcomes the assessment."),
        (2, "sam@example.org", "", "Belgium warmly welcomes the assessment.")]
    row = note_row(app, note_id)
    assert (row["current_version"], row["national_position"]) == (2, "Belgium warmly welcomes the assessment.")
    page = stella.get(f"/positions/{note_id}").get_data(as_text=True)
    assert "Version 2, saved by Sam Second on" in page
    listing = stella.get(f"/positions/{note_id}/versions").get_data(as_text=True)
    assert "First draft" in listing and "Stella Staff" in listing and "Sam Second" in listing


def test_a_save_without_change_makes_no_version(app, world):
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    before = note_row(app, note_id)
    response = save(client, note_id)  # the form as loaded (textarea line ends come back as CRLF)
    assert response.status_code == 302
    assert "Nothing changed: no new version." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert note_row(app, note_id) == before
    # White space around a section is not a change either.
    assert save(client, note_id, fallback="\r\n" + TEXTS["fallback"] + "  \r\n\r\n").status_code == 302
    assert note_row(app, note_id) == before


def test_linking_documents_without_text_change_makes_no_version(app, world):
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    docs = world["session"]["documents"]
    response = save(client, note_id, documents=[str(docs["IPBES/40/3"]), str(docs["IPBES/40/INF/4"])])
    assert response.status_code == 302
    row = note_row(app, note_id)
    assert (row["versions"], row["documents"]) == (1, ["IPBES/40/3", "IPBES/40/INF/4"])
    page = client.get(f"/positions/{note_id}").get_data(as_text=True)
    assert "https://www.ipbes.net/documents/IPBES-40-INF-4" in page and "information document" in page


def test_documents_of_another_session_cannot_be_linked(app, world):
    other = make_session(app, code="IPBES-11", items=("3",), documents=(("IPBES/11/2", "3"),))
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    response = save(client, note_id, documents=[str(other["documents"]["IPBES/11/2"])])
    assert response.status_code == 422  # not among the form's choices
    assert note_row(app, note_id)["documents"] == []


def test_a_stale_edit_is_refused_with_the_other_change_shown(app, world):
    note_id = make_note(app, world["item"])
    stella, sam = client_for(app, "stella@example.org"), client_for(app, "sam@example.org")
    mine = edit_data(stella, note_id)  # Stella opens the form at version 1
    assert save(sam, note_id, national_position="Belgium supports the budget <of 2027>.",
                summary="Budget line").status_code == 302
    mine.update(national_position="Stella's own text.", save="Save")
    response = stella.post(f"/positions/{note_id}/edit", data=mine)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Not saved: someone else saved this note since you opened it" in page
    assert "Version 2 was saved by Sam Second on" in page and "Budget line" in page
    # Their change, escaped, in the diff; Stella's text kept in the form.
    assert "<ins>&lt;of 2027&gt;.</ins>" in page or "&lt;of 2027&gt;" in page
    assert "<of 2027>" not in page
    assert edit_data_from(page)["national_position"] == "Stella's own text."
    assert note_row(app, note_id)["national_position"] == "Belgium supports the budget <of 2027>."
    assert [v[0] for v in versions(app, note_id)] == [1, 2]
    # Saving again from the refusal is a knowing save over version 2.
    again = edit_data_from(page) | {"save": "Save", "csrf_token": mine.get("csrf_token", "")}
    assert stella.post(f"/positions/{note_id}/edit", data=again).status_code == 302
    assert note_row(app, note_id)["national_position"] == "Stella's own text."
    assert [v[0] for v in versions(app, note_id)] == [1, 2, 3]


def edit_data_from(page: str) -> dict:
    import re

    data = {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1) for name in ("version", "base")}
    for section in TEXTS:
        data[section] = html_lib.unescape(re.search(
            rf'<textarea[^>]*name="{section}"[^>]*>\r?\n?(.*?)</textarea>', page, re.S).group(1))
    return data


def test_a_save_that_loses_the_race_at_the_write_is_refused(app, world, monkeypatch):
    """Someone's save lands between our version check and our write: the database's version column refuses
    ours (StaleDataError), nothing of ours is kept and the form comes back with our text."""
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import PositionNote

    note_id = make_note(app, world["item"])
    real = svc.lock_note

    def racing(note):
        real(note)
        assert note.version  # our read ...
        # ... then another writer that ignored the row lock bumps the row under the ORM's feet.
        db.session.execute(sa.update(PositionNote).where(PositionNote.id == note.id)
                           .values(version=PositionNote.version + 1).execution_options(synchronize_session=False))

    monkeypatch.setattr(svc, "lock_note", racing)
    client = client_for(app, "stella@example.org")
    response = save(client, note_id, national_position="Mine, written meanwhile.")
    assert response.status_code == 409
    assert "Mine, written meanwhile." in response.get_data(as_text=True)
    row = note_row(app, note_id)
    assert (row["versions"], row["national_position"]) == (1, TEXTS["national_position"])


def test_two_editors_at_once_one_wins_the_other_is_refused(app, world):
    """Two browsers (two clients, two threads) on the same database save the same note at the same moment."""
    note_id = make_note(app, world["item"])
    clients = {"stella": client_for(app, "stella@example.org"), "sam": client_for(app, "sam@example.org")}
    forms = {name: edit_data(client, note_id) for name, client in clients.items()}
    texts = {"stella": "Stella: Belgium welcomes the assessment.", "sam": "Sam: Belgium notes the assessment."}
    barrier = threading.Barrier(2)
    results: dict = {}

    def run(name):
        data = forms[name] | {"national_position": texts[name], "save": "Save"}
        barrier.wait()
        response = clients[name].post(f"/positions/{note_id}/edit", data=data)
        results[name] = (response.status_code, response.get_data(as_text=True))

    threads = [threading.Thread(target=run, args=(name,)) for name in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(code for code, _body in results.values()) == [302, 409]
    winner = next(name for name, (code, _b) in results.items() if code == 302)
    loser = next(name for name in results if name != winner)
    row = note_row(app, note_id)
    assert (row["versions"], row["current_version"], row["national_position"]) == (2, 2, texts[winner])
    refused = results[loser][1]
    assert "Not saved: someone else saved this note since you opened it" in refused
    assert edit_data_from(refused)["national_position"] == texts[loser]  # the loser's text is kept
    assert html_lib.escape(texts[winner].split(": ")[1], quote=False).split(" ")[-1] in refused


def test_any_two_versions_are_compared_per_section(app, world):
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    save(client, note_id, national_position="Belgium welcomes the assessment.\n\nBelgium supports a <b>bigger</b> "
                                            "budget.")
    save(client, note_id, fallback="Accept the same budget.", background=TEXTS["background"] + "\n\nNew line.")
    page = client.get(f"/positions/{note_id}/diff?from=1&to=3")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Version 1 compared with version 3" in body
    assert "<b>bigger</b>" not in body and "&lt;b&gt;bigger&lt;/b&gt;" in body  # escaped
    assert "<ins>a &lt;b&gt;bigger&lt;/b&gt;</ins>" in body
    assert "<del>smaller</del>" in body and "<ins>same</ins>" in body
    assert "<ins>New line.</ins>" in body
    assert body.count('class="badge text-bg-warning">changed</span>') == 3
    assert body.count('unchanged</span>') == 1  # the EU position
    # Backwards works too; the default compares the last two.
    assert client.get(f"/positions/{note_id}/diff?from=3&to=1").status_code == 200
    latest = client.get(f"/positions/{note_id}/diff").get_data(as_text=True)
    assert "Version 2 compared with version 3" in latest
    # Bad numbers: a clear message, no error.
    for query in ("from=0&to=2", "from=1&to=9", "from=x&to=2"):
        response = client.get(f"/positions/{note_id}/diff?{query}")
        assert response.status_code in (200, 302), query
    bad = client.get(f"/positions/{note_id}/diff?from=1&to=9", follow_redirects=True).get_data(as_text=True)
    assert "Choose two versions between 1 and 3." in bad


def test_diff_rows_for_changed_lines(app):
    from focalpoint.positions.services import diff_text

    rows = diff_text("a\nb\nc", "a\nB b\nc\nd")
    assert [(r.kind, r.left_number, r.right_number) for r in rows] == [
        ("equal", 1, 1), ("replace", 2, 2), ("equal", 3, 3), ("insert", None, 4)]
    assert rows[1].left == [("b", False)] and rows[1].right == [("B ", True), ("b", False)]
    long = diff_text("\n".join(str(i) for i in range(20)), "\n".join(str(i) for i in range(19)) + "\nlast")
    assert [r.kind for r in long] == ["skip", "equal", "equal", "replace"]
    assert long[0].skipped == 17


def test_preview_renders_sanitised_and_saves_nothing(app, world):
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    data = edit_data(client, note_id) | {"national_position": "**Strong** <script>alert(1)</script> "
                                                              "[x](javascript:alert(1))", "preview": "Preview"}
    response = client.post(f"/positions/{note_id}/edit", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Preview (not saved)" in page
    assert "<strong>Strong</strong> &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and 'href="javascript' not in page
    assert edit_data_from(page)["national_position"].startswith("**Strong** <script>")  # still in the form
    assert note_row(app, note_id)["versions"] == 1


def test_the_note_page_shows_the_sanitised_rendering(app, world):
    note_id = make_note(app, world["item"], texts=TEXTS | {
        "eu_position": "The EU <img src=x onerror=alert(1)> agrees. [site](https://eu.example)"})
    page = client_for(app, "stella@example.org").get(f"/positions/{note_id}").get_data(as_text=True)
    assert "<strong>nexus assessment</strong>" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    assert '<a href="https://eu.example" rel="noopener noreferrer">site</a>' in page


def test_an_approved_note_cannot_be_edited(app, world, make_user):
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteStatus, PositionNote

    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    data = edit_data(client, note_id)
    with app.app_context():
        db.session.get(PositionNote, note_id).status = NoteStatus.APPROVED
        db.session.commit()
    assert client.get(f"/positions/{note_id}/edit").headers["Location"] == f"/positions/{note_id}"
    response = client.post(f"/positions/{note_id}/edit", data=data | {"fallback": "My late change", "save": "Save"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "The note was approved in the meantime and is locked: nothing was saved." in page
    assert edit_data_from(page)["fallback"] == "My late change"  # the typed text is not lost
    assert 'name="save"' not in page
    assert note_row(app, note_id)["fallback"] == TEXTS["fallback"]
    assert note_row(app, note_id)["versions"] == 1


def test_an_oversized_or_empty_form_loses_nothing(app, world):
    note_id = make_note(app, world["item"])
    client = client_for(app, "stella@example.org")
    data = edit_data(client, note_id)
    response = client.post(f"/positions/{note_id}/edit", data=data | {"fallback": "x" * 100_001, "save": "Save"})
    assert response.status_code == 422
    assert client.post(f"/positions/{note_id}/edit", data={}).status_code == 422
    assert note_row(app, note_id)["versions"] == 1


def test_a_new_version_tells_the_requested_reviewers(app, world, make_user):
    make_user("vera@vl.example", "reviewer", administration="BE-VL", name="Vera")
    note_id = make_note(app, world["item"])
    requests = ask_review(app, note_id, codes=("BE-VL",))
    client = client_for(app, "stella@example.org")
    assert save(client, note_id, fallback="Accept a budget cut of 10%.").status_code == 302
    from position_helpers import outbox

    mails = outbox(app, "position-new-version")
    assert [(m.to_addr, m.idem_key) for m in mails] == [
        ("vera@vl.example", f"position-review:{requests['BE-VL']}:v2:{mails[0].idem_key.rsplit(':', 1)[1]}")]
    assert "A new version (2) of the position note on Item 7 (b)" in mails[0].text_body
    assert f"http://focalpoint.test/positions/{note_id}/versions" in mails[0].text_body
    assert note_row(app, note_id)["status"] == "in_review"
