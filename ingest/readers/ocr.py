"""Offline OCR of page images: RapidOCR (PP-OCRv4 models shipped inside the ``rapidocr-onnxruntime`` wheel).

A page is OCR'd once: its result (text lines with their boxes, after turning the page upright) is cached
under the hash of the page image, one small file written atomically per page, so a re-ingest or a run
after ``kill -9`` in the middle of a long scan only OCRs the pages not done.  The cache holds geometry, not
paragraphs: ``ingest.readers.layout`` turns lines into text, and a change there needs no new OCR.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile, paged_record
from ingest.readers.layout import Line, PageScan, drop_running_lines, page_text

OCR_VERSION = "ppocrv4-2"  # part of every cache key: bump it when what a page scan holds changes
MIN_CONFIDENCE = 0.5  # RapidOCR's own default: lines read with less are noise (stains, stamps, photos)
MAX_PIXELS = 40_000_000  # ≈ an A3 page at 400 dpi; larger images are refused before OCR


@lru_cache(maxsize=1)
def _engine() -> Any:  # rapidocr ships no type information
    """RapidOCR with its bundled models, loaded once per process (≈1 s) on first use."""
    from rapidocr_onnxruntime import RapidOCR  # imported late: onnxruntime is slow to import

    return RapidOCR()


_LOCK = threading.Lock()  # one page at a time: onnxruntime already uses every core for one page


def _recognise(image: np.ndarray) -> list[tuple[Line, float]]:
    """Every line RapidOCR detects on the page, with its text and the recogniser's confidence.

    Lines read with low confidence are kept here (their boxes still show how the page lies; an upside-down
    page is read as nothing but its boxes are right) and dropped by ``scan_image`` once the page is upright.
    RapidOCR's per-line orientation classifier stays off: on real pages it turns the odd upright line
    upside down (measured: one line in 34 of an A4 page, read as nothing), which costs a whole line; a
    page's orientation is decided once, by a vote over its widest lines (``_upside_down``).
    """
    with _LOCK:
        result, _ = _engine()(image, use_cls=False, text_score=0.0)
    lines = []
    for box, text, score in result or []:
        xs, ys = [point[0] for point in box], [point[1] for point in box]
        lines.append((Line(text.strip(), min(xs), min(ys), max(xs), max(ys)), float(score)))
    return lines


def _sideways(lines: list[Line]) -> bool:
    """Most lines are taller than wide: the page lies on its side (rotated 90° or 270°)."""
    tall = sum(line.height > 1.5 * (line.right - line.left) for line in lines)
    return tall > len(lines) / 2


def _upside_down(image: np.ndarray, lines: list[Line]) -> bool:
    """The orientation model says most of the widest lines read upside down (the page is turned 180°)."""
    votes = 0
    for line in sorted(lines, key=lambda item: item.right - item.left, reverse=True)[:5]:
        top, left = max(int(line.top), 0), max(int(line.left), 0)
        crop = np.ascontiguousarray(image[top: int(line.bottom) + 1, left: int(line.right) + 1])
        if crop.shape[0] < 2 or crop.shape[1] < 2:
            continue
        with _LOCK:
            result, _ = _engine()(crop, use_det=False, use_cls=True, use_rec=False)
        votes += 1 if result and result[0][0] == "180" else -1
    return votes > 0


def scan_image(image: Image.Image) -> PageScan:
    """OCR one page, turning it upright first if it was scanned on its side or upside down."""
    pixels = np.asarray(image.convert("RGB"))
    found = _recognise(pixels)
    if found and _sideways([line for line, _ in found]):
        pixels = np.ascontiguousarray(np.rot90(pixels))
        found = _recognise(pixels)
    if found and _upside_down(pixels, [line for line, _ in found]):
        pixels = np.ascontiguousarray(np.rot90(pixels, 2))
        found = _recognise(pixels)
    lines = tuple(line for line, score in found if score >= MIN_CONFIDENCE and line.text)
    return PageScan(pixels.shape[1], pixels.shape[0], lines)


def check_size(width: int, height: int) -> None:
    """Refuse a page image too large to OCR in reasonable time and memory."""
    if width * height > MAX_PIXELS:
        raise UnreadableFile(f"图像过大：{width}×{height} 像素（上限 {MAX_PIXELS // 1_000_000} 百万像素）")


class PageCache:
    """OCR results by page-image hash, one JSON file per page under ``folder`` (no caching when None)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder / "ocr" if folder is not None else None

    @staticmethod
    def key(image: Image.Image) -> str:
        digest = hashlib.sha256(f"{OCR_VERSION}\x00{image.mode}\x00{image.size}\x00".encode())
        digest.update(image.tobytes())
        return digest.hexdigest()

    def _path(self, key: str) -> Path | None:
        return self.folder / key[:2] / f"{key}.json" if self.folder is not None else None

    def get(self, key: str) -> PageScan | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return PageScan(raw["width"], raw["height"], tuple(Line(**line) for line in raw["lines"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is OCR'd again and rewritten

    def put(self, key: str, scan: PageScan) -> None:
        """Write atomically (temp file + rename): a kill leaves the entry whole or absent, never half."""
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(asdict(scan), file, ensure_ascii=False)
        os.replace(temp, path)

    def scan(self, image: Image.Image) -> PageScan:
        """The page's cached scan, or a new OCR of it (then cached)."""
        check_size(*image.size)
        key = self.key(image)
        cached = self.get(key)
        if cached is not None:
            return cached
        result = scan_image(image)
        self.put(key, result)
        return result


def ocr_pages(images: Iterator[Image.Image], total: int, context: ReadContext, done: int = 0) -> Iterator[PageScan]:
    """Scan each image through the page cache, reporting pages done / ``total`` after each one."""
    cache = PageCache(context.cache_dir)
    for image in images:
        scan = cache.scan(image)
        done += 1
        if context.on_progress is not None:
            context.on_progress(done, total)
        yield scan


def _frames(image: Image.Image) -> Iterator[Image.Image]:
    """Every frame of an image (a multi-page TIFF holds one page per frame), each checked for size."""
    for frame in ImageSequence.Iterator(image):
        check_size(*frame.size)
        yield frame.convert("RGB")


def read_image(data: bytes, context: ReadContext) -> list[RawRecord]:
    """A photo or scan (.png .jpg .tif .bmp .webp): OCR'd page by page, each frame of a TIFF a page."""
    try:
        image = Image.open(io.BytesIO(data))
        check_size(*image.size)
        frames = getattr(image, "n_frames", 1)
        scans = list(ocr_pages(_frames(image), frames, context))
    except Image.DecompressionBombError as exc:  # PIL's own, far larger limit, met before ``check_size``
        raise UnreadableFile(f"图像过大（上限 {MAX_PIXELS // 1_000_000} 百万像素）") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:  # PIL's errors for broken files
        raise UnreadableFile(f"图像文件损坏或不完整（{type(exc).__name__}）") from exc
    return [paged_record([page_text(scan) for scan in drop_running_lines(scans)])]
