"""Two people changing the same notification: the later write never silently overwrites."""
import pytest
from sqlalchemy.orm.exc import StaleDataError

from focalpoint.security import roles_required


def _notification(app):
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title="EM/2025/07: Call for nominations of experts", text="", link=None,
                          published=None, actor=None)
        db.session.commit()
        return n.id


def test_a_write_based_on_a_stale_read_is_refused(app):
    from sqlalchemy.orm import Session

    from focalpoint.extensions import db
    from focalpoint.notifications.models import Notification, NotificationStatus

    nid = _notification(app)
    with app.app_context():
        # Mine: read at version 1 (the transaction ends, as a request ends before the form comes back).
        with Session(db.engine, expire_on_commit=False) as mine:
            n = mine.get(Notification, nid)
            mine.commit()
            assert n.version == 1
            # Someone else saves the same row meanwhile (another request, another process).
            with Session(db.engine) as other:
                other.get(Notification, nid).status = NotificationStatus.DONE
                other.commit()
            n.status = NotificationStatus.ARCHIVED
            with pytest.raises(StaleDataError):
                mine.commit()
            mine.rollback()
        stored = db.session.get(Notification, nid)
        assert (stored.status, stored.version) == (NotificationStatus.DONE, 2)


def test_a_conflict_during_a_request_answers_409_without_internals(app, make_user):
    from conftest import login

    def conflicting():
        raise StaleDataError("UPDATE statement on table 'notifications' expected to update 1 row(s); 0 were matched.")

    app.add_url_rule("/test-conflict", "test_conflict", roles_required("staff")(conflicting))
    make_user("staff@example.org", "staff")
    client = app.test_client()
    login(client, "staff@example.org")
    response = client.get("/test-conflict")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else changed this in the meantime." in html
    assert "expected to update" not in html
