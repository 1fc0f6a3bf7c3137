"""/due and the dashboard's due lists: rows, filters, pagination, access for each role, constant queries."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from due_helpers import EXPERT, OTHER, REVIEWER, STAFF, build, client_for, day, users

from conftest import _empty_all_tables


@pytest.fixture
def world(app, make_user):
    ids = users(app, make_user)
    return ids, build(app, ids)[0]


def table(html: str) -> list[list[str]]:
    """The due table's cells (text), row by row."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    text = lambda cell: unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))  # noqa: E731
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def short(d) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def test_staff_see_the_teams_items_nearest_first(app, world):
    ids, w = world
    response = client_for(app, STAFF).get("/due")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = table(html)
    assert len(rows) == 16
    assert rows[0] == [f"{short(day(-5))} Overdue 5 days late", "Notifications", "EM/2030/000 Review of chapter 0",
                       "National deadline", "Unassigned", ".ics calendar file: EM/2030/000 Review of chapter 0"]
    assert rows[2][1:5] == ["Position notes", "IPBES-30 · Item 7 (b): Business 0",
                            "Review and clear the position note", "Flemish administration (Department of Environment)"]
    assert rows[3][:5] == [f"{short(day(3))} in 3 days", "Notifications", "EM/2031/000: Call for inputs 0",
                           "National deadline", "Stella Staff"]
    assert rows[-1][:5] == [f"{short(day(60))} – {short(day(65))} in 60 days", "Plenary sessions",
                            "IPBES-30 · Kunming, China", "Plenary session: position notes and briefing pack ready",
                            "The focal point team"]
    # Overdue rows stand out with a word, not only a colour.
    assert html.count('class="table-danger"') == 3
    assert html.count('<span class="badge text-bg-danger">Overdue</span>') == 3
    assert "16 items · <strong>3 overdue</strong>" in html
    # Each row links to its item and to its calendar file.
    assert f'<a href="/calls/{w["call"]}">Nexus assessment experts 0</a>' in html
    assert f'href="/due/notification-deadline/{w["mine_deadline"]}.ics"' in html
    assert f'href="/due/review/{w["review_vl"]}.ics"' in html


@pytest.mark.parametrize(("query", "count", "first"), [
    ("scope=mine", 8, "Position notes"),
    ("scope=all", 17, "Notifications"),
    ("workflow=calls", 3, "Nomination calls"),
    ("window=overdue", 3, "Notifications"),
    ("window=7", 4, "Notifications"),
    ("window=30&workflow=consultations", 1, "Consultations"),  # the secretariat's deadline is in 40 days
    ("scope=mine&workflow=events", 0, None),
])
def test_filters(app, world, query, count, first):
    html = client_for(app, STAFF).get(f"/due?{query}").get_data(as_text=True)
    rows = table(html) if "<tbody>" in html else []
    assert len(rows) == count
    if first:
        assert rows[0][1] == first
    else:
        assert "Nothing due." in html


def test_filters_show_what_is_chosen(app, world):
    html = client_for(app, STAFF).get("/due?scope=mine&workflow=calls&window=30").get_data(as_text=True)
    assert '<option value="mine" selected>Mine</option>' in html
    assert '<option value="calls" selected>Nomination calls</option>' in html
    assert '<option value="30" selected>Next 30 days</option>' in html
    assert '<label class="form-label" for="f-scope">Whose</label>' in html


@pytest.mark.parametrize("query", ["scope=everyone", "workflow=inbox", "window=365", "page=abc", "page=-3",
                                   "page=99999", "scope=&workflow=&window="])
def test_bad_filters_fall_back_to_the_defaults(app, world, query):
    response = client_for(app, STAFF).get(f"/due?{query}")
    assert response.status_code == 200
    assert len(table(response.get_data(as_text=True))) == 16


def test_pagination(app, make_user):
    ids = users(app, make_user)
    build(app, ids, copies=2)
    client = client_for(app, STAFF)
    first = client.get("/due").get_data(as_text=True)
    second = client.get("/due?page=2").get_data(as_text=True)
    assert len(table(first)) == 25 and len(table(second)) == 7
    assert "32 items" in first
    assert 'href="/due?page=2"' in first and 'aria-current="page">2</a>' in second
    assert client.get("/due?page=3").status_code == 200  # past the end: the last page
    assert len(table(client.get("/due?page=3").get_data(as_text=True))) == 7
    # The filters stay in the pages' links.
    assert 'href="/due?window=30&amp;page=2"' not in client.get("/due?window=30").get_data(as_text=True)  # 22 rows
    assert 'href="/due?scope=all&amp;page=2"' in client.get("/due?scope=all").get_data(as_text=True)


