"""The annual report as a Word document (python-docx), ready to edit.

Every report of the year in turn: a Heading 1 per report, a Heading 2 per section, its charts as PNG
pictures (drawn by matplotlib: Word does not show SVG that python-docx embeds) with a caption and the
chart's description as alternative text, and its tables as real Word tables (Table Grid style, a header
row repeated on each page). Only styles of python-docx's default template are used, so Word and
LibreOffice open it with headings in the navigation pane.
"""
from __future__ import annotations

import datetime as dt
import io
import re

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from flask_babel import format_date
from flask_babel import gettext as _

from focalpoint.reports.charts import png
from focalpoint.reports.content import TEXT, ReportContent, Table, cell_text

#: Characters XML 1.0 does not allow (python-docx refuses them).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Tables with more columns than this are set in a smaller font.
WIDE = 9


def _clean(text) -> str:
    return _XML_BAD.sub("", str(text if text is not None else ""))


def _mark_header_row(table) -> None:
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def add_table(doc, table: Table) -> None:
    """``table`` as a Word table: bold header row marked as such, numbers right-aligned, the total in bold."""
    columns = table.columns
    small = len(columns) > WIDE
    word = doc.add_table(rows=1, cols=len(columns))
    word.style = "Table Grid"
    word.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, column in zip(word.rows[0].cells, columns):
        cell.text = ""
        run = cell.paragraphs[0].add_run(_clean(column.label))
        run.bold = True
        if small:
            run.font.size = Pt(7)
    _mark_header_row(word)
    rows = list(table.rows) + ([table.footer] if table.footer else [])
    for index, values in enumerate(rows):
        is_footer = table.footer is not None and index == len(rows) - 1
        cells = word.add_row().cells
        for cell, value, column in zip(cells, values, columns):
            text = "" if (is_footer and value == "") else cell_text(value, column.kind)
            if is_footer and column.kind == "count_share" and isinstance(value, tuple):
                text = f"{value[0]:,}"
            paragraph = cell.paragraphs[0]
            run = paragraph.add_run(_clean(text))
            run.bold = is_footer or None
            if small:
                run.font.size = Pt(7)
            if column.kind != TEXT:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if table.note:
        note = doc.add_paragraph(_clean(table.note))
        for run in note.runs:
            run.italic = True
            run.font.size = Pt(8)


def add_chart(doc, chart, number: int) -> None:
    """The chart as a picture (its description as alternative text) and a caption under it."""
    doc.add_picture(io.BytesIO(png(chart)), width=Cm(16))
    shape = doc.inline_shapes[-1]
    doc_pr = shape._inline.docPr
    doc_pr.set("descr", _clean(chart.description or chart.title))
    doc_pr.set("title", _clean(chart.title))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(_clean(_("Figure %(n)d: %(title)s", n=number, title=chart.title)), style="Caption")


def annual_docx(year: int, contents: list[ReportContent], *, country: str = "", deliverables: list[str] = (),
                today: dt.date | None = None) -> bytes:
    """The annual report of ``year`` from the reports' contents (already computed for that year)."""
    today = today or dt.date.today()
    doc = Document()
    title = _("National involvement in IPBES: annual report %(year)s", year=year)
    props = doc.core_properties
    props.title = _clean(title)
    props.subject = _clean(country)
    props.author = "Focal Point"
    props.keywords = f"IPBES; {year}"
    props.created = props.modified = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    props.last_modified_by = "Focal Point"

    doc.sections[0].header.paragraphs[0].text = _clean(title)
    doc.add_paragraph(_clean(title), style="Title")
    subtitle = [country] if country else []
    subtitle.append(_("Generated on %(date)s", date=format_date(today, "long")))
    doc.add_paragraph(_clean(" · ".join(subtitle)), style="Subtitle")
    if deliverables:
        doc.add_paragraph(_clean(_("Deliverables covered: %(list)s.", list="; ".join(deliverables))))
    doc.add_paragraph(_clean(_("The figures below are those of the application on the day of generation. Edit "
                               "the text freely: the charts are pictures and the tables are Word tables.")))

    doc.add_heading(_clean(_("Summary")), level=1)
    for content in contents:
        p = doc.add_paragraph(style="List Bullet")
        p.add_run(_clean(content.title) + ": ").bold = True
        p.add_run(_clean(content.summary))

    figure = 0
    for content in contents:
        doc.add_heading(_clean(content.title), level=1)
        for note in content.notes:
            doc.add_paragraph(_clean(note))
        for section in content.sections:
            doc.add_heading(_clean(section.heading), level=2)
            if section.intro:
                doc.add_paragraph(_clean(section.intro))
            for chart in section.charts:
                if chart.is_empty:
                    continue
                figure += 1
                add_chart(doc, chart, figure)
            for table in section.tables:
                if section.heading != table.title:
                    doc.add_heading(_clean(table.title), level=3)
                if not table.rows:
                    doc.add_paragraph(_clean(_("Nothing in %(year)s.", year=year)))
                    continue
                add_table(doc, table)
        doc.add_heading(_clean(_("How these figures are counted")), level=3)
        for definition in content.definitions:
            doc.add_paragraph(_clean(definition), style="List Bullet")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()

