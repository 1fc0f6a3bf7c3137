"""The briefing pack of a plenary session as a Word document (python-docx).

Cover (session, place, dates, the day it was generated, DRAFT while any note is not approved), a list of the
agenda items, then per item its documents, its position (the approved note, or the latest text marked DRAFT)
with the note's sections converted from Markdown to Word paragraphs, and where each administration stands.

Markdown goes through markdown-it-py's tokens with raw HTML switched off: tags in a note come out as text,
never as markup. Only styles of python-docx's default template are used, so Word and LibreOffice open it.
"""
from __future__ import annotations

import datetime as dt
import io
import re

from docx import Document
from docx.enum.text import WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from flask_babel import format_date
from flask_babel import gettext as _
from markdown_it import MarkdownIt

from focalpoint.i18n import local_today
from focalpoint.positions import plenary_services as svc
from focalpoint.positions.models import NOTE_SECTIONS, NoteStatus

_MD = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")
#: Characters XML 1.0 does not allow (python-docx refuses them).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RED = RGBColor(0xB0, 0x00, 0x20)
_LINK = RGBColor(0x05, 0x63, 0xC1)
_MONO = "Courier New"


def _clean(text) -> str:
    return _XML_BAD.sub("", str(text or ""))


def section_titles() -> dict[str, str]:
    return {"background": _("Background"), "national_position": _("National position"),
            "eu_position": _("EU position"), "fallback": _("Fallback")}


def state_words() -> dict[str, str]:
    from focalpoint.positions.plenary_forms import CLEARANCE_LABELS

    return {k: str(v) for k, v in CLEARANCE_LABELS.items()}


# --- low-level helpers ---------------------------------------------------------------------------------
def add_hyperlink(paragraph, url: str, text: str, *, bold: bool = False, italic: bool = False):
    """A real link (w:hyperlink with an external relationship), blue and underlined."""
    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), str(_LINK))
    props.append(color)
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(underline)
    if bold:
        props.append(OxmlElement("w:b"))
    if italic:
        props.append(OxmlElement("w:i"))
    run.append(props)
    text_el = OxmlElement("w:t")
    text_el.text = _clean(text)
    text_el.set(qn("xml:space"), "preserve")
    run.append(text_el)
    link.append(run)
    paragraph._p.append(link)
    return link


def _is_web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://", "mailto:"))


