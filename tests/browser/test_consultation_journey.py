"""The consultation journey in a real headless Chromium, with real e-mail (aiosmtpd) caught in the test.

Staff open a consultation on a second order draft (a PDF chapter and a link to the SPM) and invite two
experts from the registry; the invitations go out through SMTP. Anna comments in the browser through the
personal link of her e-mail and edits a comment; Bram downloads the template prefilled with his name,
fills it in (a formula-looking comment and a row with a bad page) and uploads it, then sends the corrected
row again. Staff consolidate (adopt, adopt edited, merge a duplicate) and download the export, which the
test opens with openpyxl and checks row by row. What is asserted is what each person sees.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from smtp import SmtpCatcher
from tests.browser.conftest import ConsoleLog
from tests.browser.test_journeys import flash_messages, log_in

pytestmark = pytest.mark.browser

STAFF_EMAIL, STAFF_NAME = "stella@example.org", "Stella Staff"
TITLE = "Second global assessment: national review of the second order draft"
CONFIDENTIALITY = "Drafts are confidential: do not cite or distribute."
TEMPLATE_COLUMNS = ["Reviewer", "Email", "Affiliation", "Country", "Document", "Chapter", "From page",
                    "From line", "To page", "To line", "Comment", "Suggested change", "Type"]
#: (first, last, e-mail, consented to be contacted)
EXPERTS = [
    ("Anna", "Aerts", "anna.aerts@example.org", True),
    ("Bram", "Bosmans", "bram.bosmans@example.org", True),
    ("Chris", "Claes", "chris.claes@example.org", False),
]
PDF_BYTES = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
             b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
             b"trailer << /Root 1 0 R >>\n%%EOF\n")
SPM_URL = "https://www.ipbes.net/global-assessment-2/sod-spm"
LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/review/[A-Za-z0-9_\-]+")

# Anna's comments (typed in the browser).
TYPO = "Typo: “ecosytem” should read “ecosystem”."
OUTDATED = "The land-use figures for 2015 are outdated."
OUTDATED_EDITED = "The land-use figures for 2015 are outdated: use the 2020 national inventory."
OUTDATED_CHANGE = "Replace Table 2.3 with the 2020 inventory."
# Bram's rows (in the template).
FORMULA = "=SUM(A1:A2) is wrong"
FORMULA_CHANGE = "+ add the 2019 totals"
DUPLICATE = "The 2015 land-use data in Table 2.3 are out of date."
# Staff's wording of the merged point.
ADOPTED = "Update the 2015 land-use figures in Table 2.3 with the 2020 national inventory (Statbel)."


@pytest.fixture
def smtp():
    with SmtpCatcher() as catcher:
        yield catcher


@pytest.fixture
def new_page(chromium):
    """Fresh browser contexts (no cookies), like another person's browser; each page logs console errors."""
    contexts = []

    def make():
        context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                       timezone_id="Europe/Brussels", accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        log = ConsoleLog()
        page.on("console", log.on_console)
        page.on("pageerror", log.on_page_error)
        page.console_log = log
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def registry(live_server, smtp):
    """Staff, three experts in the registry (Chris has not consented to be contacted), SMTP pointed at the
    catcher and the site's links at the live server."""
    from focalpoint.experts import services as xsvc
    from focalpoint.extensions import db

    app = live_server.app
    smtp.configure(app)
    app.config["BASE_URL"] = live_server.url  # the links in the e-mails lead to the live site
    today = dt.datetime.now(ZoneInfo(app.config["DISPLAY_TIMEZONE"])).date()
    live_server.add_user(STAFF_EMAIL, "staff", name=STAFF_NAME)
    ids = {}
    with app.app_context():
        for first, last, email, consented in EXPERTS:
            expert = xsvc.create_expert(
                {"first_name": first, "last_name": last, "email": email,
                 "affiliation": f"University of {last}", "region": "flanders", "preferred_language": "en"},
                actor=None)
            if consented:
                xsvc.give_consent(expert, contact=True, processing=True, actor=None)
            ids[first] = expert.id
        db.session.commit()
    return {"url": live_server.url, "app": app, "today": today, "ids": ids}


