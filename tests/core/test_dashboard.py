"""The dashboard's "Due next": one row per obligation, even when reminders repeat it."""
import datetime as dt
import re


def _add(app, title, text):
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title=title, text=text, link=None, published=dt.date.today(), actor=None)
        db.session.commit()
        return n.id, n.original_id, [d.date for d in n.deadlines]


def _due_rows(html: str) -> list[str]:
    section = html.split('id="due-h"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, flags=re.S)[1:]  # skip the header row
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_a_reminder_repeating_its_originals_deadline_adds_no_row(app, staff_client):
    due = dt.date.today() + dt.timedelta(days=40)
    when = f"{due.day} {due:%B %Y}"
    original, _, dates = _add(app, "EM/2031/05: External review of the first order draft of the nexus assessment",
                              f"Please submit your comments by {when}.")
    assert dates == [due]
    reminder, attached_to, dates = _add(
        app, "REMINDER: External review of the first order draft closes soon",
        f"With reference to notification EM/2031/05, the review closes on {when}.")
    assert attached_to == original and dates == [due]

    rows = _due_rows(staff_client.get("/").get_data(as_text=True))
    secretariat = [r for r in rows if "Secretariat" in r]
    national = [r for r in rows if "National deadline" in r]
    assert len(secretariat) == 1 and "EM/2031/05: External review" in secretariat[0]
    assert len(national) == 1 and "EM/2031/05: External review" in national[0]


def test_an_extension_with_a_new_date_keeps_its_own_row(app, staff_client):
    due = dt.date.today() + dt.timedelta(days=40)
    later = due + dt.timedelta(days=14)
    _add(app, "EM/2031/06: Call for inputs on the work programme", f"Please submit your inputs by {due.day} {due:%B %Y}.")
    _add(app, "Extension of deadline: call for inputs on the work programme",
         f"With reference to notification EM/2031/06, the deadline is extended to {later.day} {later:%B %Y}.")
    rows = _due_rows(staff_client.get("/").get_data(as_text=True))
    secretariat = [r for r in rows if "Secretariat" in r]
    assert len(secretariat) == 2
    assert "Extension of deadline" in secretariat[1]
