"""A report's tables as CSV (its main table) and XLSX (every table, one sheet each).

Numbers stay numbers: counts as integers, shares as fractions shown as percentages in the XLSX (a number
in percent with one decimal in the CSV, the header saying "(%)"), days as computed in the XLSX (shown with
one decimal) and with two decimals in the CSV. Text that a
spreadsheet would take for a formula ("=", "+", "-", "@" …: a deliverable or an administration named so)
is written as text: prefixed with a quote in the CSV, stored as a string cell in the XLSX.
"""
from __future__ import annotations

import csv
import io
import re
from fractions import Fraction

from focalpoint.reports.charts import round_half_up
from focalpoint.reports.content import COUNT_SHARE, DAYS, INT, PCT, Table

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _plain(value, kind: str):
    """The value of a cell for the CSV."""
    if value is None:
        return ""
    if kind == PCT:
        return round_half_up(float(Fraction(value) * 100), 1)
    if kind == DAYS:
        return round_half_up(float(value), 2)
    if kind == COUNT_SHARE:
        return value[0]
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _row(values: list, table: Table) -> list:
    return [_plain(v, c.kind) for v, c in zip(values, table.columns)]


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte order mark (so Excel reads the accents), CRLF line ends, the total row last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.export_label for c in table.columns])
    for values in table.rows:
        writer.writerow(_row(values, table))
    if table.footer:
        writer.writerow(_row(table.footer, table))
    return out.getvalue().encode("utf-8-sig")


def _sheet_title(name: str, used: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in used:
        suffix = f" {n}"
        title = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(title.lower())
    return title


def to_xlsx(tables: list[Table], *, title: str = "") -> bytes:
    """An XLSX workbook with one sheet per table: a bold header row (frozen), then the rows and the total."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    if title:
        wb.properties.title = _XLSX_ILLEGAL.sub("", title)
    wb.properties.creator = "Focal Point"
    bold = Font(bold=True)
    used: set[str] = set()
    for table in tables:
        ws = wb.create_sheet(_sheet_title(table.name, used))
        for col, column in enumerate(table.columns, start=1):
            cell = ws.cell(row=1, column=col)
            _write(cell, column.export_label, "text")
            cell.font = bold
            ws.column_dimensions[get_column_letter(col)].width = max(10, min(48, len(column.export_label) + 2))
        rows = list(table.rows) + ([table.footer] if table.footer else [])
        for r, values in enumerate(rows, start=2):
            is_footer = table.footer is not None and r == len(rows) + 1
            for col, (value, column) in enumerate(zip(values, table.columns), start=1):
                cell = ws.cell(row=r, column=col)
                _write(cell, value, column.kind)
                if is_footer:
                    cell.font = bold
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _write(cell, value, kind: str) -> None:
    if value is None:
        return
    if kind == PCT:
        cell.value = float(Fraction(value))
        cell.number_format = "0.0%"
    elif kind == DAYS:
        cell.value = float(value)  # as computed; shown with one decimal
        cell.number_format = "0.0"
    elif kind == COUNT_SHARE:
        cell.value = value[0]
    elif kind == INT and isinstance(value, int):
        cell.value = value
    else:
        text = _XLSX_ILLEGAL.sub("", str(value))
        cell.value = text
        # A text that looks like a formula stays a string cell: never evaluated by a spreadsheet.
        if text.startswith(_FORMULA_START):
            cell.data_type = "s"
            cell.quotePrefix = True