def deliver(app) -> dict:
    from focalpoint.mail import deliver_outbox

    with app.app_context():
        return deliver_outbox()


def cells(row) -> list[str]:
    return [c.inner_text().strip() for c in row.locator("td").all()]


def assert_clean(*pages) -> None:
    for page in pages:
        assert page.console_log.errors == [], page.url
        assert page.console_log.csp == [], page.url


def own_comments(page) -> list[str]:
    """The texts of the comments on an expert's workspace, in order."""
    return [t.strip() for t in page.locator("article.own-comment .comment-text").all_inner_texts()]


def fill_template(path, rows: list[dict]) -> None:
    """Fill ``rows`` ({column: value}) into the downloaded template from its second row on, as text."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Comments"]
    columns = {cell.value: cell.column for cell in ws[1]}
    for number, values in enumerate(rows, 2):
        for column, value in values.items():
            cell = ws.cell(row=number, column=columns[column])
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # typed as text (openpyxl would store "=…" as a formula)
    wb.save(path)


def test_staff_open_a_consultation_experts_comment_and_the_export_holds_the_consolidated_table(
        browser_page, new_page, registry, smtp, tmp_path):
    from openpyxl import load_workbook

    page, base, today, app = browser_page, registry["url"], registry["today"], registry["app"]
    closes = today + dt.timedelta(days=21)

    # Staff create the consultation through the form.
    log_in(page, base, STAFF_EMAIL)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Consultations").click()
    page.wait_for_url(base + "/consultations")
    page.get_by_role("link", name="New consultation").click()
    page.wait_for_url(base + "/consultations/new")
    assert page.get_by_role("heading", level=1).inner_text() == "New consultation"
    assert page.get_by_label("Draft", exact=True).evaluate("s => s.options[s.selectedIndex].text") == (
        "Second order draft")
    assert page.get_by_label("Opens on").input_value() == today.isoformat()
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("IPBES deliverable").select_option(label="Second global assessment")
    page.get_by_label("Closes on").fill(closes.isoformat())
    page.get_by_label("Confidentiality note").fill(CONFIDENTIALITY)
    page.get_by_role("button", name="Create the consultation").click()
    page.wait_for_url(re.compile(re.escape(base) + r"/consultations/\d+$"))
    detail_url = page.url
    cid = int(detail_url.rsplit("/", 1)[1])
    assert flash_messages(page) == ["Consultation created. Add its documents, then invite experts."]
    assert page.get_by_role("heading", level=1).inner_text() == TITLE
    assert page.locator("main > p").first.inner_text() == (
        "Open Second order draft · Deliverable: Second global assessment")
    assert page.locator("#participants").get_by_text("No expert invited yet.").is_visible()

    # Two documents: the chapter as an uploaded PDF, the SPM as a link.
    documents = page.locator("#documents")
    pdf = tmp_path / "sod-chapter-2.pdf"
    pdf.write_bytes(PDF_BYTES)
    documents.get_by_label("Title", exact=True).fill("Chapter 2")
    documents.get_by_label("File (PDF or Word .docx)").set_input_files(str(pdf))
    with page.expect_navigation(url=detail_url + "#documents"):
        documents.get_by_role("button", name="Add the document").click()
    assert flash_messages(page) == ["Document added: Chapter 2."]
    documents.locator("summary", has_text="Add a document").click()
    documents.get_by_label("Title", exact=True).fill("Summary for policymakers")
    documents.get_by_label("or a link (https://…)").fill(SPM_URL)
    with page.expect_navigation(url=detail_url + "#documents"):
        documents.get_by_role("button", name="Add the document").click()
    assert flash_messages(page) == ["Document added: Summary for policymakers."]
    assert [cells(r)[:2] for r in documents.locator("tbody tr").all()] == [
        ["Chapter 2", "sod-chapter-2.pdf (0.0 MB)"], ["Summary for policymakers", SPM_URL]]

    # Invite Anna and Bram from the registry; Chris cannot be invited (no consent).
    page.get_by_role("link", name="Invite experts").first.click()
    page.wait_for_url(f"{base}/consultations/{cid}/invite")
    assert page.get_by_role("heading", level=1).inner_text() == "Invite experts to review"
    rows = {cells(r)[1]: cells(r)[-1] for r in page.locator("main table tbody tr").all()}
    assert rows == {"Aerts, Anna": "yes", "Bosmans, Bram": "yes",
                    "Claes, Chris": "has not consented to be contacted"}
    assert page.get_by_label("Select Chris Claes").is_disabled()
    page.get_by_label("Select Anna Aerts").check()
    page.get_by_label("Select Bram Bosmans").check()
    page.get_by_role("button", name="Invite the checked experts").click()
    page.wait_for_url(detail_url + "#participants")
    assert flash_messages(page) == ["2 experts invited; the invitations are on their way."]
    participants = [cells(r)[:3] for r in page.locator("#participants tbody tr").all()]
    assert [(p[0], p[1].split()[0], p[2]) for p in participants] == [
        ("Anna Aerts\nanna.aerts@example.org", "sent", "0"),
        ("Bram Bosmans\nbram.bosmans@example.org", "sent", "0")]
    assert_clean(page)

    # The invitations go out through SMTP, each with its own personal link.
    assert smtp.messages == []
    assert deliver(app) == {"sent": 2, "failed": 0, "dead": 0, "skipped": 0}
    links = {}
    for msg, (_, rcpt) in zip(smtp.messages, smtp.envelopes):
        assert msg["Subject"] == f"Invitation to review: {TITLE}"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        [link] = LINK_RE.findall(text)
        assert f'href="{link}"' in html
        assert "Documents: Chapter 2, Summary for policymakers" in text
        assert f"Confidentiality: {CONFIDENTIALITY}" in text
        links[rcpt[0]] = link
    assert sorted(links) == ["anna.aerts@example.org", "bram.bosmans@example.org"]
    assert len(set(links.values())) == 2

    # Anna opens her link (no account) and types two comments.
    anna = new_page()
    anna.goto(links["anna.aerts@example.org"])
    anna_url = anna.url
    assert anna.get_by_role("heading", level=1).inner_text() == TITLE
    assert anna.locator("main > p").first.inner_text() == (
        "Your review workspace, Anna Aerts: only you and the national focal point see your comments.")
    assert anna.locator("section.confidentiality p").inner_text() == CONFIDENTIALITY
    assert anna.locator("ul.documents a").all_inner_texts() == ["Chapter 2", "Summary for policymakers"]
    assert anna.locator("#mine-h").inner_text() == "Your comments 0"

    def comment(who, document, page_from, line_from, text, *, kind, chapter="", page_to="", line_to="",
                change=""):
        who.get_by_label("Document", exact=True).select_option(label=document)
        who.get_by_label("Chapter or section").fill(chapter)
        who.get_by_label("Type", exact=True).select_option(label=kind)
        who.get_by_label("From page").fill(page_from)
        who.get_by_label("From line").fill(line_from)
        who.get_by_label("To page").fill(page_to)
        who.get_by_label("To line").fill(line_to)
        who.get_by_label("Comment", exact=True).fill(text)
        who.get_by_label("Suggested change (optional)").fill(change)
        with who.expect_navigation():
            who.get_by_role("button", name="Save the comment").click()

    comment(anna, "Summary for policymakers", "2", "1", TYPO, kind="Editorial", change="ecosystem")
    assert flash_messages(anna) == ["Your comment is saved."]
    comment(anna, "Chapter 2", "14", "3", OUTDATED, kind="Specific", chapter="2.3 Drivers", line_to="6",
            change=OUTDATED_CHANGE)
    assert flash_messages(anna) == ["Your comment is saved."]
    # Her own comments in the template's order: the chapter (first document) before the SPM.
    assert own_comments(anna) == [OUTDATED, TYPO]
    assert anna.locator("article.own-comment h3").first.inner_text() == (
        "Chapter 2 · 2.3 Drivers p. 14, l. 3 – l. 6 Specific")

    # She corrects the first one once: the lines and the wording.
    anna.locator("article.own-comment").first.get_by_role("link", name="Edit").click()
    anna.wait_for_url(re.compile(re.escape(anna_url) + r"/comments/\d+/edit$"))
    assert anna.get_by_role("heading", level=1).inner_text() == "Edit your comment"
    assert anna.get_by_label("Comment", exact=True).input_value() == OUTDATED
    assert anna.get_by_label("Document", exact=True).evaluate(
        "s => s.options[s.selectedIndex].text") == "Chapter 2"
    anna.get_by_label("To line").fill("8")
    anna.get_by_label("Comment", exact=True).fill(OUTDATED_EDITED)
    with anna.expect_navigation():
        anna.get_by_role("button", name="Save the comment").click()
    assert flash_messages(anna) == ["Your comment is saved."]
    assert own_comments(anna) == [OUTDATED_EDITED, TYPO]
    assert anna.locator("article.own-comment h3").first.inner_text() == (
        "Chapter 2 · 2.3 Drivers p. 14, l. 3 – l. 8 Specific")
    assert anna.locator("#mine-h").inner_text() == "Your comments 2"
    assert_clean(anna)

    # Bram opens his link and downloads the template, prefilled with who he is.
    bram = new_page()
    bram.goto(links["bram.bosmans@example.org"])
    assert bram.locator("main > p").first.inner_text() == (
        "Your review workspace, Bram Bosmans: only you and the national focal point see your comments.")
    assert own_comments(bram) == []
    with bram.expect_download() as info:
        bram.get_by_role("link", name="Download the review template (.xlsx)").click()
    download = info.value
    assert download.suggested_filename == f"consultation-{cid}-template.xlsx"
    template = tmp_path / "bram.xlsx"
    download.save_as(template)
    wb = load_workbook(template)
    assert wb.sheetnames == ["Comments", "Instructions"]
    assert [c.value for c in wb["Comments"][1]] == TEMPLATE_COLUMNS
    assert [c.value for c in wb["Comments"][2]][:5] == [
        "Bram Bosmans", "bram.bosmans@example.org", "University of Bosmans", "Belgium", None]
    wb.close()
    corrected = tmp_path / "bram-row-3.xlsx"
    corrected.write_bytes(template.read_bytes())

    # Two rows: a comment that looks like a formula, and one whose page is written in words.
    fill_template(template, [
        {"Document": "Chapter 2", "Chapter": "2.1", "From page": 12, "From line": 5, "To line": 9,
         "Comment": FORMULA, "Suggested change": FORMULA_CHANGE, "Type": "General"},
        {"Document": "Chapter 2", "From page": "twelve", "From line": 4, "Comment": DUPLICATE,
         "Type": "Specific"},
    ])
    bram.get_by_label("The filled review template (.xlsx)").set_input_files(str(template))
    with bram.expect_navigation():
        bram.get_by_role("button", name="Send the file").click()
    assert flash_messages(bram) == ["1 comment imported."]
    report = bram.locator(".import-report")
    assert report.locator("p").all_inner_texts() == [
        "1 comment imported.",
        "1 row has problems and was not imported: correct it in the file and send only that row again."]
    assert [cells(r) for r in report.locator("table.import-errors tbody tr").all()] == [
        ["3", "From page", "From page must be a whole number, not “twelve”."]]
    assert own_comments(bram) == [FORMULA]

    # He corrects the row and sends only that one again.
    fill_template(corrected, [{"Document": "Chapter 2", "Chapter": "2.3", "From page": 14, "From line": 4,
                               "Comment": DUPLICATE, "Type": "Specific"}])
    bram.get_by_label("The filled review template (.xlsx)").set_input_files(str(corrected))
    with bram.expect_navigation():
        bram.get_by_role("button", name="Send the file").click()
    assert flash_messages(bram) == ["1 comment imported."]
    assert bram.locator(".import-report table.import-errors").count() == 0
    assert own_comments(bram) == [FORMULA, DUPLICATE]
    assert bram.locator("#mine-h").inner_text() == "Your comments 2"
    for text in (OUTDATED_EDITED, TYPO, "Anna Aerts"):
        assert text not in bram.locator("main").inner_text()
    assert_clean(bram)

    # Anna's workspace never shows Bram's comments.
    anna.goto(anna_url)
    assert own_comments(anna) == [OUTDATED_EDITED, TYPO]
    for text in (FORMULA, DUPLICATE, "Bram Bosmans"):
        assert text not in anna.locator("main").inner_text()

    # Staff consolidate: four comments in document → page → line order, none decided yet.
    page.goto(detail_url)
    participants = [cells(r)[:3] for r in page.locator("#participants tbody tr").all()]
    assert [(p[1], p[2]) for p in participants] == [("commented (2)", "2"), ("commented (2)", "2")]
    page.get_by_role("link", name="Consolidate the comments").click()
    page.wait_for_url(f"{base}/consultations/{cid}/comments")
    comments_url = page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Consolidate the comments"
    assert page.locator("label[for=progress-bar]").inner_text() == "Decided 0 of 4"
    articles = page.locator("main article")
    headings = articles.locator("h2").all_inner_texts()
    ids = [int(h.split(" ")[0].lstrip("#")) for h in headings]
    formula_id, outdated_id, duplicate_id, typo_id = ids
    assert headings == [f"#{formula_id} · Chapter 2 · 2.1 · p. 12:5–12:9",
                        f"#{outdated_id} · Chapter 2 · 2.3 Drivers · p. 14:3–14:8",
                        f"#{duplicate_id} · Chapter 2 · 2.3 · p. 14:4",
                        f"#{typo_id} · Summary for policymakers · p. 2:1"]
    assert sorted(ids) == [typo_id, outdated_id, formula_id, duplicate_id]  # the order they arrived in

    def card(comment_id: int):
        return page.locator(f"#comment-{comment_id}")

    assert card(outdated_id).locator("p.small").first.inner_text() == (
        "Anna Aerts · University of Aerts · anna.aerts@example.org · typed in the browser")
    assert card(formula_id).locator("p.small").first.inner_text() == (
        "Bram Bosmans · University of Bosmans · bram.bosmans@example.org · from an uploaded template")
    assert card(formula_id).locator(".card-body .pre-wrap").first.inner_text() == FORMULA

    def decide(comment_id: int, decision: str, *, note: str = "", edited: str = "",
               merge_into: int | None = None):
        box = card(comment_id)
        box.get_by_label("Decision").select_option(label=decision)
        if merge_into is not None:
            box.get_by_label("Merge into (when merging)").fill(str(merge_into))
        if note:
            box.get_by_label("Staff note").fill(note)
        if edited:
            box.locator("summary").click()
            box.get_by_label("Edited comment", exact=True).fill(edited)
        with page.expect_navigation(url=f"{comments_url}#comment-{comment_id}"):
            box.get_by_role("button", name="Save the decision").click()

    note = "Merged with Bram Bosmans's point on the same table."
    decide(outdated_id, "Adopt edited", note=note, edited=ADOPTED)
    assert flash_messages(page) == [f"#{outdated_id}: Adopt edited."]
    assert page.locator("label[for=progress-bar]").inner_text() == "Decided 1 of 4"
    merge_input = card(duplicate_id).get_by_label("Merge into (when merging)")
    choices = page.locator("datalist#" + merge_input.get_attribute("list"))
    merge_options = [o for o in choices.locator("option").evaluate_all("os => os.map(o => o.textContent)")
                     if not o.startswith(f"#{duplicate_id} ")]
    assert merge_options == [f"#{formula_id} · p.12 l.5 · Bram Bosmans: {FORMULA}",
                             f"#{outdated_id} · p.14 l.3 · Anna Aerts: The land-use figures for 2015 are "
                             "outdated: use the 2020 national…"]  # cut at a word within 70 characters
    decide(duplicate_id, "Merge into another", merge_into=outdated_id)
    assert flash_messages(page) == [f"#{duplicate_id}: Merge into another."]
    decide(formula_id, "Adopt")
    assert flash_messages(page) == [f"#{formula_id}: Adopt."]
    decide(typo_id, "Adopt")
    assert flash_messages(page) == [f"#{typo_id}: Adopt."]
    assert page.locator("label[for=progress-bar]").inner_text() == "Decided 4 of 4"
    assert page.locator("progress#progress-bar").get_attribute("value") == "4"
    badges = [a.locator(".card-header > div").inner_text().strip() for a in articles.all()]
    assert badges == ["General Adopt", "Specific Adopt edited",
                      f"Specific Merge into another → #{outdated_id}", "Editorial Adopt"]
    adopted = card(outdated_id)
    assert adopted.locator(".border-start .pre-wrap").first.inner_text() == ADOPTED
    assert adopted.get_by_text("Merged into this one:").inner_text() == (
        f"Merged into this one: #{duplicate_id}")
    assert adopted.locator("p", has_text="Staff note:").inner_text() == f"Staff note: {note}"
    assert_clean(page)

    # The experts' decided comments can no longer change.
    anna.reload()
    assert anna.locator("article.own-comment .locked").count() == 2
    assert anna.locator("article.own-comment").get_by_role("link", name="Edit").count() == 0

    # The export through the page's link: the template's columns, one row per adopted comment in
    # document → page → line order, merged authors joined, the staff's wording, formulas kept as text.
    with page.expect_download() as info:
        page.get_by_role("link", name="Export the consolidated table (XLSX)").click()
    download = info.value
    assert download.suggested_filename == f"consultation-{cid}-consolidated-{today:%Y-%m-%d}.xlsx"
    export = tmp_path / "export.xlsx"
    download.save_as(export)
    wb = load_workbook(export)
    assert wb.sheetnames == ["Comments"]
    ws = wb["Comments"]
    table = [[c.value for c in row] for row in ws.iter_rows()]
    assert table[0] == TEMPLATE_COLUMNS
    assert table[1:] == [
        ["Bram Bosmans", "bram.bosmans@example.org", "University of Bosmans", "Belgium", "Chapter 2", "2.1",
         12, 5, 12, 9, FORMULA, FORMULA_CHANGE, "General"],
        ["Anna Aerts; Bram Bosmans", "anna.aerts@example.org; bram.bosmans@example.org",
         "University of Aerts; University of Bosmans", "Belgium", "Chapter 2", "2.3 Drivers", 14, 3, 14, 8,
         ADOPTED, OUTDATED_CHANGE, "Specific"],
        ["Anna Aerts", "anna.aerts@example.org", "University of Aerts", "Belgium", "Summary for policymakers",
         None, 2, 1, 2, None, TYPO, "ecosystem", "Editorial"],
    ]
    formula_cell, change_cell = ws.cell(row=2, column=11), ws.cell(row=2, column=12)
    assert formula_cell.value == FORMULA and formula_cell.data_type == "s"
    assert change_cell.value == FORMULA_CHANGE and change_cell.data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert isinstance(ws.cell(row=2, column=7).value, int)
    wb.close()
    assert_clean(page, anna, bram)
    # Only the invitations were e-mailed.
    assert len(smtp.messages) == 2
