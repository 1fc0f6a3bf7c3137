"""The interface in French and Dutch: who sees which language, and catalogs in step with the code.

The catalog checks extract the strings of the code as it is now (through scripts/translations.sh), so
a string added without a translation fails here with the list of what is missing.
"""
from __future__ import annotations

import datetime as dt
import html as html_lib
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "focalpoint" / "translations"
LANGUAGES = ("fr", "nl")
FIX = ("Run scripts/translations.sh, translate the entries listed in "
       "focalpoint/translations/<lang>/LC_MESSAGES/messages.po (no '#, fuzzy' left), "
       "run the script again and commit the .pot, .po and .mo files.")
TODAY = dt.datetime.now(ZoneInfo("Europe/Brussels")).date()  # TestConfig's display zone


# --- reading pages ------------------------------------------------------------------------------------
def texts(page: str, tag: str, attrs: str = "") -> list[str]:
    """The text of every <tag ...attrs...> element, inner tags removed, spaces collapsed."""
    found = re.findall(rf"<{tag}\b[^>]*{attrs}[^>]*>(.*?)</{tag}>", page, flags=re.S)
    return [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", f)).split()) for f in found]


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]*)">', page).group(1)


# --- who sees which language -------------------------------------------------------------------------
LOGIN_PAGE = {
    "en": ("Log in", ["E-mail address", "Password"]),
    "fr": ("Se connecter", ["Adresse e-mail", "Mot de passe"]),
    "nl": ("Aanmelden", ["E-mailadres", "Wachtwoord"]),
}


@pytest.mark.parametrize("accept,lang", [
    ("fr", "fr"),
    ("fr-BE,fr;q=0.9,en;q=0.5", "fr"),
    ("nl", "nl"),
    ("nl-BE,nl;q=0.9,fr-BE;q=0.8", "nl"),
    ("en-GB,en;q=0.9,fr;q=0.5", "en"),
    ("de-DE,de;q=0.9", "en"),  # nothing we speak: the default
    (None, "en"),
])
def test_login_page_follows_the_browser_language(client, accept, lang):
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get("/login", headers=headers)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    heading, labels = LOGIN_PAGE[lang]
    assert html_lang(page) == lang
    assert texts(page, "title") == [f"{heading} · Focal Point"]
    assert texts(page, "h1") == [heading]
    assert texts(page, "label") == labels
    assert texts(page, "button", 'type="submit"') == [heading]


@pytest.mark.parametrize("lang,title,message", [
    ("fr", "Introuvable", "Il n'y a rien à cette adresse."),
    ("nl", "Niet gevonden", "Er staat niets op dit adres."),
])
def test_error_pages_are_translated(client, lang, title, message):
    response = client.get("/no-such-page", headers={"Accept-Language": lang})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert html_lang(page) == lang
    assert texts(page, "h1") == [f"{title} (404)"]
    assert texts(page, "p")[0] == message


@pytest.mark.parametrize("lang,message", [
    ("fr", "Adresse e-mail ou mot de passe incorrect."),
    ("nl", "Ongeldig e-mailadres of wachtwoord."),
])
def test_a_refused_login_is_explained_in_the_browser_language(client, make_user, lang, message):
    make_user("someone@example.org", "staff")
    response = client.post("/login", data={"email": "someone@example.org", "password": "not the password"},
                           headers={"Accept-Language": lang})
    assert response.status_code == 401
    assert texts(response.get_data(as_text=True), "div", 'class="alert alert-danger"') == [message]


def _add_notification(app) -> int:
    """A new call for experts published on 10 March 2025, with a nomination deadline in three days."""
    from focalpoint.extensions import db
    from focalpoint.notifications.models import (Deadline, Notification, NotificationKind, NotificationStatus,
                                                 Origin)
    from focalpoint.notifications.services import due_moment

    due = TODAY + dt.timedelta(days=3)
    with app.app_context():
        n = Notification(origin=Origin.MANUAL, guid="urn:test:i18n", title="EM/2025/07: Call for experts",
                         text="", summary_html="", reference="EM/2025/07",
                         published_at=dt.datetime(2025, 3, 10, 9, tzinfo=dt.timezone.utc),
                         kind=NotificationKind.EXPERT_CALL, kind_auto=NotificationKind.EXPERT_CALL,
                         kind_rule="test", status=NotificationStatus.NEW, related_references=[])
        n.deadlines.append(Deadline(date=due, due_at=due_moment(due, None, None), label="nomination",
                                    text="Nominations are due in three days.", source="text"))
        db.session.add(n)
        db.session.commit()
        return n.id


