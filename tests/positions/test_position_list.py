"""The staff's list of position notes: filters that combine, search, sorting, pagination, bad parameters."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from position_helpers import TEXTS, TODAY, administration_id, ask_review, client_for, make_note, make_session


@pytest.fixture
def world(app, make_user):
    make_user("stella@example.org", "staff", name="Stella Staff")
    first = make_session(app, code="IPBES-40", items=("3", "7 (b)", "8"), documents=())
    second = make_session(app, code="IPBES-41", items=("2",), documents=())
    notes = {
        "draft": make_note(app, first["items"]["3"], texts=TEXTS | {"background": "About pollinators."}),
        "review": make_note(app, first["items"]["7 (b)"]),
        "overdue": make_note(app, first["items"]["8"]),
        "other": make_note(app, second["items"]["2"]),
    }
    ask_review(app, notes["review"], codes=("BE-VL",), due=TODAY + dt.timedelta(days=9))
    ask_review(app, notes["overdue"], codes=("BE-WAL",), due=TODAY + dt.timedelta(days=2))
    ask_review(app, notes["other"], codes=("BE-WAL",), due=TODAY + dt.timedelta(days=5))
    from focalpoint.extensions import db
    from focalpoint.positions.models import ReviewRequest

    from focalpoint.reference.models import PlenarySession

    with app.app_context():  # a request whose due date has passed; the second session after the first
        request = db.session.scalar(sa.select(ReviewRequest).where(ReviewRequest.note_id == notes["overdue"]))
        request.due_date = TODAY - dt.timedelta(days=1)
        db.session.get(PlenarySession, second["session"]).start_date = TODAY + dt.timedelta(days=400)
        db.session.commit()
    return {"notes": notes, "first": first["session"], "second": second["session"],
            "client": client_for(app, "stella@example.org")}


def listed(client, query=""):
    response = client.get(f"/positions{query}")
    assert response.status_code == 200, query
    return [int(n) for n in re.findall(r'<td><a href="/positions/(\d+)">', response.get_data(as_text=True))]


def test_filters_combine(app, world):
    notes, client = world["notes"], world["client"]
    assert sorted(listed(client)) == sorted(notes.values())
    assert sorted(listed(client, f"?session={world['first']}")) == sorted(
        [notes["draft"], notes["review"], notes["overdue"]])
    assert listed(client, "?status=draft") == [notes["draft"]]
    assert sorted(listed(client, f"?administration={administration_id(app, 'BE-WAL')}")) == sorted(
        [notes["overdue"], notes["other"]])
    assert listed(client, "?overdue=1") == [notes["overdue"]]
    assert listed(client, f"?overdue=1&session={world['second']}") == []
    assert listed(client, "?q=pollinators") == [notes["draft"]]
    assert listed(client, "?q=IPBES-41") == [notes["other"]]
    assert listed(client, "?q=100%25") == []  # a LIKE wildcard is searched as a character


def test_sorting_and_agenda_order(app, world):
    notes, client = world["notes"], world["client"]
    # Default: newest session first, then in agenda order.
    assert listed(client) == [notes["other"], notes["draft"], notes["review"], notes["overdue"]]
    assert listed(client, "?sort=session&dir=asc") == [notes["draft"], notes["review"], notes["overdue"],
                                                       notes["other"]]
    # By the next review due date (notes with nothing due last).
    assert listed(client, "?sort=due&dir=asc") == [notes["overdue"], notes["other"], notes["review"], notes["draft"]]
    assert listed(client, "?sort=due&dir=desc") == [notes["review"], notes["other"], notes["overdue"], notes["draft"]]


def test_pagination(app, world):
    app.config["PAGE_SIZE"] = 3
    client = world["client"]
    first = listed(client)
    second = listed(client, "?page=2")
    assert len(first) == 3 and len(second) == 1 and not set(first) & set(second)
    assert "1–3 of 4" in client.get("/positions").get_data(as_text=True)


@pytest.mark.parametrize("query", ["?session=abc", "?status=bogus", "?sort=drop%20table&dir=sideways", "?page=-3",
                                   "?administration=99999999999999999999", "?overdue=yes", "?page=999"])
def test_bad_parameters_never_fail(app, world, query):
    assert len(listed(world["client"], query)) >= 0
