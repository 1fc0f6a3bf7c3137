"""The registry's checks that need no database: ORCID, e-mail, names, file types, zip limits, spreadsheets."""
from __future__ import annotations

import io
import random
import time
import zipfile

import pytest

from focalpoint.experts import services as svc

from .conftest import PDF, PNG, docx_bytes, minimal_docx, zip_bomb


# --- ORCID (ISO 7064 11,2) -------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    ("0000-0002-1825-0097", "0000-0002-1825-0097"),  # ORCID's documentation example
    ("0000-0001-5109-3700", "0000-0001-5109-3700"),
    ("0000-0002-1694-233X", "0000-0002-1694-233X"),  # check digit 10 → X
    ("0000-0002-1694-233x", "0000-0002-1694-233X"),
    ("https://orcid.org/0000-0002-1825-0097", "0000-0002-1825-0097"),
    ("orcid.org/0000-0002-1825-0097", "0000-0002-1825-0097"),
    ("0000000218250097", "0000-0002-1825-0097"),
    ("  0000-0002-1825-0097 ", "0000-0002-1825-0097"),
    ("", None),
    (None, None),
])
def test_valid_orcids_are_normalised(value, expected):
    assert svc.normalise_orcid(value) == expected


@pytest.mark.parametrize("value,message", [
    ("0000-0002-1825-0098", "Invalid ORCID: the check digit does not match."),
    ("0000-0002-1694-2331", "Invalid ORCID: the check digit does not match."),
    ("0000-0001-5109-370X", "Invalid ORCID: the check digit does not match."),
    ("0000-0002-1825-009", "Invalid ORCID: it has the form 0000-0002-1825-0097."),
    ("0000-0002-1825-00977", "Invalid ORCID: it has the form 0000-0002-1825-0097."),
    ("X000-0002-1825-0097", "Invalid ORCID: it has the form 0000-0002-1825-0097."),
    ("https://example.org/0000-0002-1825-0097", "Invalid ORCID: it has the form 0000-0002-1825-0097."),
])
def test_invalid_orcids_are_refused(value, message):
    with pytest.raises(svc.ExpertError) as refused:
        svc.normalise_orcid(value)
    assert str(refused.value) == message
    assert refused.value.field == "orcid"


def test_orcid_checksum_of_the_documented_examples():
    assert svc.orcid_checksum("000000021825009") == "7"
    assert svc.orcid_checksum("000000021694233") == "X"


# --- e-mail and names ------------------------------------------------------------------------------------
def test_email_is_validated_and_lower_cased():
    assert svc.normalise_email(" Jan.Peeters@UGent.BE ") == "jan.peeters@ugent.be"
    for bad in ("", "jan", "jan@", "jan peeters@ugent.be", "a" * 250 + "@x.be"):
        with pytest.raises(svc.ExpertError):
            svc.normalise_email(bad)


@pytest.mark.parametrize("a,b", [
    (("Jan", "Peeters"), ("jan", "PEETERS")),
    (("Jan", "Peeters"), ("Peeters", "Jan")),
    (("Hélène", "Dupré"), ("Helene", "Dupre")),
    (("Jean-Pierre", "Van den Bossche"), ("jean pierre", "van den bossche")),
    (("Ørjan", "Søren"), ("Søren", "Ørjan")),
])
def test_similar_names_share_a_key(a, b):
    assert svc.name_key(*a) == svc.name_key(*b)


@pytest.mark.parametrize("a,b", [
    (("Jan", "Peeters"), ("Jan", "Peters")),
    (("Jan", "Peeters"), ("Jana", "Peeters")),
    (("J.", "Peeters"), ("Jan", "Peeters")),
])
def test_different_names_have_different_keys(a, b):
    assert svc.name_key(*a) != svc.name_key(*b)


def test_no_name_has_no_key():
    assert svc.name_key("", " ") is None
    assert svc.name_key(None, None) is None


