"""Balance of candidates and selected experts per year against the registry (world in reports_world.py)."""
from __future__ import annotations

import pytest

from reports_world import bars, seed, svgs, table


@pytest.fixture
def world(app):
    return seed(app)


def test_balance_counts(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        data = svc.balance(svc.ReportFilters())
    assert data.years == [2023, 2024]
    # the registry: e1-e5 (e6 waits for review)
    assert data.registry_total == 5
    assert data.registry == {
        "gender": {"female": 2, "male": 2, "none": 1},
        "region": {"flanders": 2, "wallonia": 1, "brussels": 1, "none": 1},
        "discipline": {"natural-sciences": 2, "social-sciences": 1, "ilk": 2, "none": 1},
        "career_stage": {"early": 1, "mid": 1, "senior": 2, "none": 1},
        "ilk": {"yes": 2, "no": 3},
    }
    # 2023: e1, e2, e5 on C1's slate (e4 withdrawn); e1 selected
    assert data.candidates_total == {2023: 3, 2024: 4} and data.selected_total == {2023: 1, 2024: 2}
    assert data.candidates[2023] == {
        "gender": {"female": 1, "male": 1, "none": 1},
        "region": {"flanders": 1, "wallonia": 1, "none": 1},
        "discipline": {"natural-sciences": 1, "social-sciences": 1, "ilk": 1, "none": 1},
        "career_stage": {"early": 1, "senior": 1, "none": 1},
        "ilk": {"yes": 1, "no": 2},
    }
    assert data.selected[2023] == {"gender": {"female": 1}, "region": {"flanders": 1},
                                   "discipline": {"natural-sciences": 1}, "career_stage": {"early": 1},
                                   "ilk": {"no": 1}}
    # 2024: e1, e2, e3 on C2, e5 and e3 on C3 (e3 counted once); e1 and e3 selected
    assert data.candidates[2024] == {
        "gender": {"female": 2, "male": 1, "none": 1},
        "region": {"flanders": 1, "wallonia": 1, "brussels": 1, "none": 1},
        "discipline": {"natural-sciences": 1, "social-sciences": 1, "ilk": 2, "none": 1},
        "career_stage": {"early": 1, "mid": 1, "senior": 1, "none": 1},
        "ilk": {"yes": 2, "no": 2},
    }
    assert data.selected[2024] == {"gender": {"female": 2}, "region": {"flanders": 1, "brussels": 1},
                                   "discipline": {"natural-sciences": 1, "ilk": 1},
                                   "career_stage": {"early": 1, "mid": 1}, "ilk": {"yes": 1, "no": 1}}


def test_balance_filters(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        nexus = svc.balance(svc.ReportFilters(deliverable_ids=(world["nexus"],)))
        later = svc.balance(svc.ReportFilters(2024, 2025))
    assert nexus.years == [2023] and nexus.candidates_total == {2023: 3} and nexus.registry_total == 5
    assert later.years == [2024, 2025]
    assert later.candidates_total == {2024: 4, 2025: 0} and later.selected_total == {2024: 2, 2025: 0}
    assert 2023 not in later.candidates


def test_balance_page(app, world, staff_client):
    html = staff_client.get("/reports/balance").get_data(as_text=True)
    gender = table(html, "table-gender")
    assert gender["head"] == ["Category", "Registry (today)", "2023 candidates", "2023 selected", "2024 candidates",
                              "2024 selected"]
    assert gender["rows"] == [
        ["Female", "2 (40%)", "1 (33%)", "1 (100%)", "2 (50%)", "2 (100%)"],
        ["Male", "2 (40%)", "1 (33%)", "0 (0%)", "1 (25%)", "0 (0%)"],
        ["Non-binary", "0 (0%)", "0 (0%)", "0 (0%)", "0 (0%)", "0 (0%)"],
        ["Undisclosed", "0 (0%)", "0 (0%)", "0 (0%)", "0 (0%)", "0 (0%)"],
        ["Not stated", "1 (20%)", "1 (33%)", "0 (0%)", "1 (25%)", "0 (0%)"],
    ]
    assert gender["foot"] == ["Experts", "5", "3", "1", "4", "2"]
    ilk = table(html, "table-indigenous-and-local-knowledge")
    assert ilk["rows"] == [["ILK", "2 (40%)", "1 (33%)", "0 (0%)", "2 (50%)", "1 (50%)"],
                           ["Not ILK", "3 (60%)", "2 (67%)", "1 (100%)", "2 (50%)", "1 (50%)"]]
    discipline = table(html, "table-discipline")
    assert discipline["rows"][0] == ["Natural sciences", "2 (40%)", "1 (33%)", "1 (100%)", "1 (25%)", "1 (50%)"]
    assert "5 experts in the registry. 2023: 3 candidates, 1 selected; 2024: 4 candidates, 2 selected." in html

    charts = svgs(html)
    assert set(charts) == {f"chart-balance-{d}" for d in ("gender", "region", "discipline", "career_stage", "ilk")}
    gender_bars = bars(charts["chart-balance-gender"])
    # one bar per category and population; the widths are shares of the population's bar (380 px = 100 %)
    registry = {s: v for s, c, v in gender_bars if c == "Registry (today)"}
    assert registry == {"female": 2, "male": 2, "non_binary": 0, "undisclosed": 0, "none": 1}
    widths = {(r.get("data-series"), r.get("data-category")): float(r.get("width"))
              for r in charts["chart-balance-gender"].iter("{http://www.w3.org/2000/svg}rect")
              if r.get("class") == "bar"}
    assert widths[("female", "Registry (today)")] == 152.0  # 2/5 of 380
    assert widths[("female", "2024 selected")] == 380.0
    assert widths[("male", "2023 selected")] == 0.0
