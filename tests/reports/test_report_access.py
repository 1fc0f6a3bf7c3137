"""Reports are for staff: experts and reviewers get 403 on every page and download, visitors go to login."""
from __future__ import annotations

import pytest

from conftest import login

URLS = ["/reports", "/reports/involvement", "/reports/balance", "/reports/consultations", "/reports/positions",
        "/reports/involvement.csv", "/reports/involvement.xlsx", "/reports/balance.csv", "/reports/balance.xlsx",
        "/reports/consultations.csv", "/reports/consultations.xlsx", "/reports/positions.csv",
        "/reports/positions.xlsx", "/reports/annual.docx?year=2024"]


@pytest.mark.parametrize("role", ["expert", "reviewer"])
def test_experts_and_reviewers_are_refused(app, make_user, role):
    make_user(f"{role}@example.org", role, name=role.title())
    client = app.test_client()
    assert login(client, f"{role}@example.org").status_code == 302
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Not allowed" in response.get_data(as_text=True)
    assert 'href="/reports"' not in client.get("/").get_data(as_text=True)


def test_visitors_are_sent_to_login(app):
    client = app.test_client()
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), url


def test_staff_and_admins_get_every_page(app, staff_client, admin_client):
    for client in (staff_client, admin_client):
        for url in URLS:
            assert client.get(url).status_code == 200, url
    assert 'href="/reports"' in staff_client.get("/").get_data(as_text=True)


def test_pages_pass_the_content_security_policy(app, staff_client):
    """No inline script, no style attribute, nothing from another origin: the charts are drawn with SVG
    presentation attributes."""
    import re

    from reports_world import seed

    seed(app)
    for url in URLS[:5]:
        html = staff_client.get(url).get_data(as_text=True)
        assert " style=" not in html and "<style" not in html
        assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/bootstrap/static/umd/popper.min.js">',
                                                          '<script src="/bootstrap/static/js/bootstrap.min.js">',
                                                          '<script src="/static/app.js">'], url
        assert not re.search(r"\son[a-z]+=", html)
        main = html[html.index("<main"):]
        assert "http://" not in main.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in main
