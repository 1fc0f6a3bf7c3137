"""User journeys in a real headless Chromium against a live server (waitress, SQLite, CSRF on).

What is asserted is what a person sees: headings, table cells, messages, badges, links.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from conftest import PASSWORD

pytestmark = pytest.mark.browser

STAFF_EMAIL, STAFF_NAME = "stella@example.org", "Stella Staff"
EXPERT_EMAIL, EXPERT_NAME = "eric@example.org", "Eric Expert"
SHORT_DATETIME = r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2}\s[AP]M"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # not strftime: it follows the machine's locale


def medium(day: dt.date) -> str:
    """A date as the English pages show it (Babel's medium format): "Dec 20, 2026"."""
    return f"{MONTHS[day.month - 1][:3]} {day.day}, {day.year}"


def days_phrase(days: int) -> str:
    if days < 0:
        return f"{-days} day late" if days == -1 else f"{-days} days late"
    return "today" if days == 0 else (f"in {days} day" if days == 1 else f"in {days} days")


def long_date(day: dt.date) -> str:
    """A date as the secretariat writes it in a notification: "20 December 2026"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@pytest.fixture
def inbox(live_server):
    """A staff member, an expert, one notification due in four weeks and one overdue."""
    today = dt.datetime.now(ZoneInfo(live_server.app.config["DISPLAY_TIMEZONE"])).date()
    due = today + dt.timedelta(weeks=4)
    late = today - dt.timedelta(days=10)
    live_server.add_user(STAFF_EMAIL, "staff", name=STAFF_NAME)
    live_server.add_user(EXPERT_EMAIL, "expert", name=EXPERT_NAME)
    upcoming = live_server.add_notification(
        "EM/2026/31: Call for nominations of experts for the nexus assessment",
        "Governments and stakeholders are invited to nominate experts for the assessment. "
        f"Nominations should be submitted by {long_date(due)}.",
        published=today - dt.timedelta(days=3))
    overdue = live_server.add_notification(
        "Review of the draft chapter on business and biodiversity",
        f"EM/2026/20. The second order draft is open for review. Comments are due by {long_date(late)}.",
        published=today - dt.timedelta(days=40))
    # The fixtures themselves must be what the journeys expect (else the test would prove nothing).
    assert upcoming["reference"] == "EM/2026/31" and upcoming["kind"] == "expert_call"
    assert upcoming["deadlines"] == [(due, "nomination", f"Nominations should be submitted by {long_date(due)}.")]
    assert overdue["reference"] == "EM/2026/20" and overdue["kind"] == "review"
    assert overdue["deadlines"] == [(late, "comments", f"Comments are due by {long_date(late)}.")]
    assert upcoming["national_deadline"] is not None and today < upcoming["national_deadline"] < due
    assert overdue["national_deadline"] is not None and overdue["national_deadline"] < late
    return {"today": today, "due": due, "late": late, "upcoming": upcoming, "overdue": overdue,
            "url": live_server.url}


def log_in(page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")


def table_rows(page, heading: str) -> list[list[str]]:
    """The cells' visible text, row by row, of the table that follows ``heading`` on the dashboard."""
    table = page.locator(f"h2:text-is('{heading}') + div table")
    return [[cell.inner_text().strip() for cell in row.locator("td").all()] for row in table.locator("tbody tr").all()]


def nav_links(page) -> list[str]:
    return [t.strip() for t in page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()]


def flash_messages(page) -> list[str]:
    return [t.strip() for t in page.locator(".flash-messages .alert").all_inner_texts()]


def history(page) -> list[list[str]]:
    items = page.locator("section[aria-labelledby='history-h'] li").all_inner_texts()
    return [item.split(" · ") for item in items]


def test_staff_sees_deadlines_triages_a_notification_and_logs_out(browser_page, inbox):
    page, base = browser_page, inbox["url"]
    upcoming, overdue, today = inbox["upcoming"], inbox["overdue"], inbox["today"]

    # Log in with the labelled fields and the button.
    page.goto(base + "/login")
    assert page.get_by_role("heading", level=1).inner_text() == "Log in"
    page.get_by_label("E-mail address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")

    # The dashboard: what is due next, nearest first, and what is overdue.
    assert page.title() == "Dashboard · Focal Point"
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    assert nav_links(page) == ["Focal Point", "Dashboard", "Notifications", "Experts", "Calls", "Consultations",
                               "Events", "Plenary", "Due", "Reports", STAFF_NAME]
    national, due, late = upcoming["national_deadline"], inbox["due"], inbox["late"]
    assert table_rows(page, "Due next") == [
        [f"{medium(national)}\n{days_phrase((national - today).days)}", "National deadline",
         upcoming["title"], "Unassigned"],  # the title already starts with the reference: not repeated
        [f"{medium(due)}\nin 28 days", "Secretariat: Nomination", upcoming["title"], "Unassigned"],
    ]
    old_national = overdue["national_deadline"]
    assert table_rows(page, "Overdue (still open)") == [
        [f"{medium(late)}\n10 days late", "Secretariat: Comments", f"EM/2026/20 {overdue['title']}", "Unassigned"],
        [f"{medium(old_national)}\n{days_phrase((old_national - today).days)}", "National deadline",
         f"EM/2026/20 {overdue['title']}", "Unassigned"],
    ]
    assert page.get_by_role("heading", name="New notifications").inner_text() == "New notifications 2"

    # The notifications list, then one notification.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications").click()
    page.wait_for_url(base + "/notifications")
    assert page.get_by_role("heading", level=1).inner_text() == "Notifications"
    assert page.locator("main table tbody tr td:nth-child(3) a").all_inner_texts() == [
        upcoming["title"], overdue["title"]]
    page.get_by_role("link", name=upcoming["title"]).click()
    detail_url = f"{base}/notifications/{upcoming['id']}"
    page.wait_for_url(detail_url)
    assert page.get_by_role("heading", level=1).inner_text() == upcoming["title"]
    badges = page.locator("main > p").first.locator(".badge").all_inner_texts()
    assert badges == ["New", "Call for experts"]
    assert page.locator("#deadlines tbody tr td").nth(1).inner_text() == "nomination"
    assert page.locator("#deadlines .source-sentence").inner_text() == (
        f"Nominations should be submitted by {long_date(due)}.")
    assert [row[1:] for row in history(page)] == [["system", "Added by hand"], ["received"]]

    # Triage: status, then kind; each button sits on the line of its field.
    triage = page.locator("#triage")
    for label, button in (("Status", "Change status"), ("Kind", "Change kind"), ("Assigned to", "Assign")):
        field_box = triage.get_by_label(label).bounding_box()
        button_box = triage.get_by_role("button", name=button).bounding_box()
        assert abs((field_box["y"] + field_box["height"]) - (button_box["y"] + button_box["height"])) <= 1, label
    assert triage.get_by_label("Status").locator("option").all_inner_texts() == ["New", "In progress", "Done", "Archived"]
    triage.get_by_label("Status").select_option(label="In progress")
    triage.get_by_role("button", name="Change status").click()
    page.wait_for_url(detail_url + "#triage")
    assert flash_messages(page) == ["Status: In progress."]
    assert page.locator("main > p").first.locator(".badge").all_inner_texts() == ["In progress", "Call for experts"]
    assert triage.get_by_label("Status").evaluate("s => s.options[s.selectedIndex].text") == "In progress"

    triage.get_by_label("Kind").select_option(label="Call for fellows")
    triage.get_by_role("button", name="Change kind").click()
    page.wait_for_url(detail_url + "#triage")
    assert flash_messages(page) == ["Kind: Call for fellows."]
    assert page.locator("main > p").first.locator(".badge").all_inner_texts() == ["In progress", "Call for fellows"]
    assert triage.get_by_label("Kind").evaluate("s => s.options[s.selectedIndex].text") == "Call for fellows"
    assert triage.locator("p.small").inner_text() == (
        f"Set by staff; the classifier said Call for experts ({upcoming['kind_rule']}).")

    # The History section shows both changes, newest first, by whom.
    entries = history(page)
    assert [row[1:] for row in entries] == [
        [STAFF_NAME, "Kind: Call for experts → Call for fellows"],
        [STAFF_NAME, "Status: New → In progress"],
        ["system", "Added by hand"],
        ["received"],
    ]
    for row in entries:
        assert re.fullmatch(SHORT_DATETIME, row[0]), row

    # The list shows the new values too.
    page.goto(base + "/notifications")
    first_row = page.locator("main table tbody tr").first.locator("td")
    assert first_row.nth(3).inner_text() == "Call for fellows"
    assert first_row.nth(5).inner_text() == "In progress"

    # Log out: back on the login page; the inbox now sends to the login page.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(base + "/login")
    assert page.get_by_role("heading", level=1).inner_text() == "Log in"
    assert flash_messages(page) == ["You are logged out."]
    assert nav_links(page) == ["Focal Point"]
    response = page.goto(base + "/notifications")
    assert page.url == base + "/login?next=/notifications"
    assert response.status == 200
    assert page.get_by_role("heading", level=1).inner_text() == "Log in"


def test_an_expert_is_refused_the_inbox(browser_page, inbox):
    page, base = browser_page, inbox["url"]
    log_in(page, base, EXPERT_EMAIL)
    assert page.get_by_role("heading", level=1).inner_text() == f"Welcome, {EXPERT_NAME}"
    assert nav_links(page) == ["Focal Point", "Dashboard", "My invitations", "My consultations", "Events",
                               "My profile", EXPERT_NAME]
    assert page.get_by_role("link", name="Notifications", exact=True).count() == 0

    for path in ("/notifications", f"/notifications/{inbox['upcoming']['id']}"):
        response = page.goto(base + path)
        assert response.status == 403
        assert page.url == base + path
        assert page.get_by_role("heading", level=1).inner_text() == "Not allowed (403)"
        assert page.locator("main p").first.inner_text() == "Your account does not give access to this page."
        assert nav_links(page) == ["Focal Point", "Dashboard", "My invitations", "My consultations", "Events",
                                   "My profile", EXPERT_NAME]
        assert page.get_by_text(inbox["upcoming"]["title"]).count() == 0


def test_login_page_works_from_the_keyboard(browser_page, inbox):
    page, base = browser_page, inbox["url"]
    focused = "() => [document.activeElement.tagName, document.activeElement.id, document.activeElement.innerText]"
    page.goto(base + "/login")
    assert page.evaluate("() => document.activeElement === document.body")  # nothing grabs the focus
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate(focused))
    assert order == [["A", "", "Skip to the content"], ["A", "", "Focal Point"], ["INPUT", "email", ""],
                     ["INPUT", "password", ""], ["BUTTON", "", "Log in"]]

    page.goto(base + "/login")
    page.keyboard.press("Tab")
    skip = page.evaluate("() => [document.activeElement.tagName, document.activeElement.textContent.trim(),"
                         " document.activeElement.getAttribute('href')]")
    assert skip == ["A", "Skip to the content", "#main"]
    box = page.get_by_role("link", name="Skip to the content").bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 10  # visible once focused

    page.keyboard.press("Enter")  # follow the skip link: focus moves to the main content
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "email"
    page.keyboard.type(STAFF_EMAIL)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"