def test_lists_are_split_on_semicolons():
    assert svc.split_list(" a; b;;c ;") == ["a", "b", "c"]
    assert svc.split_list(None) == []
    assert svc.join_list(["a", "", "b"]) == "a; b"


# --- CV types by content ----------------------------------------------------------------------------------
def test_pdf_and_docx_are_recognised_by_content():
    assert svc.cv_kind(PDF) == "pdf"
    assert svc.cv_kind(docx_bytes()) == "docx"
    assert svc.cv_kind(minimal_docx()) == "docx"


@pytest.mark.parametrize("data", [PNG, b"", b"<html><body>cv</body></html>", b"  %PDF-1.4 not at the start",
                                  b"PK\x03\x04 not really a zip"])
def test_other_content_is_refused(data):
    with pytest.raises(svc.ExpertError):
        svc.cv_kind(data)


def test_a_zip_that_is_not_a_word_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(svc.ExpertError) as refused:
        svc.cv_kind(out.getvalue())
    assert str(refused.value) == "The file is damaged or not of an accepted type."


def test_a_zip_bomb_is_refused_from_its_directory_without_inflating():
    bomb = zip_bomb(200)
    assert len(bomb) < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(svc.ExpertError) as refused:
        svc.cv_kind(bomb)
    assert time.perf_counter() - started < 0.5
    assert str(refused.value) == "The file expands to much more than its size: refused as unsafe."


def test_a_zip_with_too_many_entries_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        for n in range(svc.ZIP_MAX_ENTRIES):
            z.writestr(f"word/media/{n}.bin", b"x")
    with pytest.raises(svc.ExpertError) as refused:
        svc.cv_kind(out.getvalue())
    assert str(refused.value) == "The file holds too many parts to be opened safely."


def test_declared_sizes_over_the_total_cap_are_refused():
    out = io.BytesIO()
    random_like = random.Random(7).randbytes(3 * 1024 * 1024)  # does not compress
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", random_like)
    with pytest.raises(svc.ExpertError):
        svc.check_zip(out.getvalue(), required=("word/document.xml",), max_total=2 * 1024 * 1024)
    assert svc.check_zip(out.getvalue(), required=("word/document.xml",)) == ["[Content_Types].xml",
                                                                               "word/document.xml"]


# --- exports ---------------------------------------------------------------------------------------------
def test_csv_has_a_bom_and_defuses_formulas():
    data = svc.to_csv([[1, "=HYPERLINK(\"http://evil\")", "+32 2 000", "-1", "@SUM(A1)", "plain", "Dupré"]],
                      header=["id", "a", "b", "c", "d", "e", "f"])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == ('id,a,b,c,d,e,f\r\n'
                                        '1,"\'=HYPERLINK(""http://evil"")",\'+32 2 000,\'-1,\'@SUM(A1),plain,Dupré\r\n')


def test_xlsx_stores_formula_looking_text_as_text():
    from openpyxl import load_workbook

    data = svc.to_xlsx([[7, "=1+2", "@cmd", "-3", "Jan", None]], header=["id", "a", "b", "c", "d", "e"])
    ws = load_workbook(io.BytesIO(data)).active
    rows = [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]
    assert rows[0] == [("id", "s"), ("a", "s"), ("b", "s"), ("c", "s"), ("d", "s"), ("e", "s")]
    assert rows[1] == [(7, "n"), ("=1+2", "s"), ("@cmd", "s"), ("-3", "s"), ("Jan", "s"), (None, "n")]


def test_country_regions_of_belgium_and_of_an_unknown_country():
    from focalpoint.reference.services import country_regions

    assert country_regions("BE") == {"flanders": "Flanders", "wallonia": "Wallonia", "brussels": "Brussels",
                                     "federal": "Federal", "abroad": "Abroad"}
    assert country_regions("be") == country_regions("BE")
    assert country_regions("XX") == {}
