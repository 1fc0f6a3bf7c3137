"""The ``focalpoint`` command line: through click's runner on app.cli (both databases), and the real
console script in a subprocess against a temporary SQLite database."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import login

ROOT = Path(__file__).resolve().parents[1]
BELGIAN = {
    "BE-BXL": "Brussels administration (Brussels Environment)",
    "BE-FED-ENV": "Federal Public Service Health, Food Chain Safety and Environment (DG Environment)",
    "BE-FED-FA": "Federal Public Service Foreign Affairs",
    "BE-VL": "Flemish administration (Department of Environment)",
    "BE-WAL": "Walloon administration (SPW Agriculture, Natural Resources and Environment)",
}
DEMO_EMAILS = ["admin@focalpoint.example", "staff@focalpoint.example", "expert@focalpoint.example",
               "reviewer@focalpoint.example", "reviewer.wal@focalpoint.example", "reviewer.fed@focalpoint.example"]
DEMO_LINE = re.compile(r"^\s+demo (\S+)\s+(\S+@focalpoint\.example)\s+password: (\S+)$", re.M)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>IPBES notifications</title><link>https://www.ipbes.net/</link>
<description>Notifications</description>
<item><title>EM/2031/21: Call for nominations of experts for the nexus assessment</title>
<link>https://www.ipbes.net/notification/em-2031-21</link><guid isPermaLink="false">ipbes-em-2031-21</guid>
<pubDate>Mon, 03 Feb 2031 09:00:00 GMT</pubDate>
<description>&lt;p&gt;Governments are invited to nominate experts. Nominations must be submitted by 15 May 2031.&lt;/p&gt;</description></item>
<item><title>REMINDER: EM/2031/21: Call for nominations of experts</title>
<link>https://www.ipbes.net/notification/em-2031-21-reminder</link><guid isPermaLink="false">ipbes-em-2031-21-r</guid>
<pubDate>Mon, 05 May 2031 09:00:00 GMT</pubDate>
<description>With reference to notification EM/2031/21, we remind you that nominations close on 15 May 2031.</description></item>
</channel></rss>"""


# --- helpers --------------------------------------------------------------------------------------
@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def row_counts(app) -> dict[str, int]:
    from focalpoint.extensions import db

    with app.app_context():
        return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
                for t in db.metadata.sorted_tables}


def demo_passwords(output: str) -> dict[str, str]:
    return {email: password for _roles, email, password in DEMO_LINE.findall(output)}


