"""Comments per draft and the share adopted (world in reports_world.py)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from reports_world import bars, seed, svgs, table


@pytest.fixture
def world(app):
    return seed(app)


def figures(r) -> tuple:
    return (r.draft, r.year, r.consultations, r.participants, r.commenters, r.comments, r.decisions, r.outcomes,
            r.share_adopted)


def decisions(adopt, adopt_edited, merge, reject) -> dict:
    return {"adopt": adopt, "adopt_edited": adopt_edited, "merge": merge, "reject": reject}


def outcomes(adopted, rejected, undecided) -> dict:
    return {"adopted": adopted, "rejected": rejected, "undecided": undecided}


def test_comments_per_draft_and_year(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        data = svc.consultations(svc.ReportFilters())
    # K1: c3 merged into the adopted c1 counts as adopted, c5 merged into the rejected c4 as rejected.
    # K2: c8 merged into the undecided c7 is not decided yet.
    assert [figures(r) for r in data.rows] == [
        ("fod", 2023, 1, 2, 2, 6, decisions(1, 1, 2, 1), outcomes(3, 2, 1), Fraction(3, 5)),
        ("fod", 2024, 1, 0, 0, 0, decisions(0, 0, 0, 0), outcomes(0, 0, 0), None),
        ("spm", 2024, 1, 1, 1, 3, decisions(1, 0, 1, 0), outcomes(1, 0, 2), Fraction(1)),
    ]
    assert [figures(r) for r in data.drafts] == [
        ("fod", None, 2, 2, 2, 6, decisions(1, 1, 2, 1), outcomes(3, 2, 1), Fraction(3, 5)),
        ("spm", None, 1, 1, 1, 3, decisions(1, 0, 1, 0), outcomes(1, 0, 2), Fraction(1)),
    ]
    assert [figures(r) for r in data.years] == [
        (None, 2023, 1, 2, 2, 6, decisions(1, 1, 2, 1), outcomes(3, 2, 1), Fraction(3, 5)),
        (None, 2024, 2, 1, 1, 3, decisions(1, 0, 1, 0), outcomes(1, 0, 2), Fraction(1)),
    ]
    assert figures(data.total) == (None, None, 3, 3, 3, 9, decisions(2, 1, 3, 1), outcomes(4, 2, 3), Fraction(2, 3))


def test_consultation_filters(app, world):
    from focalpoint.reports import services as svc

    with app.app_context():
        nexus = svc.consultations(svc.ReportFilters(deliverable_ids=(world["nexus"],)))
        in_2024 = svc.consultations(svc.ReportFilters(2024, 2024))
    assert [(r.draft, r.year, r.comments) for r in nexus.rows] == [("fod", 2023, 6)]
    assert [(r.draft, r.year, r.comments) for r in in_2024.rows] == [("fod", 2024, 0), ("spm", 2024, 3)]
    assert (in_2024.total.consultations, in_2024.total.comments, in_2024.total.commenters) == (2, 3, 1)


def test_consultations_page(app, world, staff_client):
    html = staff_client.get("/reports/consultations").get_data(as_text=True)
    per_draft = table(html, "table-per-draft")
    assert per_draft["head"] == ["Draft", "Consultations", "Experts invited", "Experts who commented", "Comments",
                                 "Adopt", "Adopt edited", "Merged", "Reject", "Adopted in all", "Rejected in all",
                                 "Not decided", "Share adopted"]
    assert per_draft["rows"] == [
        ["First order draft", "2", "2", "2", "6", "1", "1", "2", "1", "3", "2", "1", "60%"],
        ["Summary for policymakers", "1", "1", "1", "3", "1", "0", "1", "0", "1", "0", "2", "100%"]]
    assert per_draft["foot"] == ["Total", "3", "3", "3", "9", "2", "1", "3", "1", "4", "2", "3", "67%"]
    detail = table(html, "table-per-draft-and-year")
    assert detail["rows"][1] == ["2024", "First order draft", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
                                 "–"]
    charts = svgs(html)
    assert bars(charts["chart-consultations-drafts"]) == [
        ("adopted", "First order draft", 3), ("rejected", "First order draft", 2),
        ("undecided", "First order draft", 1), ("adopted", "Summary for policymakers", 1),
        ("rejected", "Summary for policymakers", 0), ("undecided", "Summary for policymakers", 2)]
    assert bars(charts["chart-consultations-share"]) == [("share", "First order draft", 60),
                                                         ("share", "Summary for policymakers", 100)]
    assert "9 comments in 3 consultations; 67% of the decided ones adopted." in html
