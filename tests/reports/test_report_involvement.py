"""Involvement per deliverable and year: the numbers of the hand-worked world in reports_world.py."""
from __future__ import annotations

from fractions import Fraction

import pytest

from reports_world import bars, seed, svgs, table


@pytest.fixture
def world(app):
    return seed(app)


def counts(invited, accepted, declined, candidates, endorsed, submitted, selected) -> dict:
    return {"invited": invited, "accepted": accepted, "declined": declined, "candidates": candidates,
            "endorsed": endorsed, "submitted": submitted, "selected": selected}


def test_involvement_counts_per_deliverable_and_year(app, world):
    from focalpoint.reports import services as svc

    nexus, transformative = world["nexus"], world["transformative"]
    with app.app_context():
        data = svc.involvement(svc.ReportFilters())
    assert [(r.year, r.deliverable_id, r.counts, r.roles) for r in data.rows] == [
        (2023, nexus, counts(4, 2, 1, 3, 2, 2, 1), {"CLA": 1}),
        (2024, transformative, counts(3, 2, 0, 3, 3, 2, 1), {"LA": 1}),
        (2024, None, counts(1, 0, 1, 2, 1, 1, 1), {"FELLOW": 1}),
    ]
    assert [r.rate for r in data.rows] == [Fraction(1, 2), Fraction(1, 2), Fraction(1)]
    assert [(r.year, r.counts, r.roles, r.experts_involved, r.experts_selected, r.rate) for r in data.years] == [
        (2023, counts(4, 2, 1, 3, 2, 2, 1), {"CLA": 1}, 5, 1, Fraction(1, 2)),
        (2024, counts(4, 2, 1, 5, 4, 3, 2), {"LA": 1, "FELLOW": 1}, 4, 2, Fraction(2, 3)),
    ]
    total = data.total
    assert (total.counts, total.roles, total.rate) == (counts(8, 4, 2, 8, 6, 5, 3), {"CLA": 1, "LA": 1, "FELLOW": 1},
                                                       Fraction(3, 5))
    # distinct people over the period: e1-e5 involved (e6 never), e1 and e3 selected
    assert (total.experts_involved, total.experts_selected) == (5, 2)
    assert sorted(data.roles) == ["CLA", "FELLOW", "LA"]
    assert data.deliverables == {nexus: "Nexus (biodiversity, water, food and health)",
                                 transformative: "Transformative change"}


