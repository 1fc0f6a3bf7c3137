"""The nomination journey in a real headless Chromium, with real e-mail (aiosmtpd) caught in the test.

Staff turn a call notification into a nomination call, match the registry, invite three experts; the
invitations go out through SMTP; one expert accepts from the link in the e-mail with a CV, another declines
and suggests a colleague; staff endorse, mark submitted and record the selection; the selected expert logs
in and finds the role on their profile. What is asserted is what each person sees.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from conftest import PASSWORD
from smtp import SmtpCatcher
from tests.browser.conftest import ConsoleLog
from tests.browser.test_journeys import flash_messages, log_in, long_date

pytestmark = pytest.mark.browser

STAFF_EMAIL, STAFF_NAME = "stella@example.org", "Stella Staff"
CALL_TITLE = "EM/2031/12: Call for nominations of experts for the second global assessment"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
#: (first, last, e-mail, tagged for the call). The untagged ones sort first by name: the ranking, not the
#: alphabet, must put the tagged ones on top.
EXPERTS = [
    ("Aline", "Adam", "aline.adam@example.org", False),
    ("Bruno", "Baert", "bruno.baert@example.org", False),
    ("Carla", "Claes", "carla.claes@example.org", True),
    ("Dries", "Dewulf", "dries.dewulf@example.org", True),
    ("Elise", "Evrard", "elise.evrard@example.org", True),
]
CV_BYTES = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")
LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/respond/[A-Za-z0-9_\-.~]+")


def long_en(day: dt.date) -> str:
    """Babel's long English date: "December 20, 2026"."""
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _medium(day: dt.date) -> str:
    """Babel's medium English date: "Dec 20, 2026"."""
    return f"{MONTHS[day.month - 1][:3]} {day.day}, {day.year}"


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
                                       timezone_id="Europe/Brussels")
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
    """Staff, a call notification, five consenting experts (three tagged for the second global assessment as
    LA/CLA; Carla Claes has an expert account), the standard invitation templates, SMTP pointed at the catcher."""
    import sqlalchemy as sa

    from focalpoint.auth.services import create_user
    from focalpoint.experts import services as xsvc
    from focalpoint.extensions import db
    from focalpoint.invitations.services import seed_default_templates
    from focalpoint.reference.models import Deliverable
    from focalpoint.reference.services import terms

    app = live_server.app
    smtp.configure(app)
    app.config["BASE_URL"] = live_server.url  # the links in the e-mails lead to the live site
    today = dt.datetime.now(ZoneInfo(app.config["DISPLAY_TIMEZONE"])).date()
    applications, nominations = today + dt.timedelta(weeks=4), today + dt.timedelta(weeks=6)
    live_server.add_user(STAFF_EMAIL, "staff", name=STAFF_NAME)
    notification = live_server.add_notification(
        CALL_TITLE,
        "Governments and stakeholders are invited to nominate experts to serve as coordinating lead authors, "
        "lead authors and review editors of the second global assessment of biodiversity and ecosystem services. "
        f"Experts should apply by {long_date(applications)}. "
        f"Nominations should be submitted by {long_date(nominations)}.",
        published=today - dt.timedelta(days=2))
    assert notification["kind"] == "expert_call" and notification["reference"] == "EM/2031/12"
    assert [(d, label) for d, label, _ in notification["deadlines"]] == [
        (applications, "application"), (nominations, "nomination")]
    assert today < notification["national_deadline"] < applications

    ids = {}
    with app.app_context():
        assert seed_default_templates() == 3
        roles = {t.code: t for t in terms("expert_role")}
        global2 = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == "global-2"))
        for first, last, email, tagged in EXPERTS:
            user_id = None
            if first == "Carla":
                user_id = create_user(email, roles=["expert"], password=PASSWORD, name=f"{first} {last}").id
            expert = xsvc.create_expert(
                {"first_name": first, "last_name": last, "email": email, "affiliation": f"University of {last}",
                 "region": "flanders", "preferred_language": "en", "keywords": "" if tagged else "soil microbiology",
                 "user_id": user_id},
                actor=None, terms=[roles["LA"], roles["CLA"]] if tagged else [],
                deliverables=[global2] if tagged else [])
            xsvc.give_consent(expert, contact=True, processing=True, actor=None)
            ids[first] = expert.id
        db.session.commit()
    return {"url": live_server.url, "app": app, "today": today, "notification": notification,
            "applications": applications, "nominations": nominations, "ids": ids}


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


