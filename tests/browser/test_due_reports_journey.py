"""Staff in a real Chromium: an overdue item on the dashboard, the personal calendar feed (fetched and
parsed), then a report's XLSX and the annual DOCX downloaded and opened."""
from __future__ import annotations

import datetime as dt
import io
import urllib.request
from zoneinfo import ZoneInfo

import pytest

from tests.browser.test_journeys import STAFF_EMAIL, STAFF_NAME, log_in, long_date, medium, table_rows

pytestmark = pytest.mark.browser

TITLE = "Review of the draft chapter on business and biodiversity"


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def vevents(body: bytes) -> list:
    from icalendar import Calendar

    return [c for c in Calendar.from_ical(body).walk() if c.name == "VEVENT"]


def test_staff_see_overdue_subscribe_to_the_feed_and_download_reports(browser_page, live_server, tmp_path):
    page, base, log = browser_page, live_server.url, browser_page.console_log
    today = dt.datetime.now(ZoneInfo(live_server.app.config["DISPLAY_TIMEZONE"])).date()
    late = today - dt.timedelta(days=10)
    live_server.add_user(STAFF_EMAIL, "staff", name=STAFF_NAME)
    overdue = live_server.add_notification(
        TITLE, f"EM/2026/20. The second order draft is open for review. Comments are due by {long_date(late)}.",
        published=today - dt.timedelta(days=40))
    assert overdue["deadlines"] == [(late, "comments", f"Comments are due by {long_date(late)}.")]

    # The dashboard shows the overdue secretariat deadline.
    log_in(page, base, STAFF_EMAIL)
    rows = table_rows(page, "Overdue (still open)")
    assert [f"{medium(late)}\n10 days late", "Secretariat: Comments", f"EM/2026/20 {TITLE}", "Unassigned"] in rows

    # Stella takes the item on (triage: Assigned to), so it is in her own feed ("My dates").
    page.goto(f"{base}/notifications/{overdue['id']}")
    triage = page.locator("#triage")
    triage.get_by_label("Assigned to").select_option(label=STAFF_NAME)
    triage.get_by_role("button", name="Assign").click()
    page.wait_for_url(f"{base}/notifications/{overdue['id']}#triage")
    page.goto(base + "/")
    assert [f"{medium(late)}\n10 days late", "Secretariat: Comments", f"EM/2026/20 {TITLE}", STAFF_NAME] in table_rows(
        page, "Overdue (still open)")

    # The account page: make the feed address and read it from the field labelled "My dates".
    page.goto(base + "/account")
    assert page.get_by_text("You have no calendar feed.").count() == 1
    page.get_by_role("button", name="Make my feed address").click()
    page.wait_for_load_state("load")
    field = page.get_by_label("My dates", exact=True)
    assert field.get_attribute("readonly") is not None
    address = field.input_value()
    prefix = live_server.app.config["BASE_URL"] + "/calendar/"
    assert address.startswith(prefix) and address.endswith(".ics"), address
    assert page.get_by_text("Copy the address now: it is shown only this once.").count() == 1

    # A calendar client fetches the feed (the address is built from BASE_URL: served here by the live server).
    feed_address = base + address[len(prefix) - len("/calendar/"):]
    status, content_type, body = fetch(feed_address)
    assert status == 200 and content_type.startswith("text/calendar")
    events = [e for e in vevents(body) if TITLE in str(e.get("summary"))]
    assert events, [str(e.get("summary")) for e in vevents(body)]
    uids = sorted(str(e.get("uid")) for e in events)
    assert all(uids)
    _status, _type, again = fetch(feed_address)
    assert sorted(str(e.get("uid")) for e in vevents(again) if TITLE in str(e.get("summary"))) == uids

    # Reports: the involvement report's XLSX.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.wait_for_url(base + "/reports")
    assert page.get_by_role("heading", level=1).inner_text() == "National reporting"
    page.locator("main h2.card-title a").first.click()
    page.wait_for_url(base + "/reports/involvement")
    with page.expect_download() as info:
        page.get_by_role("group", name="Downloads").get_by_role("link", name="XLSX").click()
    download = info.value
    assert download.suggested_filename == "report-involvement-all.xlsx"
    xlsx_path = tmp_path / download.suggested_filename
    download.save_as(xlsx_path)
    from openpyxl import load_workbook

    workbook = load_workbook(xlsx_path)
    assert workbook.sheetnames
    header = [c.value for c in next(workbook.worksheets[0].iter_rows(min_row=1, max_row=1))]
    assert header and all(isinstance(v, str) and v for v in header), header

    # The annual report as a Word document.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Reports").click()
    page.wait_for_url(base + "/reports")
    year = page.get_by_label("Year", exact=True).input_value()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the annual report (DOCX)").click()
    download = info.value
    assert download.suggested_filename == f"ipbes-annual-report-{year}.docx"
    docx_path = tmp_path / download.suggested_filename
    download.save_as(docx_path)
    from docx import Document

    document = Document(io.BytesIO(docx_path.read_bytes()))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading") and p.text.strip()]
    assert "Summary" in headings, headings

    assert log.errors == []
    assert log.csp == []
