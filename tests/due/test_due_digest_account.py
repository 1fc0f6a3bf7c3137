"""Choosing the digest on the account page: its own form, none / daily / weekly, bad input refused."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from conftest import login


def stored(app, email: str) -> tuple[str, dt.datetime | None]:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        frequency, last = db.session.execute(sa.select(User.digest_frequency, User.last_digest_at)
                                             .where(User.email == email)).one()
        return frequency, last


def test_the_account_page_shows_the_digest_choice(staff_client):
    page = staff_client.get("/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<h2 class="h5" id="digest-heading">E-mail digest</h2>' in html
    assert '<form method="post" action="/account/digest">' in html
    assert '<label class="form-label" for="digest-frequency">E-mail digest</label>' in html
    assert 'class="form-select" id="digest-frequency" name="digest-frequency">' in html
    assert '<div id="digest-frequency-help" class="form-text">What is due and what is new' in html
    assert '<option selected value="none">No digest</option>' in html
    assert '<option value="daily">Daily</option>' in html and '<option value="weekly">Weekly</option>' in html


def test_choosing_daily_then_weekly_then_none(app, staff_client):
    response = staff_client.post("/account/digest", data={"digest-frequency": "daily"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account#digest"
    assert stored(app, "staff@example.org") == ("daily", None)
    page = staff_client.get("/account").get_data(as_text=True)
    assert "You will get a digest every day." in page
    assert '<option selected value="daily">Daily</option>' in page

    moment = dt.datetime(2026, 11, 23, 7, tzinfo=dt.timezone.utc)
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == "staff@example.org")
                           .values(last_digest_at=moment))
        db.session.commit()
    staff_client.post("/account/digest", data={"digest-frequency": "weekly"})
    assert stored(app, "staff@example.org") == ("weekly", moment)  # "new since" carries on from the last digest
    assert "You will get a digest every Monday." in staff_client.get("/account").get_data(as_text=True)
    staff_client.post("/account/digest", data={"digest-frequency": "none"})
    assert stored(app, "staff@example.org") == ("none", moment)
    # Starting again after "none": the old moment is forgotten (the first digest looks one period back).
    staff_client.post("/account/digest", data={"digest-frequency": "daily"})
    assert stored(app, "staff@example.org") == ("daily", None)


def test_an_unknown_choice_is_refused_and_nothing_changes(app, staff_client):
    staff_client.post("/account/digest", data={"digest-frequency": "weekly"})
    response = staff_client.post("/account/digest", data={"digest-frequency": "hourly"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Not a valid choice." in response.get_data(as_text=True)
    assert stored(app, "staff@example.org") == ("weekly", None)
    empty = staff_client.post("/account/digest", data={}, follow_redirects=True)
    assert empty.status_code == 200
    assert stored(app, "staff@example.org") == ("weekly", None)


def test_the_preferences_form_leaves_the_digest_alone(app, staff_client):
    staff_client.post("/account/digest", data={"digest-frequency": "daily"})
    response = staff_client.post("/account", data={"name": "Stella S.", "locale": "fr", "timezone": ""})
    assert response.status_code == 302
    assert stored(app, "staff@example.org") == ("daily", None)


def test_experts_may_choose_a_digest_and_anonymous_visitors_may_not(app, client, make_user):
    make_user("ann@example.org", "expert")
    anonymous = client.post("/account/digest", data={"digest-frequency": "daily"})
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    login(client, "ann@example.org")
    assert client.post("/account/digest", data={"digest-frequency": "weekly"}).status_code == 302
    assert stored(app, "ann@example.org") == ("weekly", None)