def test_no_console_errors_or_csp_violations_and_the_layout_is_styled(browser_page, inbox, artifacts_dir):
    page, base = browser_page, inbox["url"]
    log = page.console_log
    log_in(page, base, STAFF_EMAIL)
    pages = {"dashboard": base + "/", "list": base + "/notifications",
             "detail": f"{base}/notifications/{inbox['upcoming']['id']}"}
    for name, url in pages.items():
        response = page.goto(url)
        page.wait_for_load_state("load")
        assert response.status == 200, name
        # Bootstrap (served by the site itself) is applied: a blue navbar, not a transparent one.
        navbar = page.locator("nav.navbar")
        assert navbar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(13, 110, 253)", name
        assert page.locator("main").evaluate("e => getComputedStyle(e).paddingTop") == "16px", name
        if name in ("dashboard", "detail"):
            page.screenshot(path=str(artifacts_dir / f"browser-{name}.png"), full_page=True)
        assert log.errors == [], name
        assert log.csp == [], name

    # The Bootstrap script ran (the navbar toggler works) and nothing came from another site.
    assert page.evaluate("() => typeof window.bootstrap") == "object"
    css = page.evaluate("() => [...document.styleSheets].map(s => s.href)")
    assert all(href.startswith(base + "/") for href in css), css

    # The detector itself works: an injected inline script is refused by the CSP and reported.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.pwned") is None
    assert len(log.csp) == 1 and "script-src 'self'" in log.csp[0]
