"""Review due dates and plenary sessions ahead on the dashboard (staff) and a reviewer's welcome page."""
from __future__ import annotations

import datetime as dt
import re

from plenary_helpers import TODAY, add_item, add_note, add_session, client_for


def _section(html: str, anchor: str) -> list[str]:
    if f'id="{anchor}"' not in html:
        return []
    part = html.split(f'id="{anchor}"', 1)[1]
    part = part.split("</table>", 1)[0] if "<table" in part.split("</h2>", 1)[1][:200] else part.split("</ul>", 1)[0]
    rows = re.findall(r"<(?:tr|li)[^>]*>(.*?)</(?:tr|li)>", part, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows]


def _d(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _world(app):
    soon, later, past = TODAY + dt.timedelta(days=3), TODAY + dt.timedelta(days=20), TODAY - dt.timedelta(days=2)
    upcoming = add_session(app, "IPBES-13", "Kunming, China", TODAY + dt.timedelta(days=60),
                           TODAY + dt.timedelta(days=65))
    under_way = add_session(app, "IPBES-14", "Online", TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=2))
    ended = add_session(app, "IPBES-15", "Bonn", TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=25))
    review = add_note(app, add_item(app, upcoming, "7 (b)", "Business"), versions=[{}, {}], status="in_review",
                      requests={"BE-VL": [soon], "BE-WAL": [later, (2, "objected", "No")],
                                "BE-FED-ENV": [past, (1, "cleared", "")]})
    # Approved notes, drafts and sessions that are over have nothing due.
    add_note(app, add_item(app, upcoming, "6", "Budget"), status="approved",
             requests={"BE-VL": [soon, (1, "cleared", "")]})
    add_note(app, add_item(app, ended, "3", "Old"), status="in_review", requests={"BE-VL": [past]})
    return review, upcoming, under_way, soon, past


def test_staff_see_reviews_due_and_sessions_ahead(app, staff_client):
    review, upcoming, under_way, soon, past = _world(app)
    html = staff_client.get("/").get_data(as_text=True)
    late = (TODAY - past).days
    assert _section(html, "reviews-h") == [
        "Due Position note Administration",
        f"{_d(past)} {late} days late IPBES-13 · Item 7 (b): Business BE-FED-ENV",
        f"{_d(soon)} in 3 days IPBES-13 · Item 7 (b): Business BE-VL"]
    assert f'<a href="/positions/{review}">IPBES-13 · Item 7 (b): Business</a>' in html
    assert _section(html, "plenary-h") == [
        f"IPBES-14 · {_d(TODAY - dt.timedelta(days=1))} – {_d(TODAY + dt.timedelta(days=2))} · Online",
        f"IPBES-13 · {_d(TODAY + dt.timedelta(days=60))} – {_d(TODAY + dt.timedelta(days=65))} in 60 days · "
        "Kunming, China"]
    assert f'href="/plenary/{upcoming}">IPBES-13</a>' in html and f'href="/plenary/{under_way}">IPBES-14</a>' in html
    assert "Nothing due." in html  # no notification deadline: the inbox part is unchanged


def test_reviewers_see_their_administrations_reviews_only(app, make_user):
    review, _upcoming, _under_way, soon, _past = _world(app)
    flemish = client_for(app, make_user, "rev.vl@example.org", "reviewer", administration="BE-VL")
    html = flemish.get("/").get_data(as_text=True)
    assert _section(html, "reviews-h") == ["Due Position note Administration",
                                           f"{_d(soon)} in 3 days IPBES-13 · Item 7 (b): Business BE-VL"]
    assert "plenary-h" not in html and "/plenary" not in html
    walloon = client_for(app, make_user, "rev.wal@example.org", "reviewer", administration="BE-WAL")
    assert "reviews-h" not in walloon.get("/").get_data(as_text=True)  # it objected: nothing awaits it
    expert = client_for(app, make_user, "expert@example.org", "expert")
    page = expert.get("/").get_data(as_text=True)
    assert "reviews-h" not in page and "plenary-h" not in page
