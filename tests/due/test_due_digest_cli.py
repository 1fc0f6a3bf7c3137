"""``focalpoint digests send [--dry-run]`` through click's runner, and the real console script in two separate
processes (a restart between two runs), on both databases."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from digest_helpers import NOW, make_person, make_world, outbox

AT = "2026-11-23T08:00+01:00"  # NOW


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["digests", *args])


def marks(app) -> dict[str, object]:
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        return dict(db.session.execute(sa.select(User.email, User.last_digest_at)).all())


def test_a_dry_run_shows_who_would_get_a_digest_and_changes_nothing(app):
    make_person(app, "dora@example.org", "daily")
    make_person(app, "walt@example.org", "weekly")
    make_person(app, "quiet@example.org", "daily", "reviewer", administration="BE-WAL")
    make_person(app, "nina@example.org", "none")
    make_world(app)
    result = invoke(app, "send", "--dry-run", "--at", AT)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "dry-queued dora@example.org  daily 2026-11-23  due=2 new=6  Focal Point digest for November 23, 2026",
        "dry-queued walt@example.org  weekly 2026-W48  due=2 new=6  "
        "Focal Point digest for the week of November 23, 2026",
        "dry-empty  quiet@example.org  daily 2026-11-23  due=0 new=0",
        "Dry run: 2 digest(s) would be queued, 1 with nothing to say, 0 already sent, 0 not due yet. "
        "Nothing was changed.",
    ]
    assert outbox(app) == []
    assert set(marks(app).values()) == {None}


def test_send_queues_once_and_a_second_run_sends_nothing(app):
    dora = make_person(app, "dora@example.org", "daily")
    make_world(app)
    first = invoke(app, "send", "--at", AT)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[-1] == \
        "1 digest(s) queued, 0 with nothing to say, 0 already sent, 0 not due yet."
    assert first.output.splitlines()[0].startswith("queued     dora@example.org  daily 2026-11-23  due=2 new=6")
    second = invoke(app, "send", "--at", "2026-11-23T18:00+01:00")
    assert second.exit_code == 0, second.output
    assert second.output == "0 digest(s) queued, 0 with nothing to say, 0 already sent, 0 not due yet.\n"
    assert outbox(app) == [(f"digest:{dora}:2026-11-23", "dora@example.org")]
    assert marks(app)["dora@example.org"] == NOW


def test_send_json_and_a_moment_before_the_sending_hour(app):
    make_person(app, "dora@example.org", "daily")
    make_world(app)
    early = invoke(app, "send", "--json", "--at", "2026-11-23T06:00+01:00")
    assert early.exit_code == 0, early.output
    assert json.loads(early.output) == {"dry_run": False, "digests": [],
                                        "counts": {"queued": 0, "empty": 0, "already": 0, "waiting": 1}}
    sent = json.loads(invoke(app, "send", "--json", "--at", AT).output)
    [digest] = sent["digests"]
    assert (digest["email"], digest["period"], digest["result"], digest["due"], digest["new"]) == (
        "dora@example.org", "2026-11-23", "queued", 2, 6)


def test_a_bad_moment_is_refused(app):
    for value, message in (("tomorrow", "not a date and time: 'tomorrow'"),
                           ("2026-11-23T08:00", "give the time zone too")):
        result = invoke(app, "send", "--at", value)
        assert result.exit_code == 2
        assert message in result.output
    assert outbox(app) == []


def _console_script() -> str:
    candidate = Path(sys.executable).parent / "focalpoint"
    found = str(candidate) if candidate.exists() else shutil.which("focalpoint")
    assert found, "the focalpoint console script is not installed (pip install -e .)"
    return found


def test_two_processes_one_after_the_other_send_one_digest(app, tmp_path):
    """The real command in two processes (a restart in between): the second finds the digest sent."""
    dora = make_person(app, "dora@example.org", "daily")
    make_world(app)
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "FLASK_APP")}
    env.update(FOCALPOINT_ENV="local", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               FOCALPOINT_INSTANCE=str(tmp_path / "instance"), BASE_URL="https://focalpoint.example.org")
    outputs = []
    for at in (AT, "2026-11-23T09:30+01:00"):
        done = subprocess.run([_console_script(), "digests", "send", "--at", at], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines()[-1])
    assert outputs == ["1 digest(s) queued, 0 with nothing to say, 0 already sent, 0 not due yet.",
                       "0 digest(s) queued, 0 with nothing to say, 0 already sent, 0 not due yet."]
    assert outbox(app) == [(f"digest:{dora}:2026-11-23", "dora@example.org")]
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        text = db.session.scalar(sa.select(OutboxMessage.text_body))
    assert "https://focalpoint.example.org/account" in text  # links from that process's BASE_URL
