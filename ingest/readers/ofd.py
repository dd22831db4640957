"""OFD (GB/T 33190), the e-document format of government 公文: text objects of each page in reading order.

An OFD file is a zip of XML: ``OFD.xml`` names each document's root (``Document.xml``) and its ``DocInfo``
(title, creation date); ``Document.xml`` lists the pages; each page's ``Content.xml`` holds ``TextObject``
boxes whose ``TextCode`` runs carry the characters and their position in millimetres.  The runs become
line boxes, and ``layout`` drops page numbers and running headers, orders and joins them exactly as it does
OCR'd lines.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile, paged_record
from ingest.readers.layout import Line, PageScan, drop_running_lines, page_text
from ingest.readers.office import refuse_zip_bomb

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    """Descendants named ``name`` whatever their namespace (producers disagree on the OFD namespace URI)."""
    return [node for node in element.iter() if isinstance(node.tag, str) and etree.QName(node).localname == name]


def _first_text(element: etree._Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].text or "").strip() or None if found else None


def _numbers(value: str | None) -> list[float]:
    return [float(part) for part in (value or "").split()]


def _page_lines(content: etree._Element) -> PageScan:
    """A page's text runs as line boxes (mm); each ``TextCode`` is one run at its baseline ``Y``."""
    lines: list[Line] = []
    for text_object in _children(content, "TextObject"):
        x, y, width, height = (_numbers(text_object.get("Boundary")) + [0, 0, 0, 0])[:4]
        size = float(text_object.get("Size") or height or 1)
        for code in _children(text_object, "TextCode"):
            text = (code.text or "").strip()
            if text:
                baseline = y + float(code.get("Y") or size)
                left = x + float(code.get("X") or 0)
                lines.append(Line(text, left, baseline - size, max(x + width, left + size * len(text)), baseline))
    area = _numbers(_first_text(content, "PhysicalBox"))
    right = max((line.right for line in lines), default=210.0)
    bottom = max((line.bottom for line in lines), default=297.0)
    width, height = (area[2], area[3]) if len(area) == 4 else (right, bottom)
    return PageScan(int(width) or 1, int(height) or 1, tuple(lines))


def _xml(package: zipfile.ZipFile, name: str) -> etree._Element:
    return etree.fromstring(package.read(name.lstrip("/")), _PARSER)


def read_ofd(data: bytes, context: ReadContext) -> list[RawRecord]:
    """Every page of the first document in an OFD package, with the package's title and date if declared."""
    refuse_zip_bomb(data, ".ofd")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            root = _xml(package, "OFD.xml")
            doc_root = _first_text(root, "DocRoot")
            if doc_root is None:
                raise UnreadableFile("OFD 文件缺少 DocRoot（文档入口）")
            document = _xml(package, doc_root)
            base = posixpath.dirname(doc_root.lstrip("/"))
            scans = []
            for page in _children(document, "Page"):
                location = posixpath.normpath(posixpath.join(base, page.get("BaseLoc", "")))
                scans.append(_page_lines(_xml(package, location)))
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError, OSError) as exc:
        raise UnreadableFile(f"OFD 文件损坏或无法读取（{type(exc).__name__}）") from exc
    title = _first_text(root, "Title")
    date = _first_text(root, "CreationDate")
    pages = [page_text(scan) for scan in drop_running_lines(scans)]  # 公文 carry — N — at every page's foot
    return [paged_record(pages, title_hint=title, fields={"date": date} if date else {})]