def test_registry_history_fills_the_years_between(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        data = svc.involvement(svc.ReportFilters())
        nexus_only = svc.involvement(svc.ReportFilters(deliverable_ids=(world["nexus"],)))
    # e4's RE has no year: not in the history
    assert data.history == {2019: {"LA": 1}, 2020: {}, 2021: {}, 2022: {}, 2023: {"CLA": 1},
                            2024: {"LA": 1, "FELLOW": 1}}
    assert nexus_only.history == {2019: {"LA": 1}, 2020: {}, 2021: {}, 2022: {}, 2023: {"CLA": 1}}


def test_filters_by_year_and_deliverable(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        in_2024 = svc.involvement(svc.ReportFilters(2024, 2024))
        transformative = svc.involvement(svc.ReportFilters(deliverable_ids=(world["transformative"],)))
        range_ = svc.involvement(svc.ReportFilters(2021, 2024))
        nothing = svc.involvement(svc.ReportFilters(2030, 2031))
    assert [(r.year, r.deliverable_id) for r in in_2024.rows] == [(2024, world["transformative"]), (2024, None)]
    assert (in_2024.total.counts, in_2024.total.experts_involved) == (counts(4, 2, 1, 5, 4, 3, 2), 4)
    assert [(r.year, r.deliverable_id, r.counts) for r in transformative.rows] == [
        (2024, world["transformative"], counts(3, 2, 0, 3, 3, 2, 1))]
    # e1 and e3 were invited (e5 too), e2 is on the slate: 4 people
    assert (transformative.total.experts_involved, transformative.total.experts_selected) == (4, 1)
    assert [y.year for y in transformative.years] == [2024]
    # a range shows every year, those without any call as zeros
    assert [(y.year, y.counts["invited"]) for y in range_.years] == [(2021, 0), (2022, 0), (2023, 4), (2024, 4)]
    assert nothing.rows == [] and nothing.total.counts == counts(0, 0, 0, 0, 0, 0, 0)
    assert [y.year for y in nothing.years] == [2030, 2031] and nothing.total.rate is None


def test_involvement_page_shows_the_tables_and_charts(app, world, staff_client):
    response = staff_client.get("/reports/involvement")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    per_year = table(html, "table-per-year")
    assert per_year["head"] == ["Year", "Invited", "Accepted", "Declined", "Candidates", "Endorsed", "Submitted",
                                "Selected", "Selection rate", "Experts involved", "Experts selected", "CLA", "LA",
                                "FELLOW"]
    assert per_year["rows"] == [["2023", "4", "2", "1", "3", "2", "2", "1", "50%", "5", "1", "1", "0", "0"],
                                ["2024", "4", "2", "1", "5", "4", "3", "2", "67%", "4", "2", "0", "1", "1"]]
    assert per_year["foot"] == ["Total", "8", "4", "2", "8", "6", "5", "3", "60%", "5", "2", "1", "1", "1"]
    detail = table(html, "table-per-deliverable-and-year")
    assert detail["rows"] == [
        ["2023", "Nexus (biodiversity, water, food and health)", "4", "2", "1", "3", "2", "2", "1", "50%", "1", "0", "0"],
        ["2024", "Transformative change", "3", "2", "0", "3", "3", "2", "1", "50%", "0", "1", "0"],
        ["2024", "No deliverable", "1", "0", "1", "2", "1", "1", "1", "100%", "0", "0", "1"]]
    assert '<abbr title="Selected as: Coordinating lead author">CLA</abbr>' in html
    assert "8 invited, 4 accepted, 5 submitted, 3 selected (selection rate 60%); 5 experts involved." in html

    charts = svgs(html)
    assert set(charts) == {"chart-involvement-years", "chart-involvement-experts", "chart-involvement-roles",
                           "chart-involvement-deliverables", "chart-involvement-history"}
    funnel = bars(charts["chart-involvement-years"])
    assert [(s, c, v) for s, c, v in funnel if c == "2024"] == [
        ("invited", "2024", 4), ("accepted", "2024", 2), ("candidates", "2024", 5), ("endorsed", "2024", 4),
        ("submitted", "2024", 3), ("selected", "2024", 2)]
    assert bars(charts["chart-involvement-experts"]) == [("involved", "2023", 5), ("selected", "2023", 1),
                                                         ("involved", "2024", 4), ("selected", "2024", 2)]
    roles = bars(charts["chart-involvement-roles"])
    assert {(s, c): v for s, c, v in roles if v} == {("CLA", "2023"): 1, ("LA", "2024"): 1, ("FELLOW", "2024"): 1}


def test_involvement_page_filters(app, world, staff_client):
    html = staff_client.get(f"/reports/involvement?from=2024&to=2024&deliverable={world['transformative']}") \
        .get_data(as_text=True)
    assert table(html, "table-per-deliverable-and-year")["rows"] == [
        ["2024", "Transformative change", "3", "2", "0", "3", "3", "2", "1", "50%", "1"]]
    # only the roles selected in the period have a column (LA here)
    assert table(html, "table-per-year")["rows"] == [["2024", "3", "2", "0", "3", "3", "2", "1", "50%", "4", "1", "1"]]
    # the form keeps the filters and the downloads carry them
    assert 'name="from" type="number" inputmode="numeric" min="2000" max="2100" value="2024"' in html
    assert f'<option value="{world["transformative"]}" selected>Transformative change</option>' in html
    assert f'href="/reports/involvement.xlsx?from=2024&amp;to=2024&amp;deliverable={world["transformative"]}"' in html


def test_bad_filters_are_left_out_with_a_message(app, world, staff_client):
    response = staff_client.get("/reports/involvement?from=abc&to=99999&deliverable=x&deliverable=424242")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The first year is not a year between 2000 and 2100: it was left out." in html
    assert "The last year is not a year between 2000 and 2100: it was left out." in html
    assert "A deliverable asked for is not in the list: it was left out." in html
    assert table(html, "table-per-year")["foot"][:2] == ["Total", "8"]
    swapped = staff_client.get("/reports/involvement?from=2024&to=2023").get_data(as_text=True)
    assert "The first year came after the last: the two were swapped." in swapped
    assert [row[0] for row in table(swapped, "table-per-year")["rows"]] == ["2023", "2024"]


def test_an_empty_database_shows_empty_reports(app, staff_client):
    for report in ("involvement", "balance", "consultations", "positions"):
        response = staff_client.get(f"/reports/{report}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "Nothing to show for these filters." in html or report == "positions"
    html = staff_client.get("/reports/involvement").get_data(as_text=True)
    assert table(html, "table-per-year")["rows"] == [["Nothing for these filters."]]
    assert svgs(html) == {}