STAFF_PAGES = {
    "nl": {"nav": ["Dashboard", "Notificaties"], "logout": "Afmelden",
           "dashboard_h2": ["Eerstvolgende deadlines", "Nieuwe notificaties 1"],
           "due_head": ["Vervaldatum", "Wat", "Betreft", "Van wie"], "what": "Secretariaat: Nomination",
           "in_3_days": "over 3 dagen", "kind": "Oproep voor experts", "all_new": "Alle nieuwe notificaties",
           "list_h1": ["Notificaties"], "add": "Een notificatie toevoegen", "count": "1–1 van 1",
           "columns": ["Gepubliceerd ▼", "Referentie", "Titel", "Soort", "Volgende deadline", "Status",
                       "Toewijzing"],
           "status": "Nieuw", "empty_upload": "Het bestand is leeg."},
    "fr": {"nav": ["Tableau de bord", "Notifications"], "logout": "Se déconnecter",
           "dashboard_h2": ["Prochaines échéances", "Nouvelles notifications 1"],
           "due_head": ["Échéance", "Quoi", "Objet", "De qui"], "what": "Secrétariat : Nomination",
           "in_3_days": "dans 3 jours", "kind": "Appel à experts",
           "all_new": "Toutes les nouvelles notifications",
           "list_h1": ["Notifications"], "add": "Ajouter une notification", "count": "1–1 sur 1",
           "columns": ["Publication ▼", "Référence", "Titre", "Type", "Prochaine date limite", "Statut",
                       "Attribution"],
           "status": "Nouveau", "empty_upload": "Le fichier est vide."},
}