@pytest.fixture
def rss_server():
    """A tiny RSS feed on 127.0.0.1, served by http.server in a thread."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/feed.xml":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(RSS)))
            self.end_headers()
            self.wfile.write(RSS)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()
    thread.join(5)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


# --- init -------------------------------------------------------------------------------------------
def test_init_twice_is_idempotent(app, cli):
    first = cli("init")
    assert first.exit_code == 0, first.output
    before = row_counts(app)
    assert before["administrations"] == 5
    second = cli("init")
    assert second.exit_code == 0, second.output
    assert second.output.strip().splitlines()[-1] == (
        "Database ready; reference data: 0 deliverables added, 0 terms added, 0 plenary_sessions added, "
        "0 administrations added")
    assert row_counts(app) == before


def test_init_demo_prints_one_line_per_demo_user_and_keeps_the_passwords(app, cli):
    first = cli("init", "--demo")
    assert first.exit_code == 0, first.output
    passwords = demo_passwords(first.output)
    assert sorted(passwords) == sorted(DEMO_EMAILS)
    assert len(DEMO_LINE.findall(first.output)) == len(DEMO_EMAILS)
    assert all(len(p) >= 12 for p in passwords.values())
    assert len(set(passwords.values())) == len(DEMO_EMAILS)
    counts = row_counts(app)
    assert counts["users"] == len(DEMO_EMAILS)
    assert counts["notifications"] == 8

    second = cli("init", "--demo")
    assert second.exit_code == 0, second.output
    assert demo_passwords(second.output) == passwords
    assert "Demo data: 0 demo notifications added (8 in the demo set)" in second.output
    again = row_counts(app)
    assert {k: v for k, v in again.items() if k != "audit_entries"} == \
        {k: v for k, v in counts.items() if k != "audit_entries"}

    # The printed passwords open the accounts, with the right role.
    staff = app.test_client()
    assert login(staff, "staff@focalpoint.example", passwords["staff@focalpoint.example"]).status_code == 302
    assert staff.get("/notifications").status_code == 200
    expert = app.test_client()
    assert login(expert, "expert@focalpoint.example", passwords["expert@focalpoint.example"]).status_code == 302
    assert expert.get("/notifications").status_code == 403
    with app.app_context():
        from focalpoint.auth.models import User
        from focalpoint.extensions import db

        reviewer = db.session.scalar(sa.select(User).where(User.email == "reviewer@focalpoint.example"))
        assert reviewer.administration.code == "BE-VL"


def test_demo_users_added_later_get_a_password_and_earlier_ones_keep_theirs(app, cli):
    """An instance made by an older demo (fewer users) keeps its passwords; the new demo users get one."""
    path = Path(app.instance_path) / "demo_passwords.json"
    path.write_text(json.dumps({"staff@focalpoint.example": "demo-kept-password-1"}))
    result = cli("init", "--demo")
    assert result.exit_code == 0, result.output
    passwords = demo_passwords(result.output)
    assert passwords["staff@focalpoint.example"] == "demo-kept-password-1"
    assert sorted(passwords) == sorted(DEMO_EMAILS)
    assert json.loads(path.read_text()) == passwords


# --- users ------------------------------------------------------------------------------------------
def _user(app, email):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        return None if user is None else (sorted(str(r) for r in user.roles),
                                          user.administration.code if user.administration else None, user.name)


def test_users_add_reads_the_password_from_stdin(app, cli):
    result = cli("users", "add", "Rita@Example.org", "--role", "reviewer", "--administration", "BE-WAL",
                 "--name", "Rita Reviewer", input="a long stdin password\n")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Created rita@example.org (reviewer)"
    assert _user(app, "rita@example.org") == (["reviewer"], "BE-WAL", "Rita Reviewer")
    assert login(app.test_client(), "rita@example.org", "a long stdin password").status_code == 302


def test_users_add_takes_the_administration_by_name_and_several_roles(app, cli):
    result = cli("users", "add", "rob@example.org", "--role", "reviewer", "--role", "expert",
                 "--administration", BELGIAN["BE-FED-FA"].upper(), input="another long password\n")
    assert result.exit_code == 0, result.output
    assert _user(app, "rob@example.org") == (["expert", "reviewer"], "BE-FED-FA", "")


def test_users_add_refuses_an_unknown_administration(app, cli):
    result = cli("users", "add", "x@example.org", "--role", "reviewer", "--administration", "BE-NOPE",
                 input="a long stdin password\n")
    assert result.exit_code == 1
    assert "Error: No administration named or coded 'BE-NOPE' (see: focalpoint administrations list)." in result.output
    assert _user(app, "x@example.org") is None


@pytest.mark.parametrize(("args", "password", "message"), [
    (("--role", "reviewer"), "a long stdin password", "Error: A reviewer must belong to an administration."),
    (("--role", "staff"), "short", "Error: The password must have at least 10 characters."),
    (("--role", "staff"), "", "Error: The password must have at least 10 characters."),
])
def test_users_add_refusals_exit_non_zero_with_the_reason(app, cli, args, password, message):
    result = cli("users", "add", "x@example.org", *args, input=password + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert _user(app, "x@example.org") is None


def test_users_add_refuses_a_duplicate_and_an_unknown_role(app, cli, make_user):
    make_user("taken@example.org", "staff")
    duplicate = cli("users", "add", "taken@example.org", "--role", "expert", input="a long stdin password\n")
    assert duplicate.exit_code == 1
    assert "Error: A user with the e-mail address taken@example.org already exists." in duplicate.output
    assert _user(app, "taken@example.org")[0] == ["staff"]
    unknown_role = cli("users", "add", "y@example.org", "--role", "root", input="a long stdin password\n")
    assert unknown_role.exit_code == 2
    assert _user(app, "y@example.org") is None


# --- administrations --------------------------------------------------------------------------------
def test_administrations_list_json_has_the_five_belgian_ones(cli):
    result = cli("administrations", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {a["code"]: a["name"] for a in data} == BELGIAN
    assert [a["name"] for a in data] == sorted(BELGIAN.values())
    assert all(a["active"] is True and isinstance(a["id"], int) for a in data)
    text = cli("administrations", "list")
    assert text.exit_code == 0
    assert len(text.output.strip().splitlines()) == 5
    assert "BE-WAL       Walloon administration" in text.output


# --- feeds ------------------------------------------------------------------------------------------
def test_feeds_add_and_list_json(app, cli):
    added = cli("feeds", "add", "IPBES", "https://www.ipbes.net/notifications/feed", "--interval", "30")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "Added feed source IPBES: https://www.ipbes.net/notifications/feed (every 30 min)"
    data = json.loads(cli("feeds", "list", "--json").output)
    assert len(data) == 1
    source = data[0]
    assert {"name", "url", "last_polled_at", "last_error"} <= set(source)
    assert (source["name"], source["url"], source["last_polled_at"], source["last_error"],
            source["interval_minutes"], source["active"], source["notifications"]) == (
        "IPBES", "https://www.ipbes.net/notifications/feed", None, None, 30, True, 0)


def test_feeds_add_refuses_a_duplicate_name_and_a_bad_url(app, cli):
    assert cli("feeds", "add", "IPBES", "https://www.ipbes.net/feed").exit_code == 0
    duplicate = cli("feeds", "add", "IPBES", "https://other.example.org/feed")
    assert duplicate.exit_code == 1
    assert "Error: A source named 'IPBES' already exists." in duplicate.output
    bad = cli("feeds", "add", "Local file", "file:///etc/passwd")
    assert bad.exit_code == 1
    assert "Error: The feed address must be an http:// or https:// URL." in bad.output
    too_often = cli("feeds", "add", "Hammer", "https://example.org/feed", "--interval", "1")
    assert too_often.exit_code == 1
    assert "Error: The polling interval must be at least 5 minutes." in too_often.output
    data = json.loads(cli("feeds", "list", "--json").output)
    assert [(s["name"], s["url"]) for s in data] == [("IPBES", "https://www.ipbes.net/feed")]


# --- ingest -----------------------------------------------------------------------------------------
def test_ingest_polls_every_source_and_a_failure_does_not_stop_the_others(app, cli, rss_server):
    dead = closed_port_url()
    assert cli("feeds", "add", "A dead relay", dead).exit_code == 0
    assert cli("feeds", "add", "IPBES", rss_server).exit_code == 0

    result = cli("ingest")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"A dead relay: ERROR .+ \(\d+ ms\)", lines[0]), lines[0]
    assert "refused" in lines[0].lower()
    assert re.fullmatch(r"IPBES: 2 items, 2 new, 0 updated \(\d+ ms\)", lines[1]), lines[1]

    feeds = {s["name"]: s for s in json.loads(cli("feeds", "list", "--json").output)}
    assert feeds["IPBES"]["last_error"] is None
    assert feeds["IPBES"]["last_polled_at"] is not None
    assert feeds["IPBES"]["notifications"] == 2
    assert "refused" in feeds["A dead relay"]["last_error"].lower()
    assert feeds["A dead relay"]["last_polled_at"] is not None

    notifications = json.loads(cli("notifications", "list", "--json").output)
    by_guid = {n["guid"]: n for n in notifications}
    assert set(by_guid) == {"ipbes-em-2031-21", "ipbes-em-2031-21-r"}
    original, reminder = by_guid["ipbes-em-2031-21"], by_guid["ipbes-em-2031-21-r"]
    assert (original["reference"], original["kind"], original["is_reminder"], original["source"]) == (
        "EM/2031/21", "expert_call", False, "IPBES")
    assert (reminder["is_reminder"], reminder["related_references"], reminder["original_id"]) == (
        True, ["EM/2031/21"], original["id"])

    # Polling again: nothing new, and still non-zero because of the dead source.
    again = cli("ingest")
    assert again.exit_code == 1
    assert re.search(r"^IPBES: (2 items, 0 new, 0 updated|not modified) \(\d+ ms\)$", again.output, re.M)
    assert len(json.loads(cli("notifications", "list", "--json").output)) == 2


def test_ingest_one_source_by_name_exits_zero_when_it_works(app, cli, rss_server):
    assert cli("feeds", "add", "A dead relay", closed_port_url()).exit_code == 0
    assert cli("feeds", "add", "IPBES", rss_server).exit_code == 0
    result = cli("ingest", "IPBES")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"IPBES: 2 items, 2 new, 0 updated \(\d+ ms\)\n", result.output)
    feeds = {s["name"]: s for s in json.loads(cli("feeds", "list", "--json").output)}
    assert feeds["A dead relay"]["last_polled_at"] is None  # not polled
    unknown = cli("ingest", "Nope")
    assert unknown.exit_code == 1
    assert "Error: No feed source named 'Nope' (see: focalpoint feeds list)." in unknown.output


def test_ingest_without_sources_says_so(cli):
    result = cli("ingest")
    assert result.exit_code == 0
    assert result.output == "No active feed sources.\n"


# --- notifications ----------------------------------------------------------------------------------
def test_notifications_list_json_has_the_promised_keys_and_values(app, cli):
    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual

    with app.app_context():
        n = create_manual(title="EM/2031/05: Call for inputs on the work plan",
                          text="Governments are invited to submit their inputs by 15 March 2031.",
                          link="https://www.ipbes.net/notification/em-2031-05", published=dt.date(2031, 1, 10),
                          actor=None)
        db.session.commit()
        nid, guid = n.id, n.guid
    result = cli("notifications", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data) == 1
    item = data[0]
    assert {"id", "guid", "link", "title", "reference", "kind", "is_reminder", "related_references", "published",
            "deadlines", "status"} <= set(item)
    assert {k: item[k] for k in ("id", "guid", "link", "title", "reference", "kind", "is_reminder",
                                 "related_references", "published", "status")} == {
        "id": nid, "guid": guid, "link": "https://www.ipbes.net/notification/em-2031-05",
        "title": "EM/2031/05: Call for inputs on the work plan", "reference": "EM/2031/05", "kind": "inputs_call",
        "is_reminder": False, "related_references": [], "published": "2031-01-10T12:00:00+00:00", "status": "new"}
    assert [{k: d[k] for k in ("date", "label", "text")} for d in item["deadlines"]] == [
        {"date": "2031-03-15", "label": "inputs",
         "text": "Governments are invited to submit their inputs by 15 March 2031."}]
    assert guid.startswith("manual:")

    filtered = json.loads(cli("notifications", "list", "--json", "--status", "done").output)
    assert filtered == []
    text = cli("notifications", "list")
    assert text.exit_code == 0
    assert "EM/2031/05" in text.output and "2031-03-15" in text.output


# --- the real console script ------------------------------------------------------------------------
def _console_script() -> str:
    candidate = Path(sys.executable).parent / "focalpoint"
    found = str(candidate) if candidate.exists() else shutil.which("focalpoint")
    assert found, "the focalpoint console script is not installed (pip install -e .)"
    return found


def _sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_the_focalpoint_console_script_end_to_end(tmp_path):
    script = _console_script()
    db_path = tmp_path / "focalpoint.db"
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "FLASK_APP")}
    env.update(FOCALPOINT_ENV="local", DATABASE_URL=f"sqlite:///{db_path}", FOCALPOINT_INSTANCE=str(instance))

    def run(*args, stdin=""):
        return subprocess.run([script, *args], env=env, cwd=tmp_path, input=stdin, capture_output=True, text=True,
                              timeout=120)

    first = run("init")
    assert first.returncode == 0, first.stderr
    assert "Database ready; reference data:" in first.stdout
    counts = _sqlite_counts(db_path)
    assert counts["administrations"] == 5
    assert counts["alembic_version"] == 1
    assert (instance / "secret_key").is_file()  # a local install keeps its generated key

    demo = run("init", "--demo")
    assert demo.returncode == 0, demo.stderr
    passwords = demo_passwords(demo.stdout)
    assert sorted(passwords) == sorted(DEMO_EMAILS)
    demo_again = run("init", "--demo")
    assert demo_again.returncode == 0, demo_again.stderr
    assert demo_passwords(demo_again.stdout) == passwords
    after_demo = _sqlite_counts(db_path)
    assert after_demo["users"] == len(DEMO_EMAILS)
    assert after_demo["administrations"] == counts["administrations"]

    added = run("users", "add", "walloon@example.org", "--role", "reviewer", "--administration", BELGIAN["BE-WAL"],
                stdin="a password from a pipe\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Created walloon@example.org (reviewer)"
    refused = run("users", "add", "nobody@example.org", "--role", "reviewer", "--administration", "Atlantis",
                  stdin="a password from a pipe\n")
    assert refused.returncode == 1
    assert "No administration named or coded 'Atlantis'" in refused.stderr
    assert _sqlite_counts(db_path)["users"] == len(DEMO_EMAILS) + 1

    # The password typed into the pipe opens the account in the app built from the same environment.
    from config import TestConfig
    from focalpoint import create_app
    from focalpoint.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}")
    client = app.test_client()
    assert login(client, "walloon@example.org", "a password from a pipe").status_code == 302
    assert login(app.test_client(), "reviewer@focalpoint.example",
                 passwords["reviewer@focalpoint.example"]).status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_demo_prints_a_working_link_for_the_demo_experts_invitation(app):
    import re

    runner = app.test_cli_runner()
    result = runner.invoke(args=["init", "--demo"])
    assert result.exit_code == 0, result.output
    links = re.findall(r"answered at http://focalpoint\.test(/respond/[A-Za-z0-9_-]{43})$", result.output, flags=re.M)
    assert len(links) == 1
    page = app.test_client().get(links[0])
    assert page.status_code == 200
    assert "Call for nominations of experts for the second global assessment" in page.get_data(as_text=True)
    # A second start makes a new link; the old one no longer opens the invitation.
    again = runner.invoke(args=["init", "--demo"])
    new = re.findall(r"answered at http://focalpoint\.test(/respond/[A-Za-z0-9_-]{43})$", again.output, flags=re.M)
    assert len(new) == 1 and new != links
    assert app.test_client().get(links[0]).status_code == 404
    assert app.test_client().get(new[0]).status_code == 200
