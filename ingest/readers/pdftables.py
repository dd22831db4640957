"""Ruled tables on a PDF's text-layer pages: each row one line carrying its header, as in .docx and .xlsx.

A table's cells read line by line are a word soup (``培训项目 人数 补贴 焊工技能提升 120 1500``): nothing says
that 120 is a number of people.  pdfplumber finds the table from its ruling lines and gives its cells; the
rows become ``whole`` lines (``培训项目：焊工技能提升；人数：120；补贴（元）：1500``) at the rows' places on
the page, and the text-layer lines inside the table go, so ``layout`` reads the page around them as usual.
A table that runs over a page break keeps its header on the next page too (``continued``).

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
CONTINUED_MARGIN = 0.25  # a table that ends in the last quarter of a page may go on in the first of the next


@dataclass(frozen=True)
class PdfTable:
    """One table found on a page: its box and its rows' cells, each row with its vertical extent (points).

    ``header`` is set when the table continues one from the page before: its rows are then all data rows.
    """

    box: tuple[float, float, float, float]  # left, top, right, bottom
    rows: tuple[tuple[tuple[float, float], tuple[str, ...]], ...]  # ((top, bottom), cells)
    page_height: float
    header: tuple[str, ...] | None = None

    @property
    def columns(self) -> int:
        return max(len(cells) for _, cells in self.rows)

    def lines(self) -> tuple[Line, ...]:
        """The rows as ``whole`` lines at their places: the header row, then each row with its header."""
        texts = row_lines((cells for _, cells in self.rows), header=self.header)
        left, _, right, _ = self.box
        return tuple(Line(text, left, top, right, bottom, whole=True) for text, ((top, bottom), _) in
                     zip(texts, self.rows))

    def header_cells(self) -> tuple[str, ...]:
        return self.header if self.header is not None else self.rows[0][1]


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


def _table(found: pdfplumber.table.Table, page_height: float) -> PdfTable | None:
    """A found table with its non-empty rows, or None if it has fewer than two columns (a framed text box)."""
    rows = [((row.bbox[1], row.bbox[3]), tuple(_cell_text(cell) for cell in cells))
            for row, cells in zip(found.rows, found.extract())]
    rows = [(extent, cells) for extent, cells in rows if any(cells)]
    if not rows or max(len(cells) for _, cells in rows) < MIN_COLUMNS:
        return None
    return PdfTable(tuple(found.bbox), tuple(rows), page_height)  # type: ignore[arg-type]


def find_tables(pdf: pdfplumber.PDF, number: int, after: PdfTable | None = None) -> list[PdfTable]:
    """The ruled tables of page ``number`` (0-based) of an open pdfplumber document, top to bottom.

    ``after``: the last table of the page before, which the first table here may continue (``continued``).
    A table needs two rows, unless it is the last row or so of a table from the page before.
    """
    page = pdf.pages[number]
    tables = sorted((table for found in page.find_tables() if (table := _table(found, float(page.height)))),
                    key=lambda table: table.box[1])
    if tables:
        tables[0] = continued(after, tables[0])
    return [table for table in tables if len(table.rows) >= MIN_ROWS or table.header is not None]


def continued(previous: PdfTable | None, table: PdfTable) -> PdfTable:
    """``table`` carrying ``previous``'s header if it goes on with that table from the page before.

    It does when ``previous`` ran to the foot of its page, ``table`` starts at the head of its page with as
    many columns, and its first row is not the header repeated (Word's 重复标题行 repeats it; then nothing
    needs carrying).
    """
    if (
        previous is None
        or previous.box[3] < (1 - CONTINUED_MARGIN) * previous.page_height
        or table.box[1] > CONTINUED_MARGIN * table.page_height
        or table.columns != previous.columns
        or table.rows[0][1] == previous.header_cells()
    ):
        return table
    return replace(table, header=previous.header_cells())


def _inside(line: Line, box: tuple[float, float, float, float]) -> bool:
    centre_x, centre_y = (line.left + line.right) / 2, (line.top + line.bottom) / 2
    return box[0] <= centre_x <= box[2] and box[1] <= centre_y <= box[3]


def with_tables(scan: PageScan, tables: list[PdfTable]) -> PageScan:
    """``scan`` with the text lines inside each table replaced by the table's row lines."""
    if not tables:
        return scan
    kept = [line for line in scan.lines if not any(_inside(line, table.box) for table in tables)]
    return replace(scan, lines=tuple(kept) + tuple(row for table in tables for row in table.lines()))


class TableFinder:
    """The ruled tables of one document's pages, asked for in page order.

    pdfplumber is opened on the first page that may hold a table, and remembers the last table of the page
    before so that a table running over a page break keeps its header.  pdfminer cannot read every file
    PDFium reads; after it fails once, the document's pages keep their text without tables rather than the
    file failing.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pdf: pdfplumber.PDF | None = None
        self._broken = False
        self._last: PdfTable | None = None

    def tables(self, page: pdfium.PdfPage, number: int) -> list[PdfTable]:
        """The tables of page ``number`` (0-based), which PDFium has open as ``page``."""
        tables: list[PdfTable] = []
        if not self._broken and may_hold_table(page):
            try:
                if self._pdf is None:
                    self._pdf = pdfplumber.open(io.BytesIO(self._data))
                tables = find_tables(self._pdf, number, after=self._last)
            except Exception:  # pdfminer's many error types for files it cannot parse; see the docstring
                self._broken = True
        self._last = tables[-1] if tables else None
        return tables

    def skip(self) -> None:
        """A page without a usable text layer: no table on it continues onto the next page."""
        self._last = None

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
