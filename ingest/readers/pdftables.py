"""Ruled tables on a PDF's text-layer pages: each row one line carrying its header, as in .docx and .xlsx.

A table's cells read line by line are a word soup (``培训项目 人数 补贴 焊工技能提升 120 1500``): nothing says
that 120 is a number of people.  pdfplumber finds the table from its ruling lines and gives its cells; the
rows become ``whole`` lines (``培训项目：焊工技能提升；人数：120；补贴（元）：1500``) at the rows' places on
the page, and the text-layer lines inside the table go, so ``layout`` reads the page around them as usual.

pdfplumber parses a page in pure Python (tenths of a second), so it only looks at pages where PDFium counts
enough vector paths to draw a grid.  Tables without ruling lines stay as the text layer has them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.readers.layout import Line, PageScan
from ingest.readers.tables import row_lines

MIN_PATHS = 4  # fewer vector paths cannot rule a table of two rows and two columns
MIN_ROWS = MIN_COLUMNS = 2  # a single framed box is a text box, not a table


@dataclass(frozen=True)
class PdfTable:
    """One table found on a page: its box and its rows' lines, each with the box of its row (points)."""

    box: tuple[float, float, float, float]  # left, top, right, bottom
    rows: tuple[Line, ...]


def may_hold_table(page: pdfium.PdfPage) -> bool:
    """Cheap test by PDFium: does the page draw enough vector paths to rule a table?"""
    paths = 0
    for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        paths += 1
        if paths >= MIN_PATHS:
            return True
    return False


def _cell_text(text: str | None) -> str:
    """A cell's lines joined as a person would type them: no space at a Chinese line break."""
    parts = [part.strip() for part in (text or "").splitlines() if part.strip()]
    joined = parts[0] if parts else ""
    for part in parts[1:]:
        glue = " " if joined[-1].isascii() and joined[-1].isalnum() and part[0].isascii() and part[0].isalnum() else ""
        joined += glue + part
    return joined


def _table(found: pdfplumber.table.Table) -> PdfTable | None:
    """A found table as header-carrying row lines, or None if it is too small to be a table."""
    rows = [(row.bbox, [_cell_text(cell) for cell in cells]) for row, cells in zip(found.rows, found.extract())]
    rows = [(box, cells) for box, cells in rows if any(cells)]
    if len(rows) < MIN_ROWS or max(len(cells) for _, cells in rows) < MIN_COLUMNS:
        return None
    left, top, right, bottom = found.bbox
    lines = row_lines(cells for _, cells in rows)
    return PdfTable((left, top, right, bottom), tuple(
        Line(text, left, box[1], right, box[3], whole=True) for text, (box, _) in zip(lines, rows)
    ))


def find_tables(pdf: pdfplumber.PDF, number: int) -> list[PdfTable]:
    """The ruled tables of page ``number`` (0-based) of an open pdfplumber document."""
    tables = (_table(found) for found in pdf.pages[number].find_tables())
    return [table for table in tables if table is not None]


def _inside(line: Line, box: tuple[float, float, float, float]) -> bool:
    centre_x, centre_y = (line.left + line.right) / 2, (line.top + line.bottom) / 2
    return box[0] <= centre_x <= box[2] and box[1] <= centre_y <= box[3]


def with_tables(scan: PageScan, tables: list[PdfTable]) -> PageScan:
    """``scan`` with the text lines inside each table replaced by the table's row lines."""
    if not tables:
        return scan
    kept = [line for line in scan.lines if not any(_inside(line, table.box) for table in tables)]
    return replace(scan, lines=tuple(kept) + tuple(row for table in tables for row in table.rows))


def open_pdf(data: bytes) -> pdfplumber.PDF:
    """The document as pdfplumber reads it (opened only when a page may hold a table)."""
    return pdfplumber.open(io.BytesIO(data))
