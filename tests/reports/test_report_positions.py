"""Time from review request to clearance per administration (world in reports_world.py)."""
from __future__ import annotations

import pytest

from reports_world import bars, seed, svgs, table


@pytest.fixture
def world(app):
    return seed(app)


def figures(r) -> tuple:
    return r.code, r.requests, r.cleared, r.objected, r.awaiting, r.median_days, r.mean_days


def test_clearance_times_per_administration(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        data = svc.positions(svc.ReportFilters())
    assert [figures(r) for r in data.rows] == [
        ("BE-BXL", 0, 0, 0, 0, None, None),
        ("BE-FED-FA", 0, 0, 0, 0, None, None),
        ("BE-FED-ENV", 3, 3, 0, 0, 4.5, 5.5),   # 2, 4.5 (the standing clearance after an objection), 10 days
        ("BE-VL", 2, 1, 1, 0, 3.0, 3.0),        # the clearance of R4 was overturned by an objection
        ("BE-WAL", 2, 1, 0, 1, 1.25, 1.25),     # R7 was withdrawn; R6 awaits
    ]
    # 1.25, 2, 3, 4.5, 10 days
    assert figures(data.total) == ("", 7, 5, 1, 1, 3.0, 4.15)


def test_a_year_filter_on_the_requests(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        data = svc.positions(svc.ReportFilters(2024, 2024))
        earlier = svc.positions(svc.ReportFilters(year_to=2023))
    wal = next(r for r in data.rows if r.code == "BE-WAL")
    assert figures(wal) == ("BE-WAL", 1, 0, 0, 1, None, None)
    # an even number of durations: the median is the mean of the middle two (3 and 4.5)
    assert figures(data.total) == ("", 6, 4, 1, 1, 3.75, 4.875)
    assert [figures(r) for r in earlier.rows if r.requests] == [("BE-WAL", 1, 1, 0, 0, 1.25, 1.25)]


def test_positions_page(app, world, staff_client):
    html = staff_client.get("/reports/positions").get_data(as_text=True)
    clearance = table(html, "table-clearance")
    assert clearance["head"] == ["Administration", "Review requests", "Cleared", "Objected", "Awaiting",
                                 "Median days", "Mean days"]
    assert clearance["rows"][2:] == [
        ["Federal Public Service Health, Food Chain Safety and Environment (DG Environment)", "3", "3", "0", "0",
         "4.5", "5.5"],
        ["Flemish administration (Department of Environment)", "2", "1", "1", "0", "3.0", "3.0"],
        ["Walloon administration (SPW Agriculture, Natural Resources and Environment)", "2", "1", "0", "1", "1.3",
         "1.3"]]
    assert clearance["rows"][0][1:] == ["0", "0", "0", "0", "–", "–"]
    assert clearance["foot"] == ["All administrations", "7", "5", "1", "1", "3.0", "4.2"]
    charts = svgs(html)
    # administrations without any clearance have no bar of days
    assert bars(charts["chart-positions-days"]) == [
        ("median", "Federal Public Service Health, Food Chain Safety and Environment", 4.5),
        ("mean", "Federal Public Service Health, Food Chain Safety and Environment", 5.5),
        ("median", "Flemish administration", 3.0), ("mean", "Flemish administration", 3.0),
        ("median", "Walloon administration", 1.25), ("mean", "Walloon administration", 1.25)]
    assert ("awaiting", "Walloon administration", 1) in bars(charts["chart-positions-requests"])
    assert "the deliverable filter does not apply" in html