def test_experts_see_their_own_items_only(app, world):
    ids, w = world
    html = client_for(app, EXPERT).get("/due?scope=all&workflow=notifications").get_data(as_text=True)
    assert 'id="f-scope"' not in html
    assert re.findall(r'<option value="(\w+)"', html.split('id="f-workflow"')[1].split("</select>")[0]) == [
        "invitations", "consultations", "events"]
    assert [r[1:5] for r in table(client_for(app, EXPERT).get("/due").get_data(as_text=True))] == [
        ["Invitations", "Nexus assessment experts 0", "Answer the invitation", "You"],
        ["Events", "Information session 0", "Attend the event (you are registered)", "You"],
        ["Consultations", "Second order draft 0", "Your comments on the drafts (the consultation closes)", "You"]]
    assert "Review of chapter" not in html and "/notifications" not in html


def test_reviewers_see_their_administrations_reviews_only(app, world):
    ids, w = world
    html = client_for(app, REVIEWER).get("/due?scope=team").get_data(as_text=True)
    assert [r[1:5] for r in table(html)] == [["Position notes", "IPBES-30 · Item 7 (b): Business 0",
                                              "Review and clear the position note",
                                              "Flemish administration (Department of Environment)"]]
    assert 'id="f-workflow"' not in html  # one workflow only: nothing to choose


def test_anonymous_visitors_are_sent_to_login(app, world):
    response = app.test_client().get("/due?window=7")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": ["/due?window=7"]})


# --- the dashboard ---------------------------------------------------------------------------------------
def dashboard_rows(html: str, anchor: str) -> list[list[str]]:
    part = html.split(f'id="{anchor}"', 1)[1]
    return table(part)


def test_the_dashboard_lists_every_workflows_dates_with_who(app, world):
    ids, w = world
    html = client_for(app, OTHER).get("/").get_data(as_text=True)
    upcoming = dashboard_rows(html, "due-h")
    assert [r[1:] for r in upcoming] == [
        ["National deadline", "EM/2031/000: Call for inputs 0", "Stella Staff"],
        ["Reminder e-mailed to the invited experts who have not answered", "Nexus assessment experts 0",
         "1 invited expert"],
        ["National deadline: invited experts answer", "Nexus assessment experts 0", "1 invitation not answered"],
        ["The event takes place", "Information session 0", "1 registered"],
        ["Secretariat: Inputs", "EM/2031/000: Call for inputs 0", "Stella Staff"],
        ["Secretariat: Extension", "REMINDER: call for inputs 0", "Stella Staff"],
        ["The consultation closes: experts' comments due", "Second order draft 0", "1 invited expert"],
        ["Experts apply to the secretariat (application deadline)", "Nexus assessment experts 0",
         "1 expert who accepted"],
        ["Secretariat: Other", "Call for experts 0", "Bob Other"],
        ["Submit the nominations to the secretariat", "Nexus assessment experts 0", "Stella Staff"],
        ["Send the integrated comments to the secretariat", "Second order draft 0", "Bob Other"]]
    assert upcoming[4][0].startswith(short(day(10)) + ", ")  # a deadline with a time shows it
    overdue = dashboard_rows(html, "overdue-h")
    assert [r[1:] for r in overdue] == [  # the latest first
        ["Secretariat: Comments", "EM/2030/000 Review of chapter 0", "Unassigned"],
        ["National deadline", "EM/2030/000 Review of chapter 0", "Unassigned"]]
    # Reviews and plenary sessions keep their own sections.
    assert 'id="reviews-h"' in html and 'id="plenary-h"' in html
    assert 'href="/due"' in html and 'href="/due?window=overdue"' in html


def test_an_experts_welcome_page_lists_their_dates(app, world):
    html = client_for(app, EXPERT).get("/").get_data(as_text=True)
    assert [r[1:] for r in dashboard_rows(html, "my-due-h")] == [
        ["Answer the invitation", "Nexus assessment experts 0"],
        ["Attend the event (you are registered)", "Information session 0"],
        ["Your comments on the drafts (the consultation closes)", "Second order draft 0"]]
    assert "Due next" not in html


def test_an_expert_with_nothing_due(app, make_user):
    make_user("quiet@example.org", "expert")
    html = client_for(app, "quiet@example.org").get("/").get_data(as_text=True)
    assert "No invitation waits for your answer and no consultation is open for you." in html


# --- constant queries ------------------------------------------------------------------------------------
def _page_queries(app, make_user, copies: int) -> dict[str, int]:
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    ids = users(app, make_user)
    build(app, ids, copies)
    clients = {who: client_for(app, email) for who, email in (("staff", STAFF), ("expert", EXPERT),
                                                              ("reviewer", REVIEWER))}
    counts = {}
    with app.app_context():
        engine = db.engine
    for who, path in (("staff", "/due"), ("staff", "/due?scope=all&page=2"), ("staff", "/"), ("expert", "/due"),
                      ("expert", "/"), ("reviewer", "/due")):
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert clients[who].get(path).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts[f"{who} {path}"] = len(statements)
    return counts


def test_pages_run_the_same_queries_for_5_and_50_rows_per_source(app, make_user):
    small = _page_queries(app, make_user, 5)
    large = _page_queries(app, make_user, 50)
    assert small == large
