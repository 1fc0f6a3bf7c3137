"""Only staff (and admins) reach /plenary: reviewers and experts get 403 on every route, anonymous visitors login."""
from __future__ import annotations

import sqlalchemy as sa

from plenary_helpers import add_document, add_item, add_note, add_session, client_for


def _plenary_requests(app, ids) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/plenary"):
            continue
        path = rule.rule
        for name, value in ids.items():
            path = path.replace(f"<int:{name}>", str(value))
        assert "<" not in path, path
        out += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def _snapshot(app):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db
    from focalpoint.positions.models import AgendaItem, PositionNote, SessionDocument
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        counts = {m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
                  for m in (PlenarySession, AgendaItem, SessionDocument, PositionNote)}
        counts["audit"] = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.object_type.in_(
            ["plenary_sessions", "plenary_agenda_items", "plenary_documents", "position_notes"])))
        return counts


def test_reviewers_and_experts_get_403_on_every_plenary_route(app, make_user):
    sid = add_session(app)
    item = add_item(app, sid, "3")
    noted = add_item(app, sid, "4")
    add_note(app, noted)
    document = add_document(app, sid, "IPBES/13/1")
    requests = _plenary_requests(app, {"session_id": sid, "item_id": item, "plenary_document_id": document})
    assert len(requests) >= 14
    before = _snapshot(app)
    data = {"code": "IPBES-20", "number": "9", "title": "x", "symbol": "IPBES/13/9", "item-number": "9",
            "item-title": "x", "doc-symbol": "IPBES/13/9", "doc-title": "x", "paste-lines": "9 x"}
    for email, role, admin in (("rev@example.org", "reviewer", "BE-VL"), ("exp@example.org", "expert", None)):
        client = client_for(app, make_user, email, role, administration=admin)
        for method, path in requests:
            response = client.open(path, method=method, data=data if method == "POST" else None)
            assert response.status_code == 403, (role, method, path)
            assert "Not allowed" in response.get_data(as_text=True)
    anonymous = app.test_client()
    for method, path in requests:
        response = anonymous.open(path, method=method, data=data if method == "POST" else None)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), (method, path)
    assert _snapshot(app) == before


def test_admins_pass(app, admin_client):
    sid = add_session(app)
    for path in ("/plenary", f"/plenary/{sid}", f"/plenary/{sid}/edit", f"/plenary/{sid}/clearance",
                 f"/plenary/{sid}/briefing.docx", "/plenary/new"):
        assert admin_client.get(path).status_code == 200, path