def test_staff_invite_experts_answer_by_mail_and_the_selection_reaches_the_profile(
        browser_page, new_page, registry, smtp, tmp_path):
    page, base, ids = browser_page, registry["url"], registry["ids"]
    notification, today = registry["notification"], registry["today"]
    national = notification["national_deadline"]

    # Staff open the notification and turn it into a call: the form is filled from the notification.
    log_in(page, base, STAFF_EMAIL)
    page.goto(f"{base}/notifications/{notification['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == CALL_TITLE
    page.get_by_role("link", name="Open a nomination call").click()
    page.wait_for_url(f"{base}/calls/new?notification_id={notification['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == "Open a nomination call"
    assert page.get_by_label("Title").input_value() == CALL_TITLE
    assert page.get_by_label("Kind of call").evaluate("s => s.options[s.selectedIndex].text") == "Call for experts"
    assert page.get_by_label("Deliverable").evaluate("s => s.options[s.selectedIndex].text") == (
        "Second global assessment")
    checked_roles = page.locator("input[name=roles]:checked").evaluate_all("els => els.map(e => e.value)")
    assert checked_roles == ["CLA", "LA", "RE"]
    assert page.get_by_label("Secretariat deadline: applications").input_value() == (
        registry["applications"].isoformat())
    assert page.get_by_label("Secretariat deadline: nominations").input_value() == registry["nominations"].isoformat()
    assert page.get_by_label("National deadline", exact=True).input_value() == national.isoformat()
    page.get_by_role("button", name="Open the call").click()
    page.wait_for_url(re.compile(re.escape(base) + r"/calls/\d+$"))
    call_url = page.url
    call_id = int(call_url.rsplit("/", 1)[1])
    assert flash_messages(page) == ["Call opened."]
    assert page.get_by_role("heading", level=1).inner_text() == CALL_TITLE
    assert page.locator("main > p").first.inner_text() == (
        "Open Call for experts · Deliverable: Second global assessment · From EM/2031/12")
    assert page.locator("#invitations p.small").inner_text() == "No invitation sent yet."

    # Matching: the three experts tagged for the deliverable and the roles rank first (equal scores: by name).
    page.get_by_role("link", name="Find experts").click()
    page.wait_for_url(f"{base}/calls/{call_id}/matches")
    assert page.get_by_role("heading", level=1).inner_text() == "Matching experts"
    rows = page.locator("#pick table tbody tr")
    names = [r.locator("td").nth(2).locator("a").inner_text() for r in rows.all()]
    assert names == ["Carla Claes", "Dries Dewulf", "Elise Evrard", "Aline Adam", "Bruno Baert"]
    scores = [int(r.locator("td").nth(3).inner_text()) for r in rows.all()]
    assert scores[0] == scores[1] == scores[2] > scores[3] >= scores[4]
    for name in ("Carla Claes", "Dries Dewulf", "Elise Evrard"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Invite the checked experts").click()
    page.wait_for_url(f"{base}/calls/{call_id}/invite?expert_id={ids['Carla']}&expert_id={ids['Dries']}"
                      f"&expert_id={ids['Elise']}")

    # Compose: the standard template, a preview per expert, then send.
    assert page.get_by_role("heading", level=1).inner_text() == f"Invite experts to {CALL_TITLE}"
    assert page.locator("#who-h").inner_text() == "3 experts will be invited"
    assert page.locator("section[aria-labelledby=who-h] li").all_inner_texts() == [
        "Carla Claes <carla.claes@example.org> · English", "Dries Dewulf <dries.dewulf@example.org> · English",
        "Elise Evrard <elise.evrard@example.org> · English"]
    assert page.get_by_label("Template").input_value() == "Standard invitation"
    page.get_by_label("Template").select_option("Standard invitation")
    with page.expect_navigation(url=f"{base}/calls/{call_id}/invite"):
        page.get_by_role("button", name="Preview").click()
    previews = page.locator("article.preview")
    assert previews.count() == 3
    first = previews.first
    assert first.locator("p").nth(0).inner_text() == (
        "To: Carla Claes <carla.claes@example.org> · English · template Standard invitation")
    assert first.locator("p").nth(1).inner_text() == f"Invitation: {CALL_TITLE}"
    body = first.locator(".pre-wrap").inner_text()
    assert body.startswith("Dear Carla Claes,")
    assert f"Please answer by {long_en(national)} through your personal link" in body
    page.get_by_role("button", name="Send 3 invitations").click()
    page.wait_for_url(call_url)
    assert flash_messages(page) == ["3 invitations are on their way."]
    assert page.locator("#invitations p.small").inner_text() == "Waiting for an answer: 3"
    assert_clean(page)

    # The outbox goes out through SMTP: one message per expert, each with its own link, text and HTML.
    assert smtp.messages == []
    assert deliver(registry["app"]) == {"sent": 3, "failed": 0, "dead": 0, "skipped": 0}
    assert len(smtp.messages) == 3
    links = {}
    for msg, (_, rcpt) in zip(smtp.messages, smtp.envelopes):
        assert msg["Subject"] == f"Invitation: {CALL_TITLE}"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        [link] = LINK_RE.findall(text)
        assert link.startswith(f"{base}/respond/")
        assert f'href="{link}"' in html
        assert len(rcpt) == 1 and msg["To"].addresses[0].addr_spec == rcpt[0]
        links[rcpt[0]] = link
    assert sorted(links) == ["carla.claes@example.org", "dries.dewulf@example.org", "elise.evrard@example.org"]
    assert len(set(links.values())) == 3

    # Carla opens her link in her own browser and accepts, with a role, a motivation and a CV.
    carla = new_page()
    carla.goto(links["carla.claes@example.org"])
    assert carla.get_by_role("heading", level=1).inner_text() == CALL_TITLE
    assert carla.locator("p.answer-state").inner_text() == "You have not answered yet."
    assert carla.get_by_label("Role you wish to be nominated for").locator("option").all_inner_texts() == [
        "Coordinating lead author", "Lead author", "Review editor"]
    carla.get_by_label("Role you wish to be nominated for").select_option(label="Lead author")
    carla.get_by_label("Motivation").fill("Twenty years of work on land-use change in Flanders.")
    carla.get_by_label("No", exact=True).check()
    cv = tmp_path / "cv-carla-claes.pdf"
    cv.write_bytes(CV_BYTES)
    carla.get_by_label("CV (PDF or Word .docx, optional)").set_input_files(str(cv))
    with carla.expect_navigation():
        carla.get_by_role("button", name="Accept", exact=True).click()
    assert carla.get_by_role("status").inner_text() == (
        "Thank you: your acceptance is recorded. A confirmation is on its way to you by e-mail.")
    assert carla.locator("p.answer-state").inner_text() == (
        f"Your answer: you accept, as Lead author. You can change it until the end of {long_en(national)}, "
        "unless the national focal point closes the answers earlier.")
    assert carla.get_by_role("heading", name="Update my acceptance").count() == 1
    assert_clean(carla)

    # Dries declines and suggests a colleague.
    dries = new_page()
    dries.goto(links["dries.dewulf@example.org"])
    assert dries.locator("p.answer-state").inner_text() == "You have not answered yet."
    dries.get_by_label("Reason (optional)").fill("I am on sabbatical next year.")
    dries.get_by_label("A colleague we could invite instead (name, optional)").fill("Frank Peeters")
    dries.get_by_label("Their e-mail address").fill("frank.peeters@example.org")
    with dries.expect_navigation():
        dries.get_by_role("button", name="Decline", exact=True).click()
    assert dries.get_by_role("status").inner_text() == (
        "Thank you: your answer is recorded. A confirmation is on its way to you by e-mail.")
    assert dries.locator("p.answer-state").inner_text() == (
        f"Your answer: you decline. You can change it until the end of {long_en(national)}, "
        "unless the national focal point closes the answers earlier.")
    assert_clean(dries)

    # Staff reload the call: one accepted, one declined, one waiting; the lead; Carla on the slate.
    page.reload()
    assert page.locator("#invitations p.small").inner_text() == (
        "Waiting for an answer: 1 Accepted: 1 Declined: 1")
    invitations = {cells(r)[0]: cells(r)[1] for r in page.locator("#invitations tbody tr").all()}
    assert invitations == {"Carla Claes": "Accepted", "Dries Dewulf": "Declined",
                           "Elise Evrard": "Waiting for an answer"}
    assert page.locator("#leads li strong").all_inner_texts() == ["Frank Peeters"]
    lead = page.locator("#leads li").first.locator("div").first.inner_text()
    assert [line.strip() for line in lead.splitlines()] == [
        "Frank Peeters · frank.peeters@example.org new", "Suggested by Dries Dewulf when declining the invitation."]
    assert page.locator("#slate p.small").first.inner_text() == "Candidate: 1"
    slate = page.locator("#slate tbody tr")
    assert slate.count() == 1
    row = slate.first
    assert cells(row)[1] == "Carla Claes\nUniversity of Claes · for LA"
    assert cells(row)[2] == "Candidate"

    # Endorse with a rationale, mark submitted, record the selection as LA.
    def decide(button: str, rationale: str | None = None, role: str | None = None) -> None:
        row = page.locator("#slate tbody tr").first
        row.locator("summary", has_text="Decide").click()
        if rationale is not None:
            row.get_by_label("Rationale or note").fill(rationale)
        if role is not None:
            row.get_by_label("Selected as").select_option(label=role)
        with page.expect_navigation(url=re.compile(re.escape(call_url) + r"#nomination-\d+$")):
            row.get_by_role("button", name=button, exact=True).click()

    rationale = "Strong record on land-use change; fills the Flemish gap among lead authors."
    decide("Endorse", rationale=rationale)
    assert flash_messages(page) == ["Carla Claes: Endorsed."]
    assert cells(page.locator("#slate tbody tr").first)[2:4] == ["Endorsed", rationale]
    decide("Mark submitted on the IPBES portal")
    assert flash_messages(page) == ["Carla Claes: Submitted."]
    assert cells(page.locator("#slate tbody tr").first)[2] == f"Submitted\nsubmitted {_medium(today)}"
    decide("Selected", role="LA — Lead author")
    assert flash_messages(page) == ["Carla Claes: Selected."]
    assert cells(page.locator("#slate tbody tr").first)[2] == f"Selected as LA\nsubmitted {_medium(today)}"
    assert page.locator("#slate p.small").first.inner_text() == "Selected: 1"

    # Carla's record in the registry tells staff the same.
    page.locator("#slate tbody tr").first.get_by_role("link", name="Carla Claes").click()
    page.wait_for_url(f"{base}/experts/{ids['Carla']}")
    assert page.get_by_role("heading", level=1).inner_text() == "Carla Claes"
    assert page.locator("section[aria-labelledby=calls-h] li").all_inner_texts() == [
        f"Invitation: {CALL_TITLE} — Accepted ({_medium(today)})",
        f"Nomination: {CALL_TITLE} — Selected (Lead author)"]
    assert_clean(page)

    # Carla logs in with her account: her profile shows the role from the selection, and the nomination.
    carla.goto(base + "/login")
    carla.get_by_label("E-mail address").fill("carla.claes@example.org")
    carla.get_by_label("Password").fill(PASSWORD)
    carla.get_by_role("button", name="Log in").click()
    carla.wait_for_url(base + "/")
    carla.get_by_role("navigation", name="Main").get_by_role("link", name="My profile").click()
    carla.wait_for_url(base + "/profile")
    assert carla.get_by_role("heading", level=1).inner_text() == "My profile"
    roles = [cells(r)[:4] for r in carla.locator("#roles tbody tr").all()]
    assert roles == [["Lead author", "Second global assessment", str(dt.datetime.now(dt.UTC).year),
                      "selected by IPBES"]]
    assert carla.locator("section[aria-labelledby=noms-h] li").all_inner_texts() == [
        f"{CALL_TITLE} — Selected (Lead author)"]
    assert carla.locator("#cv p").first.inner_text().startswith("CV: cv-carla-claes.pdf (")
    assert_clean(page, carla, dries)
