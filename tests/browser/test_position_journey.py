"""The position-note journey in a real headless Chromium, with real e-mail (aiosmtpd) caught in the test.

Staff open an upcoming plenary session, write the position note of an agenda item (Markdown, previewed),
ask the Flemish and the Walloon administrations to review it; the requests go out through SMTP; the Flemish
reviewer follows the link, comments on a paragraph and clears; the Walloon reviewer objects with a reason;
staff answer and revise (version 2, the reviewers are told); both clear; the note is approved and locked;
the clearance matrix says so and the briefing pack downloads and opens with python-docx. What is asserted is
what each person sees.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from conftest import PASSWORD
from smtp import SmtpCatcher
from tests.browser.test_journeys import flash_messages, log_in, nav_links
from tests.browser.test_nomination_journey import (  # noqa: F401 (new_page is a fixture)
    assert_clean, cells, deliver, long_en, new_page)

pytestmark = pytest.mark.browser

STAFF_EMAIL, STAFF_NAME = "stella@example.org", "Stella Staff"
VL_EMAIL, VL_NAME = "veerle@example.org", "Veerle Vlaams"
WAL_EMAIL, WAL_NAME = "wim@example.org", "Wim Wallon"
VL = "Flemish administration (Department of Environment)"
WAL = "Walloon administration (SPW Agriculture, Natural Resources and Environment)"
SESSION, PLACE = "IPBES-13", "Bordeaux, France"
ITEM_NUMBER, ITEM_TITLE = "7 (b)", "Work programme: the second global assessment"
ITEM = f"Item {ITEM_NUMBER}: {ITEM_TITLE}"
OTHER_NUMBER, OTHER_TITLE = "9", "Financial and budgetary arrangements"
DOC_SYMBOL, DOC_TITLE = "IPBES/13/3", "Scoping report for the second global assessment"
INF_SYMBOL, INF_TITLE = "IPBES/13/INF/4", "Information on the scoping process"

BACKGROUND = ("The plenary is asked to approve the scoping report of the **second global assessment**.\n\n"
              "The draft foresees a budget of 9 million dollars over four years.")
NATIONAL_V1 = "Belgium supports the approval of the scoping report *as drafted*."
NATIONAL_V2 = ("Belgium supports the approval of the scoping report, provided that chapter 4 covers "
               "land-use change in densely populated regions.")
EU_POSITION = "The EU coordination meets on the first day of the session."
FALLBACK = "Accept a later approval at the next session if the budget is not agreed."
COMMENT = "Is the budget in paragraph 2 the one of the latest draft?"
OBJECTION = "Chapter 4 must cover land-use change in densely populated regions."
ANSWER = "Yes: the budget is that of the draft of last month."


def medium_en(day: dt.date) -> str:
    """Babel's medium English date: "Dec 20, 2026"."""
    month, rest = long_en(day).split(" ", 1)
    return f"{month[:3]} {rest}"


@pytest.fixture
def smtp():
    with SmtpCatcher() as catcher:
        yield catcher


@pytest.fixture
def plenary(live_server, smtp):
    """Staff, one reviewer in the Flemish and one in the Walloon administration, an upcoming IPBES-13 with two
    agenda items and two documents; item 9 already has a note asked only of the federal environment
    administration (which has no reviewer account: nobody is e-mailed). SMTP points at the catcher."""
    import sqlalchemy as sa

    from focalpoint.auth.models import Administration
    from focalpoint.auth.services import create_user
    from focalpoint.extensions import db
    from focalpoint.positions import plenary_services as psvc
    from focalpoint.positions import services as nsvc

    app = live_server.app
    smtp.configure(app)
    app.config["BASE_URL"] = live_server.url  # the links in the e-mails lead to the live site
    today = dt.datetime.now(ZoneInfo(app.config["DISPLAY_TIMEZONE"])).date()
    start = today + dt.timedelta(days=60)
    live_server.add_user(STAFF_EMAIL, "staff", name=STAFF_NAME)
    with app.app_context():
        admins = {a.code: a for a in db.session.scalars(sa.select(Administration))}
        create_user(VL_EMAIL, roles=["reviewer"], password=PASSWORD, name=VL_NAME,
                    administration=admins["BE-VL"])
        create_user(WAL_EMAIL, roles=["reviewer"], password=PASSWORD, name=WAL_NAME,
                    administration=admins["BE-WAL"])
        session = psvc.create_session(code=SESSION, place=PLACE, start_date=start,
                                      end_date=start + dt.timedelta(days=5), actor=None)
        item = psvc.add_agenda_item(session, number=ITEM_NUMBER, title=ITEM_TITLE, actor=None)
        other = psvc.add_agenda_item(session, number=OTHER_NUMBER, title=OTHER_TITLE, actor=None)
        psvc.add_document(session, symbol=DOC_SYMBOL, title=DOC_TITLE, url="https://www.ipbes.net/ipbes-13/3",
                          agenda_item_id=item.id, actor=None)
        psvc.add_document(session, symbol=INF_SYMBOL, title=INF_TITLE, agenda_item_id=item.id, actor=None)
        other_note = nsvc.create_note(other, actor=None)
        nsvc.save_version(other_note, texts={"national_position": "Belgium asks for a flat budget."},
                          actor=None, expected_version=other_note.version)
        outcome = nsvc.request_review(other_note, [admins["BE-FED-ENV"]], today + dt.timedelta(days=10),
                                      actor=None)
        assert outcome.mailed == 0
        db.session.commit()
        ids = {"session": session.id, "item": item.id, "other_item": other.id, "other_note": other_note.id}
    return {"url": live_server.url, "app": app, "today": today, "start": start, "ids": ids}


