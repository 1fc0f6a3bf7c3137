"""``focalpoint consultations list|export|import`` through click's runner, on both databases."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa
from consultation_helpers import TODAY, make_comment, make_consultation, make_expert, make_participant

COLUMNS = ["Reviewer", "Email", "Affiliation", "Country", "Document", "Chapter", "From page", "From line",
           "To page", "To line", "Comment", "Suggested change", "Type"]


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def sheet(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Comments"
    for values in rows:
        ws.append(values)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def row(document="SPM", page_from=None, comment="", kind="", email="") -> list:
    return ["", email, "", "", document, "", page_from, None, None, None, comment, "", kind]


def read_rows(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    return [list(r) for r in load_workbook(io.BytesIO(data))["Comments"].iter_rows(values_only=True)]


def comments(app, consultation_id: int) -> list[tuple]:
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        return [(c.comment, c.participant_id, c.expert_id, c.source.value, c.reviewer_name)
                for c in db.session.scalars(sa.select(ReviewComment)
                                            .where(ReviewComment.consultation_id == consultation_id)
                                            .order_by(ReviewComment.id))]


@pytest.fixture
def world(app):
    """Two consultations: an open one with Ann invited (Bob not), a closed one; a few comments."""
    from focalpoint.consultations.models import ReviewComment
    from focalpoint.extensions import db

    with app.app_context():
        spm = make_consultation()
        old = make_consultation("Values assessment, first order draft", documents=("Chapter 2",), draft="fod",
                                deliverable="values", opens_on=TODAY - dt.timedelta(days=60),
                                closes_on=TODAY - dt.timedelta(days=30))
        ann, bob = make_expert("Ann", "Peeters"), make_expert("Bob", "Claes", affiliation="UCLouvain")
        ann_p = make_participant(spm, ann)
        make_participant(spm, bob, removed=True)
        make_participant(old, bob)
        kept = make_comment(spm, ann_p, page_from=4, line_from=2, comment="Adopted one", decision="adopt")
        make_comment(spm, ann_p, page_from=2, comment="Merged one", decision="merge", merged_into_id=kept.id)
        make_comment(spm, ann_p, page_from=1, comment="=1+1 rejected", decision="reject")
        make_comment(spm, ann_p, page_from=9, comment="Undecided")
        db.session.commit()
        ids = {"spm": spm.id, "old": old.id, "ann": ann.id, "bob": bob.id, "ann_p": ann_p.id}
    yield ids
    with app.app_context():  # SQLite: undo the merges before the tables are emptied (merge_has_target)
        db.session.execute(sa.update(ReviewComment).where(ReviewComment.merged_into_id.is_not(None))
                           .values(decision=None, merged_into_id=None))
        db.session.commit()


# --- list -------------------------------------------------------------------------------------------------
def test_list_json_and_text(app, world):
    result = _invoke(app, "consultations", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"id": world["spm"], "title": "Nexus assessment, second order draft", "deliverable": "nexus",
         "draft": "sod", "opens_on": (TODAY - dt.timedelta(days=10)).isoformat(),
         "closes_on": (TODAY + dt.timedelta(days=10)).isoformat(), "state": "open", "participants": 1,
         "comments": 4, "decided": 3},
        {"id": world["old"], "title": "Values assessment, first order draft", "deliverable": "values",
         "draft": "fod", "opens_on": (TODAY - dt.timedelta(days=60)).isoformat(),
         "closes_on": (TODAY - dt.timedelta(days=30)).isoformat(), "state": "closed", "participants": 1,
         "comments": 0, "decided": 0}]
    text = _invoke(app, "consultations", "list")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].split()[:2] == [str(world["spm"]), "open"]
    assert lines[0].endswith("Nexus assessment, second order draft")
    assert lines[1] == "     experts: 1; comments: 4 (3 decided)"


def test_list_without_consultations(app):
    result = _invoke(app, "consultations", "list")
    assert (result.exit_code, result.output) == (0, "No consultations.\n")
    assert json.loads(_invoke(app, "consultations", "list", "--json").output) == []


# --- export -----------------------------------------------------------------------------------------------
def test_export_consolidated_and_full(app, world, tmp_path):
    target = tmp_path / "out.xlsx"
    result = _invoke(app, "consultations", "export", world["spm"], target)
    assert result.exit_code == 0, result.output
    assert "1 consolidated comments written to" in result.output
    assert read_rows(target.read_bytes()) == [
        COLUMNS, ["Ann Peeters", "ann.peeters@example.org", "University of Ghent", "Belgium", "SPM", None, 4, 2, 4,
                  None, "Adopted one", None, "Specific"]]
    full = tmp_path / "full.xlsx"
    result = _invoke(app, "consultations", "export", world["spm"], full, "--full")
    assert result.exit_code == 0, result.output
    rows = read_rows(full.read_bytes())
    assert [(r[10], r[15]) for r in rows[1:]] == [("=1+1 rejected", "Rejected"), ("Merged one", "Merged"),
                                                  ("Adopted one", "Adopted"), ("Undecided", None)]


def test_export_to_standard_output(app, world):
    result = _invoke(app, "consultations", "export", world["spm"], "-")
    assert result.exit_code == 0
    assert read_rows(result.stdout_bytes)[1][10] == "Adopted one"


def test_export_unknown_consultation(app, tmp_path):
    result = _invoke(app, "consultations", "export", 999, tmp_path / "x.xlsx")
    assert result.exit_code == 1
    assert "No consultation 999 (see: focalpoint consultations list)." in result.output
    assert not (tmp_path / "x.xlsx").exists()


# --- import -----------------------------------------------------------------------------------------------
def test_import_by_an_invited_expert_reports_rows_and_commits(app, world, tmp_path):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    path = tmp_path / "ann.xlsx"
    path.write_bytes(sheet([COLUMNS, row(page_from=3, comment="New one"), row(page_from="twelve", comment="Bad"),
                            row(document="Chapter 9", comment="Unknown"), row(comment="Typed", kind="E",
                                                                                 email="other@example.org")]))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", " ANN.Peeters@example.org")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "row 3, From page: From page must be a whole number, not “twelve”.",
        "row 4, Document: Unknown document “Chapter 9” (this consultation has: SPM, Chapter 1).",
        "2 comments imported for Ann Peeters, 2 rows refused."]
    assert result.stderr == ("warning: The file names other reviewers (other@example.org): every comment is "
                             "recorded as written by Ann Peeters.\n")
    assert comments(app, world["spm"])[4:] == [("New one", world["ann_p"], world["ann"], "command", "Ann Peeters"),
                                               ("Typed", world["ann_p"], world["ann"], "command", "Ann Peeters")]
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "comments.import"))
        assert (entry.actor_id, entry.data) == (None, {"source": "command", "expert": world["ann"], "imported": 2,
                                                       "failed": 2})


def test_import_json_report(app, world, tmp_path):
    path = tmp_path / "ann.xlsx"
    path.write_bytes(sheet([COLUMNS, row(comment="One"), row(comment="")]))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.peeters@example.org",
                     "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    ids = [c for c in report["rows"] if c["ok"]][0]["comment_id"]
    assert report == {"dry_run": False, "imported": 1, "failed": 1, "warnings": [],
                      "rows": [{"row": 2, "ok": True, "errors": {}, "comment_id": ids},
                               {"row": 3, "ok": False, "errors": {"Comment": "The comment is missing."},
                                "comment_id": None}]}


def test_import_for_an_expert_not_invited_after_the_close(app, world, tmp_path):
    """Staff record comments received by mail: no participant row, the dates are not checked. Bob was
    removed from the open consultation, so his comments there come in without a participant."""
    path = tmp_path / "bob.xlsx"
    path.write_bytes(sheet([COLUMNS, row(document="", comment="Sent by mail")]))
    result = _invoke(app, "consultations", "import", world["old"], path, "--reviewer", "bob.claes@example.org")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "1 comments imported for Bob Claes, 0 rows refused."
    with app.app_context():
        from focalpoint.consultations.models import Participant
        from focalpoint.extensions import db

        bob_old = db.session.scalar(sa.select(Participant.id).where(Participant.consultation_id == world["old"]))
    assert comments(app, world["old"]) == [("Sent by mail", bob_old, world["bob"], "command", "Bob Claes")]
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "bob.claes@example.org")
    assert result.exit_code == 1  # two documents: "Document" is required
    assert result.output.splitlines() == ["row 2, Document: Say which document the comment is about.",
                                          "0 comments imported for Bob Claes (not invited to this consultation), "
                                          "1 rows refused."]


def test_dry_run_writes_nothing(app, world, tmp_path):
    path = tmp_path / "ann.xlsx"
    path.write_bytes(sheet([COLUMNS, row(comment="One"), row(comment="Two", kind="x")]))
    before = comments(app, world["spm"])
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.peeters@example.org",
                     "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "row 3, Type: Type must be General, Specific or Editorial, not “x”.",
        "Dry run (nothing written): 1 comments would be imported for Ann Peeters, 1 rows refused."]
    assert comments(app, world["spm"]) == before


def test_nothing_imported_exits_non_zero(app, world, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(sheet([COLUMNS, row(comment=""), row(page_from=0, comment="Zero")]))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.peeters@example.org")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["row 2, Comment: The comment is missing.",
                                          "row 3, From page: From page must be between 1 and 100000.",
                                          "0 comments imported for Ann Peeters, 2 rows refused."]
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(sheet([COLUMNS]))
    result = _invoke(app, "consultations", "import", world["spm"], empty, "--reviewer", "ann.peeters@example.org")
    assert result.exit_code == 1
    assert result.output == "0 comments imported for Ann Peeters, 0 rows refused.\n"


@pytest.mark.parametrize("content, message", [
    (b"%PDF-1.4 not a workbook", "not.xlsx: The file is not an Excel workbook (.xlsx)"),
    (b"", "not.xlsx: The file is empty."),
    (b"Reviewer,Comment\nAnn,Hello\n", "not.xlsx: The file is not an Excel workbook (.xlsx)"),
])
def test_refused_files_exit_non_zero(app, world, tmp_path, content, message):
    path = tmp_path / "not.xlsx"
    path.write_bytes(content)
    before = comments(app, world["spm"])
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.peeters@example.org")
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert comments(app, world["spm"]) == before


def test_a_file_over_the_cap_is_refused(app, world, tmp_path):
    app.config["CONSULTATION_UPLOAD_MAX_MB"] = 1
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\0" * (1024 * 1024))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.peeters@example.org")
    assert result.exit_code == 1
    assert "Error: big.xlsx: The file is larger than 1 MB." in result.output


def test_unknown_reviewer_consultation_or_file(app, world, tmp_path):
    path = tmp_path / "ok.xlsx"
    path.write_bytes(sheet([COLUMNS, row(comment="One")]))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "nobody@example.org")
    assert result.exit_code == 1
    assert "Error: No expert with the e-mail address 'nobody@example.org' in the registry." in result.output
    result = _invoke(app, "consultations", "import", 999, path, "--reviewer", "ann.peeters@example.org")
    assert result.exit_code == 1
    assert "Error: No consultation 999" in result.output
    result = _invoke(app, "consultations", "import", world["spm"], tmp_path / "missing.xlsx", "--reviewer",
                     "ann.peeters@example.org")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = _invoke(app, "consultations", "import", world["spm"], path)
    assert result.exit_code == 2
    assert "Missing option '--reviewer'" in result.output
    assert len(comments(app, world["spm"])) == 4


def test_a_merged_expert_record_imports_as_the_kept_one(app, world, tmp_path):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    with app.app_context():
        old = make_expert("Ann", "Peeters-Old", email="ann.old@example.org")
        old.merged_into_id = world["ann"]
        db.session.commit()
    path = tmp_path / "ann.xlsx"
    path.write_bytes(sheet([COLUMNS, row(comment="From the old address")]))
    result = _invoke(app, "consultations", "import", world["spm"], path, "--reviewer", "ann.old@example.org")
    assert result.exit_code == 0, result.output
    assert comments(app, world["spm"])[-1] == ("From the old address", world["ann_p"], world["ann"], "command",
                                               "Ann Peeters")
    with app.app_context():
        assert db.session.get(Expert, world["ann"]).merged_into_id is None