def _add_field(paragraph, instruction: str, placeholder: str = "1") -> None:
    """A simple field (PAGE …) that Word and LibreOffice compute when they show the document."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = placeholder
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _draft_mark(paragraph, text: str):
    run = paragraph.add_run(_clean(text))
    run.bold = True
    run.font.color.rgb = _RED
    return run


# --- Markdown to Word ----------------------------------------------------------------------------------
def _add_inline(paragraph, children) -> None:
    bold = italic = strike = False
    link: str | None = None
    link_text: list[str] = []
    for tok in children or ():
        kind = tok.type
        if kind == "strong_open":
            bold = True
        elif kind == "strong_close":
            bold = False
        elif kind == "em_open":
            italic = True
        elif kind == "em_close":
            italic = False
        elif kind == "s_open":
            strike = True
        elif kind == "s_close":
            strike = False
        elif kind == "link_open":
            href = str(tok.attrGet("href") or "")
            link, link_text = (href if _is_web(href) else None), []
            if link is None:
                link = ""  # not a web link: its text stays, plain
        elif kind == "link_close":
            if link:
                add_hyperlink(paragraph, link, "".join(link_text) or link, bold=bold, italic=italic)
            link = None
        elif kind in ("text", "code_inline", "html_inline", "image"):
            content = tok.content if kind != "image" else (tok.content or str(tok.attrGet("alt") or ""))
            if link:
                link_text.append(content)
                continue
            run = paragraph.add_run(_clean(content))
            run.bold, run.italic = bold or None, italic or None
            if strike:
                run.font.strike = True
            if kind == "code_inline":
                run.font.name = _MONO
        elif kind == "softbreak":
            if link:
                link_text.append(" ")
            else:
                paragraph.add_run(" ")
        elif kind == "hardbreak":
            paragraph.add_run().add_break(WD_BREAK.LINE)


def add_markdown(doc, text: str, *, top_heading: int = 4) -> int:
    """Append ``text`` (Markdown) to ``doc`` as Word paragraphs; returns how many blocks were added.

    The text's highest heading becomes Heading ``top_heading`` and the others follow (under a level-3 section
    title, "## Main points" then "### Detail" become Heading 4 and Heading 5); bullet lists
    use the List Bullet styles by depth; numbered lists keep their own numbers as text (so each list starts
    where the author started it, in Word and LibreOffice alike); quotes use the Quote style; code is monospace.
    """
    lists: list[dict] = []  # {"kind": "bullet"|"ordered", "number": int}
    quote_depth = 0
    paragraph = None
    item_fresh = False
    added = 0
    tokens = _MD.parse(text or "")
    highest = min((int(t.tag[1:]) for t in tokens if t.type == "heading_open"), default=1)
    for tok in tokens:
        kind = tok.type
        if kind == "heading_open":
            level = min(9, top_heading + int(tok.tag[1:]) - highest)
            paragraph = doc.add_paragraph(style=f"Heading {level}")
            added += 1
        elif kind == "paragraph_open":
            depth = min(len(lists), 3)
            if lists and item_fresh:
                current = lists[-1]
                if current["kind"] == "bullet":
                    paragraph = doc.add_paragraph(style="List Bullet" + (f" {depth}" if depth > 1 else ""))
                else:
                    paragraph = doc.add_paragraph(style="List" + (f" {depth}" if depth > 1 else ""))
                    paragraph.paragraph_format.left_indent = Cm(0.75 * depth)
                    paragraph.paragraph_format.first_line_indent = Cm(-0.6)
                    paragraph.add_run(f"{current['number']}.\t")
                item_fresh = False
            elif lists:
                paragraph = doc.add_paragraph(style="List Continue" + (f" {depth}" if depth > 1 else ""))
            elif quote_depth:
                paragraph = doc.add_paragraph(style="Quote")
            else:
                paragraph = doc.add_paragraph()
            added += 1
        elif kind == "inline":
            if paragraph is None:
                paragraph = doc.add_paragraph()
                added += 1
            _add_inline(paragraph, tok.children)
        elif kind in ("paragraph_close", "heading_close"):
            paragraph = None
        elif kind == "bullet_list_open":
            lists.append({"kind": "bullet", "number": 0})
        elif kind == "ordered_list_open":
            start = tok.attrGet("start")
            lists.append({"kind": "ordered", "number": int(start) - 1 if start is not None else 0})
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if lists:
                lists.pop()
        elif kind == "list_item_open":
            if lists:
                lists[-1]["number"] += 1
            item_fresh = True
        elif kind == "list_item_close":
            item_fresh = False
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth = max(0, quote_depth - 1)
        elif kind in ("fence", "code_block", "html_block"):
            block = doc.add_paragraph()
            for number, line in enumerate(tok.content.rstrip("\n").split("\n")):
                if number:
                    block.add_run().add_break(WD_BREAK.LINE)
                run = block.add_run(_clean(line))
                run.font.name = _MONO
                run.font.size = Pt(9)
            added += 1
        elif kind == "hr":
            doc.add_paragraph("\u2014" * 12)
            added += 1
    return added


# --- the document --------------------------------------------------------------------------------------
def _session_dates(session) -> str:
    if session.start_date is None:
        return _("dates not known")
    if session.end_date and session.end_date != session.start_date:
        return f"{format_date(session.start_date, 'long')} – {format_date(session.end_date, 'long')}"
    return format_date(session.start_date, "long")


def _table(doc, header: list[str], rows: list[list], *, widths: list[float] | None = None):
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = ""
        run = cell.paragraphs[0].add_run(_clean(text))
        run.bold = True
    # Mark the first row as a header row (repeated on each page; read as headers by screen readers).
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    tbl_header = OxmlElement("w:tblHeader")
    tbl_header.set(qn("w:val"), "true")
    tr_pr.append(tbl_header)
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values):
            if callable(value):
                value(cell.paragraphs[0])
            else:
                cell.text = _clean(value)
    if widths:
        for row in table.rows:
            for cell, width in zip(row.cells, widths):
                cell.width = Cm(width)
    return table


def _status_line(note) -> str:
    from focalpoint.positions.plenary_forms import NOTE_STATUS_LABELS

    return str(NOTE_STATUS_LABELS.get(str(note.status), str(note.status)))


def briefing_docx(session, *, today: dt.date | None = None) -> bytes:
    """The briefing pack of ``session`` as DOCX bytes (a fixed number of queries)."""
    today = today or local_today()
    matrix = svc.clearance_matrix(session)
    documents = svc.documents(session)
    by_item: dict[int | None, list] = {}
    for document in documents:
        by_item.setdefault(document.agenda_item_id, []).append(document)
    notes = matrix.notes
    not_approved = [n for n in notes if n.status != NoteStatus.APPROVED]
    is_draft = bool(not_approved) or not notes
    titles = section_titles()
    words = state_words()

    doc = Document()
    props = doc.core_properties
    props.title = _clean(_("Briefing pack: %(code)s", code=session.code))
    props.subject = _clean(session.place)
    props.author = "Focal Point"
    props.keywords = "IPBES; " + session.code + ("; DRAFT" if is_draft else "")
    props.created = props.modified = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    props.last_modified_by = "Focal Point"

    section = doc.sections[0]
    header = section.header.paragraphs[0]
    header.text = _clean(_("%(code)s briefing pack", code=session.code))
    if is_draft:
        header.add_run(" \u2014 ")
        _draft_mark(header, _("DRAFT"))
    footer = section.footer.paragraphs[0]
    footer.add_run(_clean(_("Page") + " "))
    _add_field(footer, "PAGE")

    # --- cover
    doc.add_paragraph(_clean(_("Briefing pack")), style="Title")
    doc.add_paragraph(_clean(session.code), style="Subtitle")
    cover = doc.add_paragraph()
    cover.add_run(_clean(_("Place"))).bold = True
    cover.add_run(": " + _clean(session.place or _("not known")))
    cover.add_run().add_break(WD_BREAK.LINE)
    cover.add_run(_clean(_("Dates"))).bold = True
    cover.add_run(": " + _clean(_session_dates(session)))
    cover.add_run().add_break(WD_BREAK.LINE)
    cover.add_run(_clean(_("Generated on"))).bold = True
    cover.add_run(": " + _clean(format_date(today, "long")))
    if is_draft:
        mark = doc.add_paragraph()
        run = _draft_mark(mark, _("DRAFT"))
        run.font.size = Pt(20)
        if notes:
            mark.add_run(" \u2014 " + _clean(_("%(n)d of %(total)d position notes are not approved yet.",
                                                n=len(not_approved), total=len(notes))))
        else:
            mark.add_run(" \u2014 " + _clean(_("No position note has been written yet.")))

    # --- contents
    doc.add_paragraph(_clean(_("Contents")), style="Heading 1")
    if not matrix.rows:
        doc.add_paragraph(_clean(_("The agenda is empty.")))
    for row in matrix.rows:
        line = doc.add_paragraph(style="List Bullet")
        line.add_run(_clean(_("Item %(number)s", number=row.item.number))).bold = True
        line.add_run(": " + _clean(row.item.title) + " \u2014 ")
        if row.note is None:
            line.add_run(_clean(_("no position note")))
        elif row.note.status == NoteStatus.APPROVED:
            line.add_run(_clean(_status_line(row.note)))
        else:
            _draft_mark(line, _("DRAFT"))
            line.add_run(" (" + _clean(_status_line(row.note)) + ")")

    # --- one section per agenda item
    for row in matrix.rows:
        item, note = row.item, row.note
        heading = doc.add_paragraph(_clean(_("Item %(number)s: %(title)s", number=item.number, title=item.title)),
                                    style="Heading 1")
        heading.paragraph_format.page_break_before = True

        doc.add_paragraph(_clean(_("Documents")), style="Heading 2")
        item_documents = by_item.get(item.id, [])
        if item_documents:
            def link_cell(document):
                def fill(paragraph):
                    if document.url:
                        add_hyperlink(paragraph, document.url, document.url)
                return fill
            _table(doc, [_("Symbol"), _("Title"), _("Link")],
                   [[d.symbol, d.title, link_cell(d)] for d in item_documents], widths=[3.2, 7.3, 6])
        else:
            doc.add_paragraph(_clean(_("No document for this item.")))

        doc.add_paragraph(_clean(_("Position")), style="Heading 2")
        if note is None:
            doc.add_paragraph(_clean(_("No position note.")))
            continue
        status = doc.add_paragraph()
        if note.status == NoteStatus.APPROVED:
            approved_on = format_date(note.approved_at, "long") if note.approved_at else ""
            status.add_run(_clean(_("Approved position (version %(n)d, approved on %(date)s).",
                                    n=note.current_version, date=approved_on))).bold = True
        else:
            _draft_mark(status, _("DRAFT"))
            status.add_run(" \u2014 " + _clean(_("version %(n)d, not approved (%(status)s): not yet the national "
                                                 "position.", n=note.current_version, status=_status_line(note))))
        if note.title and note.title.strip() != item.title.strip():
            doc.add_paragraph(_clean(note.title), style="Subtitle")
        for name in NOTE_SECTIONS:
            doc.add_paragraph(_clean(titles[name]), style="Heading 3")
            text = getattr(note, name) or ""
            if not text.strip() or not add_markdown(doc, text, top_heading=4):
                empty = doc.add_paragraph()
                empty.add_run(_clean(_("Not known yet.") if name == "eu_position" else _("Nothing written.")))\
                    .italic = True

        doc.add_paragraph(_clean(_("Clearance")), style="Heading 2")
        asked = [(admin, row.cells[admin.id]) for admin in matrix.administrations
                 if row.cells[admin.id].state != "not_requested"]
        if not asked:
            doc.add_paragraph(_clean(_("No administration was asked to review this note.")))
            continue
        rows = []
        for admin, cell in asked:
            clearance = cell.clearance
            decided = ""
            if clearance is not None:
                decided = format_date(clearance.created_at, "medium")
                if clearance.user is not None:
                    decided = f"{clearance.user.display_name}, {decided}"
                if cell.state == "stale":
                    decided += " " + _("(version %(n)d)", n=clearance.note_version)
            reason = clearance.reason if clearance is not None and cell.state in ("objected", "stale") else ""
            rows.append([f"{admin.code} \u2014 {admin.name}", words.get(cell.state, cell.state), decided, reason])
        _table(doc, [_("Administration"), _("Status"), _("Decided"), _("Reason")], rows, widths=[5.5, 3, 4, 4])

    # Documents not tied to an agenda item.
    loose = by_item.get(None, [])
    if loose:
        heading = doc.add_paragraph(_clean(_("Other documents")), style="Heading 1")
        heading.paragraph_format.page_break_before = True
        _table(doc, [_("Symbol"), _("Title"), _("Link")],
               [[d.symbol, d.title, (lambda url: (lambda p: add_hyperlink(p, url, url) if url else None))(d.url)]
                for d in loose], widths=[3.2, 7.3, 6])

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
