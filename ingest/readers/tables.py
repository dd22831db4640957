"""Tables and spreadsheets: every row becomes one line that carries its header.

A row read as ``焊工技能提升 | 120 | 2024`` loses what the numbers are; ``培训项目：焊工技能提升；人数：120；
年份：2024`` keeps it, so a search for 培训人数 finds the row and a passage shown to a person reads as a
sentence.  The header row itself stays as one line (``培训项目 | 人数 | 年份``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence

import openpyxl

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile
from ingest.readers.text import decode

MAX_SHEET_CELLS = 2_000_000  # a sheet past this is a data dump, not a document a person reads


def _cell(value: object) -> str:
    """A cell as text: whole floats without ``.0`` (Excel stores 120 as 120.0), whitespace collapsed."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split()) if value is not None else ""


def _distinct(cells: Sequence[str]) -> list[str]:
    """Cells with horizontally merged repeats blanked (a merged cell repeats its text in every column)."""
    return [c if i == 0 or c != cells[i - 1] else "" for i, c in enumerate(cells)]


def row_lines(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> list[str]:
    """Lines of a table: the header row (the first non-empty one) as is, then each row with its header.

    ``header`` given: ``rows`` continue a table whose header row came before (on the previous page of a PDF);
    every row is a data row paired with it.
    """
    lines: list[str] = []
    header = list(header) if header is not None else None
    for raw in rows:
        cells = _distinct([_cell(value) for value in raw])
        if not any(cells):
            continue
        if header is None:
            header = cells
            lines.append(" | ".join(c for c in cells if c))
            continue
        pairs = [f"{header[i]}：{c}" if i < len(header) and header[i] else c for i, c in enumerate(cells) if c]
        lines.append("；".join(pairs))
    return lines


def read_xlsx(data: bytes, context: ReadContext) -> list[RawRecord]:
    """.xlsx: each sheet a ``##`` section of header-carrying rows (values, not formulas)."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFile(f"Excel 文件损坏或无法读取（{type(exc).__name__}）") from exc
    sections: list[str] = []
    for sheet in book.worksheets:
        if (sheet.max_row or 0) * (sheet.max_column or 0) > MAX_SHEET_CELLS:
            raise UnreadableFile(f"工作表「{sheet.title}」过大（上限 {MAX_SHEET_CELLS} 个单元格）")
        lines = row_lines(sheet.iter_rows(values_only=True))
        if lines:
            sections.append("\n".join([f"## {sheet.title}", *lines]))
    title = (book.properties.title or "").strip()
    book.close()
    return [RawRecord("\n\n".join(sections), title_hint=title or None)]


def read_csv(data: bytes, context: ReadContext) -> list[RawRecord]:
    """.csv (comma, tab or semicolon separated, any encoding ``decode`` knows): rows with their header."""
    text = decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [RawRecord("\n".join(row_lines(csv.reader(io.StringIO(text), dialect))))]
