"""Scans and photos read by real RapidOCR: pages rendered from real law text, as a scanner would give them.

OCR costs seconds a page on 2 cores, so each test reads one or two small pages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from bench.scans import character_error_rate, law_paragraphs, render_page, scanned_pdf
from ingest.chunking import chunk_document
from ingest.models import Document
from ingest.pipeline import read_document, with_pages
from ingest.readers import ReadContext

TRADE_UNION_LAW = "corpus/laws/社会法/工会法(2021-12-24).md"
PAGE_MM = (150, 150)  # a small page: about 1.4 megapixels at 200 dpi


@pytest.fixture(scope="module")
def articles(shared: Path) -> list[str]:
    """第四十二条 and 第四十三条 of the 工会法, as its paragraphs (the list items of 第四十三条 included)."""
    return law_paragraphs(shared / TRADE_UNION_LAW, "第四十二条", 9)


def read_one(path: Path, context: ReadContext) -> Document:
    result = read_document(path, context=context)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def test_scanned_pdf_page_is_ocrd_once_and_chunked_like_the_digital_law(
    tmp_path: Path, articles: list[str]
) -> None:
    path = tmp_path / "工会经费.pdf"
    garbage = "".join(map(chr, range(0xE000, 0xE040)))  # a scanner's text layer of unmapped glyphs
    scanned_pdf(path, ["中华人民共和国工会法（节选）", "第四十一条 本条见下页之前。"], render_page(articles, 200, size_mm=PAGE_MM),
                hidden_layer=garbage)
    progress: list[tuple[int, int]] = []
    context = ReadContext(cache_dir=tmp_path / "cache", on_progress=lambda done, total: progress.append((done, total)))
    doc = read_one(path, context)
    assert progress == [(2, 2)]  # page 1 had a usable text layer; page 2's layer is garbage, so it was OCR'd
    scanned = doc.text[doc.page_starts[1]:]
    assert character_error_rate("\n".join(articles), scanned) <= 0.01
    # The OCR'd articles are chunked as the digital text is: same headings, same article boundaries.
    digital = Document(doc.doc_id, doc.title, "\n".join(articles), "law", None, None, "", "", "")
    chunks = with_pages(doc, chunk_document(doc))
    ocr_articles = [(c.heading[-1], c.page) for c in chunks if c.start >= doc.page_starts[1]]
    assert ocr_articles == [(c.heading[-1], 2) for c in chunk_document(digital)] == [("第四十二条", 2), ("第四十三条", 2)]
    assert {c.page for c in chunks if c.start < doc.page_starts[1]} == {1}

    started = time.perf_counter()
    again = read_one(path, ReadContext(cache_dir=tmp_path / "cache"))  # a re-ingest: every page from the cache
    assert again.text == doc.text and time.perf_counter() - started < 3
    assert len(list((tmp_path / "cache" / "ocr").rglob("*.json"))) == 1


@pytest.mark.parametrize("turn", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180])
def test_photo_taken_sideways_or_upside_down_is_turned(tmp_path: Path, articles: list[str], turn: Image.Transpose) -> None:
    page = render_page(articles[2:5], 150, size_mm=(120, 45), margin_mm=8)
    path = tmp_path / "通知.png"
    page.transpose(turn).save(path)
    doc = read_one(path, ReadContext())
    assert character_error_rate("".join(articles[2:5]), doc.text) <= 0.03
    assert doc.text.splitlines()[0].startswith("（一）")


NETWORK_OFF_SCRIPT = """
from bench.scans import render_page
from ingest.readers.layout import page_text
from ingest.readers.ocr import scan_image
print(page_text(scan_image(render_page(["第一条 工会经费的来源。"], 150, size_mm=(80, 25), margin_mm=5))))
"""


def test_ocr_needs_no_network(tmp_path: Path) -> None:
    """The models ship inside the wheel: OCR works in a network namespace with no interface but loopback."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and util-linux unshare to cut the network (CI and make test run as root)")
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", NETWORK_OFF_SCRIPT], capture_output=True,
                            text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
                            env={**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "第一条 工会经费的来源。"


KILLED_MID_SCAN = """
import os, signal, sys
from pathlib import Path
from ingest.pipeline import read_document
from ingest.readers import ReadContext

def crash_after_first_page(done: int, total: int) -> None:
    if done == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or the OOM killer would

read_document(Path(sys.argv[1]), context=ReadContext(cache_dir=Path(sys.argv[2]), on_progress=crash_after_first_page))
"""


def test_a_scan_killed_mid_way_resumes_without_ocring_done_pages_again(tmp_path: Path, articles: list[str]) -> None:
    first, second = (render_page([text], 150, size_mm=(110, 30), margin_mm=6) for text in articles[2:4])
    path = tmp_path / "两页.tif"
    first.save(path, save_all=True, append_images=[second])
    cache = tmp_path / "cache"
    repo = Path(__file__).resolve().parents[2]
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_SCAN, str(path), str(cache)], cwd=repo, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True)
    assert killed.returncode == -9, killed.stderr
    (done,) = (cache / "ocr").rglob("*.json")
    written = done.stat().st_mtime_ns

    progress: list[tuple[int, int]] = []
    doc = read_one(path, ReadContext(cache_dir=cache, on_progress=lambda d, t: progress.append((d, t))))
    assert doc.text.split("\n\n") == articles[2:4] and progress == [(1, 2), (2, 2)]
    assert done.stat().st_mtime_ns == written  # page 1 came from the cache: only page 2 was OCR'd
    assert len(list((cache / "ocr").rglob("*.json"))) == 2