@pytest.mark.parametrize("lang,browser", [("nl", "fr-BE,fr;q=0.9"), ("fr", "nl-BE,nl;q=0.9,en;q=0.5")])
def test_staff_see_their_chosen_language_whatever_the_browser_asks(app, make_user, lang, browser):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    user_id = make_user("polyglot@example.org", "staff", name="Pol Yglot")
    with app.app_context():
        db.session.get(User, user_id).locale = lang
        db.session.commit()
    _add_notification(app)
    expected = STAFF_PAGES[lang]
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = browser
    assert login(client, "polyglot@example.org", PASSWORD).status_code == 302

    dashboard = client.get("/").get_data(as_text=True)
    assert html_lang(dashboard) == lang
    assert texts(dashboard, "a", 'class="nav-link')[:2] == expected["nav"]
    assert texts(dashboard, "button", 'class="btn btn-link nav-link"') == [expected["logout"]]
    assert texts(dashboard, "h2") == expected["dashboard_h2"]
    assert texts(dashboard, "th") == expected["due_head"]
    due_cell, what_cell, *_ = texts(dashboard, "td")
    when = format_date(TODAY + dt.timedelta(days=3), "medium", locale=lang)
    assert due_cell == f"{when} {expected['in_3_days']}"
    assert what_cell == expected["what"]
    assert texts(dashboard, "span", 'class="badge text-bg-info"') == [expected["kind"]]
    assert expected["all_new"] in texts(dashboard, "a")

    inbox = client.get("/notifications").get_data(as_text=True)
    assert html_lang(inbox) == lang
    assert texts(inbox, "h1") == expected["list_h1"]
    assert expected["add"] in texts(inbox, "a", 'class="btn btn-primary"')
    assert texts(inbox, "p", 'class="text-body-secondary"') == [expected["count"]]
    assert texts(inbox, "th") == expected["columns"]
    published = format_date(dt.date(2025, 3, 10), "medium", locale=lang)
    row = [published, "EM/2025/07", "EM/2025/07: Call for experts", expected["kind"], when,
           expected["in_3_days"], expected["status"]]
    assert texts(inbox, "tbody") == [" ".join(row)]

    # A refusal raised by a service (not a form) is translated too.
    refused = client.post("/notifications/upload", data={"file": (io.BytesIO(b" \r\n"), "empty.eml")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400
    flashed = texts(refused.get_data(as_text=True), "div", 'class="alert alert-danger"')
    assert flashed == [expected["empty_upload"]]


# --- the catalogs ------------------------------------------------------------------------------------
def _read_po(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The catalog template of the code as it is now."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(["bash", str(ROOT / "scripts" / "translations.sh"), "--extract-to", str(pot)],
                            cwd=ROOT, env={**os.environ, "PYTHON": sys.executable}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    catalog = _read_po(pot)
    assert len([m for m in catalog if m.id]) > 250  # the extraction really read the code and templates
    return catalog


def _msgids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def test_extraction_finds_strings_everywhere_they_are_marked(extracted):
    """Python gettext and lazy_gettext, N_, templates, underscore folders (_macros), ngettext."""
    where = {m.id: {path for path, _ in m.locations} for m in extracted if m.id}
    assert "focalpoint/auth/forms.py" in where["E-mail address"]  # lazy_gettext as _l
    assert "focalpoint/core/errors.py" in where["Not found"]  # N_
    assert "focalpoint/auth/services.py" in where["A user needs at least one role."]
    assert "templates/auth/login.html" in where["Log in"]
    assert "templates/_macros/forms.html" in where["Previous"]
    assert where[("in %(num)d day", "in %(num)d days")] == {"templates/notifications/_badges.html"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_of_the_code_is_translated(extracted, lang):
    po = _read_po(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    missing = []
    for m in extracted:
        if not m.id:
            continue
        t = po.get(m.id)
        forms = ([t.string] if isinstance(t.string, str) else list(t.string)) if t is not None else []
        if (t is None or t.id != m.id or t.fuzzy or not forms or not all(s.strip() for s in forms)
                or (m.pluralizable and len(forms) != po.num_plurals)):
            missing.append(m.id)
    assert not missing, f"{len(missing)} msgid(s) without a {lang} translation: {missing}\n{FIX}"


def test_committed_template_and_catalogs_hold_exactly_the_strings_of_the_code(extracted):
    code = _msgids(extracted)
    committed = {"messages.pot": _msgids(_read_po(TRANSLATIONS / "messages.pot"))}
    for lang in LANGUAGES:
        catalog = _read_po(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
        committed[f"{lang}/messages.po"] = _msgids(catalog)
    for name, ids in committed.items():
        assert ids == code, (f"{name} is out of date: not in it {sorted(map(str, code - ids))}, "
                             f"no longer in the code {sorted(map(str, ids - code))}\n{FIX}")


def _compiled(catalog) -> dict:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _messages(read_mo(buffer))


def _messages(catalog) -> dict:
    """msgid -> translation; plural ones as tuples (read_mo gives lists, read_po tuples)."""
    def key(value):
        return value if isinstance(value, str) else tuple(value)

    return {key(m.id): key(m.string) for m in catalog if m.id}


PLURALS = {"fr": (2, "(n > 1)"), "nl": (2, "(n != 1)")}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_committed_mo_files_match_their_po(lang):
    po = _read_po(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = read_mo(f)
    expected = _compiled(po)
    committed = _messages(mo)
    stale = sorted(str(key) for key in expected.keys() | committed.keys()
                   if expected.get(key) != committed.get(key))
    assert not stale, f"messages.mo of {lang} differs from its .po on {stale}: run scripts/translations.sh"
    assert (mo.num_plurals, mo.plural_expr) == (po.num_plurals, po.plural_expr) == PLURALS[lang]


PLACEHOLDER = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa])")
BRACED = re.compile(r"\{(\w+)\}")  # {link} in invitation texts, replaced by the code after translation


def _placeholders(text: str) -> set[tuple[str, str]]:
    return set(PLACEHOLDER.findall(text)) | {(name, "{}") for name in BRACED.findall(text)}


def _stray_percent(text: str) -> bool:
    return "%" in PLACEHOLDER.sub("", text).replace("%%", "")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder(lang):
    po = _read_po(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    wrong = []
    for m in po:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        wanted = set().union(*(_placeholders(i) for i in ids))
        for s in strings:
            if s and (_placeholders(s) != wanted or (wanted and _stray_percent(s))):
                wrong.append((m.id, s))
    assert not wrong, (f"{lang}: placeholders changed (keep every %(name)s and {{name}} exactly, "
                       f"write %% for a percent sign): {wrong}")
