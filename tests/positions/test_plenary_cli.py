"""``focalpoint plenary list`` and ``focalpoint positions list`` through click's runner, on both databases."""
from __future__ import annotations

import datetime as dt
import json

from plenary_helpers import TODAY, add_item, add_note, add_session, session_id

DUE = TODAY + dt.timedelta(days=10)


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _world(app):
    sid = add_session(app, "IPBES-13", "Kunming, China", dt.date(2027, 3, 3), dt.date(2027, 3, 8))
    draft = add_note(app, add_item(app, sid, "10"))
    review = add_note(app, add_item(app, sid, "7 (b)"), versions=[{}, {}, {}], status="in_review", requests={
        "BE-VL": [DUE, (3, "cleared", "")], "BE-WAL": [DUE, (3, "objected", "No")], "BE-FED-ENV": [DUE],
        "BE-BXL": [DUE, (2, "cleared", "")]})
    add_item(app, sid, "2")
    approved = add_note(app, add_item(app, session_id(app, "IPBES-12"), "6"), status="approved",
                        requests={"BE-VL": [DUE, (1, "cleared", "")]})
    return draft, review, approved


def test_plenary_list_json(app):
    _world(app)
    result = _invoke(app, "plenary", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [set(r) for r in rows] == [{"id", "code", "place", "start", "end", "items", "notes", "approved"}] * 13
    assert [{k: v for k, v in r.items() if k != "id"} for r in rows[:3]] == [
        {"code": "IPBES-13", "place": "Kunming, China", "start": "2027-03-03", "end": "2027-03-08", "items": 3,
         "notes": 2, "approved": 0},
        {"code": "IPBES-12", "place": "Manchester, United Kingdom", "start": "2026-02-03", "end": "2026-02-08",
         "items": 1, "notes": 1, "approved": 1},
        {"code": "IPBES-11", "place": "Windhoek, Namibia", "start": "2024-12-10", "end": "2024-12-16", "items": 0,
         "notes": 0, "approved": 0}]
    assert rows[0]["id"] == session_id(app, "IPBES-13")
    assert rows[-1]["code"] == "IPBES-1"
    text = _invoke(app, "plenary", "list")
    assert text.exit_code == 0
    assert text.output.splitlines()[:2] == ["IPBES-13  2027-03-03 to 2027-03-08 Kunming, China",
                                            "          items: 3; notes: 2 (0 approved)"]


def test_positions_list_json(app):
    draft, review, approved = _world(app)
    result = _invoke(app, "positions", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"id": review, "session": "IPBES-13", "agenda_item": "7 (b)", "status": "in_review", "version": 3,
         "administrations": {"BE-BXL": "stale", "BE-FED-ENV": "pending", "BE-VL": "cleared", "BE-WAL": "objected"}},
        {"id": draft, "session": "IPBES-13", "agenda_item": "10", "status": "draft", "version": 1,
         "administrations": {}},
        {"id": approved, "session": "IPBES-12", "agenda_item": "6", "status": "approved", "version": 1,
         "administrations": {"BE-VL": "cleared"}}]
    text = _invoke(app, "positions", "list")
    assert text.exit_code == 0
    assert text.output.splitlines()[0] == (
        f"{review:4} IPBES-13  item 7 (b)      in_review v3  BE-BXL=stale BE-FED-ENV=pending BE-VL=cleared "
        "BE-WAL=objected")


def test_lists_when_empty(app):
    result = _invoke(app, "positions", "list", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == []
    assert _invoke(app, "positions", "list").output == "No position notes.\n"