def note_row(app, note_id: int) -> dict:
    from focalpoint.extensions import db
    from focalpoint.positions.models import PositionNote

    with app.app_context():
        note = db.session.get(PositionNote, note_id)
        row = {"status": note.status.value, "current_version": note.current_version,
               "national_position": note.national_position}
        db.session.remove()
        return row


def review_rows(page) -> dict[str, list[str]]:
    """The note's "Review and clearance" table: administration -> its cells' lines."""
    rows = page.locator("#reviews table tbody tr")
    return {r.locator("th").inner_text().strip(): [line.strip() for line in r.locator("td").first.inner_text()
                                                   .splitlines() if line.strip()] for r in rows.all()}


def log_in_from_link(page, link: str, email: str) -> None:
    """Follow the e-mail's link: the login page comes first, then the note."""
    page.goto(link)
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(link)


def decide(page, decision: str, reason: str = "") -> None:
    page.get_by_label(decision).check()
    if reason:
        page.get_by_label("Reason").fill(reason)
    with page.expect_navigation():
        page.get_by_role("button", name="Send the decision").click()


def body_blocks(path) -> list[tuple[str, str]]:
    """The DOCX body in order: ("<paragraph style>", text) and ("table", "cell | cell ...") per table row."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = Document(str(path))
    out = []
    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, doc)
            out.append((paragraph.style.name, paragraph.text))
        elif tag == "tbl":
            for row in Table(child, doc).rows:
                out.append(("table", " | ".join(c.text for c in row.cells)))
    return out


def test_staff_write_a_position_note_administrations_clear_it_and_the_briefing_pack_downloads(
        browser_page, new_page, plenary, smtp, tmp_path):  # noqa: F811
    page, base, ids, app = browser_page, plenary["url"], plenary["ids"], plenary["app"]
    today, start = plenary["today"], plenary["start"]
    due = today + dt.timedelta(days=21)

    # Staff find the upcoming session among the plenary sessions and open it.
    log_in(page, base, STAFF_EMAIL)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plenary").click()
    page.wait_for_url(base + "/plenary")
    assert page.get_by_role("heading", level=1).inner_text() == "Plenary sessions"
    row = page.locator("tbody tr").filter(has=page.get_by_role("link", name=SESSION, exact=True))
    assert row.locator("th").inner_text().strip() == f"{SESSION} upcoming"
    dates = f"{medium_en(start)} – {medium_en(start + dt.timedelta(days=5))}"
    assert cells(row) == [dates, PLACE, "2", "1", "0 / 1"]
    row.get_by_role("link", name=SESSION).click()
    page.wait_for_url(f"{base}/plenary/{ids['session']}")
    assert page.get_by_role("heading", level=1).inner_text() == SESSION
    agenda = page.locator("#agenda tbody tr")
    assert [r.locator("th").inner_text() for r in agenda.all()] == [ITEM_NUMBER, OTHER_NUMBER]
    item_row = page.locator(f"#item-{ids['item']}")
    assert item_row.locator("td").first.inner_text().splitlines() == [
        ITEM_TITLE, f"{DOC_SYMBOL} {DOC_TITLE}", f"{INF_SYMBOL} information {INF_TITLE}"]
    assert page.locator(f"#item-{ids['other_item']} td").nth(1).inner_text().strip() == (
        "In review Open the note version 1")

    # Write the note: four sections in Markdown, the working document linked; preview once, then save.
    item_row.get_by_role("button", name="Write the position note").click()
    page.wait_for_url(re.compile(re.escape(base) + r"/positions/\d+/edit$"))
    note_id = int(page.url.rsplit("/", 2)[1])
    note_url = f"{base}/positions/{note_id}"
    assert flash_messages(page) == ["Position note created: write its first version."]
    assert page.get_by_role("heading", level=1).inner_text() == "Edit the position note"
    assert page.locator("main p").filter(has_text=SESSION).first.inner_text() == f"{SESSION} · {ITEM}"
    page.get_by_label("Background", exact=True).fill(BACKGROUND)
    page.get_by_label("National position", exact=True).fill(NATIONAL_V1)
    page.get_by_label("EU position", exact=True).fill(EU_POSITION)
    page.get_by_label("Fallback", exact=True).fill(FALLBACK)
    page.get_by_label(f"{DOC_SYMBOL} — {DOC_TITLE}").check()
    page.get_by_label("What changed").fill("First draft")
    with page.expect_navigation(url=f"{note_url}/edit"):
        page.get_by_role("button", name="Preview").click()
    preview = page.locator("section[aria-labelledby=preview-h]")
    assert preview.get_by_role("heading", level=2).inner_text() == "Preview (not saved)"
    assert preview.locator("strong").inner_text() == "second global assessment"
    assert preview.locator("em").inner_text() == "as drafted"
    assert preview.locator("p").all_inner_texts()[:3] == [
        "The plenary is asked to approve the scoping report of the second global assessment.",
        "The draft foresees a budget of 9 million dollars over four years.",
        "Belgium supports the approval of the scoping report as drafted."]
    assert page.get_by_label("Background", exact=True).input_value() == BACKGROUND  # nothing lost
    assert page.get_by_label(f"{DOC_SYMBOL} — {DOC_TITLE}").is_checked()
    assert note_row(app, note_id)["current_version"] == 0  # the preview saved nothing
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(note_url)
    assert flash_messages(page) == ["Version 1 saved."]
    assert page.get_by_role("heading", level=1).inner_text() == f"{SESSION} · {ITEM}"
    status = page.locator("main p").filter(has_text="Version 1, saved by").inner_text()
    assert re.fullmatch(r"Draft · Version 1, saved by Stella Staff on .+ · First draft", status), status
    assert page.locator("#p-background-2").inner_text().splitlines()[-1] == (
        "The draft foresees a budget of 9 million dollars over four years.")
    assert page.locator("#section-national_position em").inner_text() == "as drafted"
    assert page.locator("section[aria-labelledby=documents-h] li").all_inner_texts() == [
        f"{DOC_SYMBOL} — {DOC_TITLE}"]
    assert page.locator("#reviews p").first.inner_text() == "No administration asked yet."

    # Ask the Flemish and the Walloon administrations to review it by a due date.
    page.get_by_label(VL).check()
    page.get_by_label(WAL).check()
    page.get_by_label("Due date").fill(due.isoformat())
    page.get_by_role("button", name="Ask for review").click()
    page.wait_for_url(f"{note_url}#reviews")
    assert flash_messages(page) == [f"Review asked of {VL}, {WAL} by {medium_en(due)}; 2 e-mail(s) queued."]
    assert page.locator("main p .badge").first.inner_text() == "In review"
    assert review_rows(page) == {VL: ["Awaiting decision"], WAL: ["Awaiting decision"]}
    assert_clean(page)

    # The outbox goes out through SMTP: one request per reviewer, each with the link to the note.
    assert smtp.messages == []
    assert deliver(app) == {"sent": 2, "failed": 0, "dead": 0, "skipped": 0}
    assert sorted(rcpt for _, [rcpt] in smtp.envelopes) == [VL_EMAIL, WAL_EMAIL]
    links = {}
    for msg, (_, [rcpt]) in zip(smtp.messages, smtp.envelopes):
        assert msg["Subject"] == f"Position note to review: {ITEM} ({SESSION})"
        assert msg["To"].addresses[0].addr_spec == rcpt
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        name, admin = (VL_NAME, VL) if rcpt == VL_EMAIL else (WAL_NAME, WAL)
        assert text.startswith(f"Dear {name},")
        assert f"asks {admin} to review the position note on {ITEM} for {SESSION} (version 1)" in text
        assert f"by {long_en(due)}" in text
        [link] = re.findall(r"http://127\.0\.0\.1:\d+/positions/\d+", text)
        assert link == note_url
        assert f'href="{link}"' in html
        links[rcpt] = link

    # The Flemish reviewer follows the link, logs in, comments on paragraph 2 of the background, and clears.
    veerle = new_page()
    log_in_from_link(veerle, links[VL_EMAIL], VL_EMAIL)
    nav = nav_links(veerle)
    assert "Position notes" in nav and "Plenary" not in nav and "Experts" not in nav
    assert veerle.get_by_role("heading", level=1).inner_text() == f"{SESSION} · {ITEM}"
    mine = veerle.locator("#reviews .card").filter(has_text="Your administration")
    assert mine.locator("p").first.inner_text().startswith(f"To clear · due {medium_en(due)}")
    assert veerle.locator("#comments").get_by_text("No comment yet.").is_visible()
    veerle.get_by_role("link", name="Comment on Background, paragraph 2").click()
    veerle.wait_for_url(re.compile(re.escape(note_url) + r"\?on=background(:|%3A)2#comment-form$"))
    assert veerle.get_by_label("About").input_value() == "background:2"
    assert veerle.locator("#comment-form h3").inner_text() == "Comment on version 1"
    veerle.get_by_label("Comment", exact=True).fill(COMMENT)
    veerle.get_by_role("button", name="Send the comment").click()
    veerle.wait_for_url(f"{note_url}#comments")
    assert flash_messages(veerle) == ["Your comment is recorded."]
    thread = veerle.locator("#comments article")
    assert thread.count() == 1
    assert thread.locator("p").first.inner_text().startswith(
        f"Background, paragraph 2 · version 1 · {VL} · {VL_NAME}")
    assert thread.locator("blockquote").inner_text() == (
        "The draft foresees a budget of 9 million dollars over four years.")
    assert thread.locator(".pre-wrap").nth(1).inner_text() == COMMENT
    decide(veerle, "Clear this version")
    assert flash_messages(veerle) == ["Your administration cleared version 1."]
    assert mine.locator(".badge").first.inner_text() == "Cleared"
    assert review_rows(veerle)[VL] == ["Cleared", "Cleared: version 1"]
    # The other note of the session was not asked of the Flemish administration: it does not exist for them.
    assert veerle.request.get(f"{base}/positions/{ids['other_note']}").status == 404
    assert veerle.request.get(f"{base}/positions/{ids['other_note']}/versions").status == 404
    assert veerle.request.get(f"{base}/plenary/{ids['session']}/clearance").status in (403, 404)
    veerle.get_by_role("navigation", name="Main").get_by_role("link", name="Position notes").click()
    veerle.wait_for_url(base + "/positions")
    assert veerle.get_by_role("heading", level=1).inner_text() == "Position notes to review"
    listed = veerle.locator("main table tbody tr")
    assert listed.count() == 1
    assert cells(listed.first)[:4] == [SESSION, ITEM, "Cleared", "1"]
    assert_clean(veerle)

    # The Walloon reviewer objects: a reason is required, then the objection is recorded.
    wim = new_page()
    log_in_from_link(wim, links[WAL_EMAIL], WAL_EMAIL)
    assert wim.locator("#comments").get_by_text("No comment yet.").is_visible()  # not the Flemish comment
    decide(wim, "Object to this version")
    assert flash_messages(wim) == ["Say why your administration objects."]
    # The refused form answers 422, which Chromium logs; that one expected line is all it may log.
    assert [e.split(": ", 1)[1] for e in wim.console_log.errors] == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    assert wim.console_log.errors[0].startswith(f"{note_url}/clearance: ")
    wim.console_log.errors.clear()
    decide(wim, "Object to this version", OBJECTION)
    assert flash_messages(wim) == ["Your administration's objection to version 1 is recorded."]
    assert review_rows(wim)[WAL] == ["Objected", "Objected: version 1", OBJECTION]
    assert_clean(wim)

    # Staff see the comment and the objection; they answer the comment and revise: version 2.
    page.reload()
    assert review_rows(page) == {VL: ["Cleared", "Cleared: version 1"],
                                 WAL: ["Objected", "Objected: version 1", OBJECTION]}
    decisions = page.locator("section[aria-labelledby=decisions-h] li").all_inner_texts()
    assert [d.split(" · ", 1)[1] for d in decisions] == [  # newest first
        f"BE-WAL · Objected version 1 · {WAL_NAME}: {OBJECTION}", f"BE-VL · Cleared version 1 · {VL_NAME}"]
    thread = page.locator("#comments article")
    assert thread.locator(".pre-wrap").nth(1).inner_text() == COMMENT
    thread.locator("summary", has_text="Answer").click()
    thread.get_by_label("Answer").fill(ANSWER)
    thread.get_by_role("button", name="Send the answer").click()
    page.wait_for_url(re.compile(re.escape(note_url) + r"#comment-\d+$"))
    assert flash_messages(page) == ["Your answer is recorded."]
    assert page.locator("#comments article .border-start .pre-wrap").inner_text() == ANSWER
    page.get_by_role("link", name="Edit", exact=True).click()
    page.wait_for_url(f"{note_url}/edit")
    assert page.get_by_label("National position", exact=True).input_value() == NATIONAL_V1
    page.get_by_label("National position", exact=True).fill(NATIONAL_V2)
    page.get_by_label("What changed").fill("Answers the Walloon objection")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(note_url)
    assert flash_messages(page) == ["Version 2 saved."]
    assert page.locator("#section-national_position p").inner_text() == NATIONAL_V2
    assert review_rows(page) == {VL: ["Cleared an older version", "Cleared: version 1"],
                                 WAL: ["Awaiting decision", "Objected: version 1", OBJECTION]}
    assert page.get_by_role("link", name="Last change").is_visible()
    assert_clean(page)

    # Both reviewers are told that version 2 awaits their clearance.
    assert deliver(app)["sent"] == 2
    new_version = smtp.messages[2:]
    assert sorted(m["To"].addresses[0].addr_spec for m in new_version) == [VL_EMAIL, WAL_EMAIL]
    for msg in new_version:
        assert msg["Subject"] == f"New version to clear: {ITEM} ({SESSION})"
        assert note_url in msg.get_body(("plain",)).get_content()

    # The Flemish reviewer sees what changed and clears version 2; then the Walloon reviewer clears it.
    veerle.goto(note_url)
    assert mine.locator(".badge").first.inner_text() == "New version to clear"
    veerle.get_by_role("link", name="What changed since version 1").click()
    veerle.wait_for_url(f"{note_url}/diff?from=1&to=2")
    assert veerle.get_by_role("heading", level=1).inner_text() == "Version 1 compared with version 2"
    changed = veerle.locator("section[aria-labelledby$='-h']:has(.badge:text-is('changed'))")
    assert changed.locator("h3").all_inner_texts() == ["National position changed"]
    assert "densely populated regions" in " ".join(changed.locator("ins").all_inner_texts())
    assert changed.locator("del").all_inner_texts() != []
    veerle.goto(note_url)
    assert veerle.locator("#comments article .border-start .pre-wrap").inner_text() == ANSWER
    decide(veerle, "Clear this version")
    assert flash_messages(veerle) == ["Your administration cleared version 2."]
    assert note_row(app, note_id)["status"] == "in_review"
    wim.goto(note_url)
    assert wim.locator("#reviews .card .badge").first.inner_text() == "New version to clear"
    decide(wim, "Clear this version")
    assert flash_messages(wim) == ["Your administration cleared version 2.",
                                   "Every administration asked has cleared: the note is approved."]
    assert wim.locator("#clearance-form").count() == 0  # locked: no decision any more
    assert wim.get_by_role("link", name=re.compile(r"^Comment on ")).count() == 0
    assert_clean(veerle, wim)

    # Staff see the note approved and locked: no edit button, the edit page sends them back, a POST is
    # refused.
    page.reload()
    assert page.locator("main p .badge").first.inner_text() == "Approved"
    assert re.fullmatch(
        r"Approved on .+: every administration asked cleared version 2\. The note is locked\.",
        page.locator("main .alert-success").inner_text())
    assert page.get_by_role("link", name="Edit", exact=True).count() == 0
    assert page.get_by_role("button", name="Reopen").is_visible()
    assert review_rows(page) == {VL: ["Cleared", "Cleared: version 2"],
                                 WAL: ["Cleared", "Cleared: version 2"]}
    page.goto(f"{note_url}/edit")
    page.wait_for_url(note_url)
    assert flash_messages(page) == ["The note is approved and locked: reopen it to change it."]
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{note_url}/edit", form={
        "csrf_token": token, "version": "99", "base": "2", "background": "Overwritten",
        "national_position": "Belgium opposes everything.", "eu_position": "", "fallback": "",
        "save": "Save"})
    assert refused.status == 409
    assert "The note was approved in the meantime and is locked: nothing was saved." in refused.text()
    assert note_row(app, note_id) == {"status": "approved", "current_version": 2,
                                      "national_position": NATIONAL_V2}
    assert_clean(page)

    # The clearance matrix of the session: the note approved, both administrations cleared.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plenary").click()
    page.get_by_role("link", name=SESSION, exact=True).click()
    page.wait_for_url(f"{base}/plenary/{ids['session']}")
    assert page.locator(f"#item-{ids['item']} td").nth(1).inner_text().strip() == (
        "Approved Open the note version 2")
    page.get_by_role("link", name="Clearance matrix").click()
    page.wait_for_url(f"{base}/plenary/{ids['session']}/clearance")
    assert page.get_by_role("heading", level=1).inner_text() == (
        f"Clearance of the position notes for {SESSION}")
    matrix = page.locator("table.clearance-matrix")
    headers = [h.strip() for h in matrix.locator("thead th").all_inner_texts()]
    assert headers == ["Agenda item", "Note", "BE-BXL", "BE-FED-ENV", "BE-FED-FA", "BE-VL", "BE-WAL"]
    rows = matrix.locator("tbody tr")
    assert rows.nth(0).locator("th").inner_text() == f"{ITEM_NUMBER} {ITEM_TITLE}"
    assert rows.nth(0).locator("td").nth(0).inner_text().strip() == "Approved version 2"
    states = rows.nth(0).locator("td[data-state]").evaluate_all("els => els.map(e => e.dataset.state)")
    assert states == ["not_requested", "not_requested", "not_requested", "cleared", "cleared"]
    vl_cell = rows.nth(0).locator("td[data-state]").nth(3).inner_text().splitlines()
    assert [line.strip() for line in vl_cell] == ["✓ Cleared", f"due {medium_en(due)}", VL_NAME]
    assert rows.nth(1).locator("td[data-state]").evaluate_all("els => els.map(e => e.dataset.state)") == [
        "not_requested", "pending", "not_requested", "not_requested", "not_requested"]
    assert_clean(page)

    # The briefing pack downloads from the page and opens with python-docx.
    with page.expect_download() as info:
        page.locator("main").get_by_role("link", name="Briefing pack (DOCX)").click()
    download = info.value
    assert download.suggested_filename == f"briefing-{SESSION}.docx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    blocks = body_blocks(path)
    assert blocks[:2] == [("Title", "Briefing pack"), ("Subtitle", SESSION)]
    headings = [i for i, (style, _) in enumerate(blocks) if style == "Heading 1"]
    assert [blocks[i][1] for i in headings] == ["Contents", ITEM, f"Item {OTHER_NUMBER}: {OTHER_TITLE}"]
    contents = [text for style, text in blocks[headings[0] + 1:headings[1]] if style == "List Bullet"]
    assert contents == [f"{ITEM} — Approved", f"Item {OTHER_NUMBER}: {OTHER_TITLE} — DRAFT (In review)"]
    ours = blocks[headings[1]:headings[2]]
    texts = [text for _, text in ours]
    assert not any("DRAFT" in text for text in texts), texts
    approved = r"Approved position \(version 2, approved on \w+ \d{1,2}, \d{4}\)\."
    assert any(re.fullmatch(approved, t) for t in texts)
    national = texts.index("National position")
    assert texts[national + 1] == NATIONAL_V2
    assert "The plenary is asked to approve the scoping report of the second global assessment." in texts
    assert f"{DOC_SYMBOL} | {DOC_TITLE} | https://www.ipbes.net/ipbes-13/3" in texts
    cleared = [t for t in texts if t.startswith(("BE-VL", "BE-WAL"))]
    assert [t.split(" | ")[:2] for t in cleared] == [[f"BE-VL — {VL}", "Cleared"],
                                                     [f"BE-WAL — {WAL}", "Cleared"]]
    assert any("DRAFT" in text for _, text in blocks[headings[2]:])  # the other item is still a draft
    assert_clean(page, veerle, wim)
