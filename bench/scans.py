"""Scanned pages made from real Chinese text: what the OCR tests and ``bench/ocr.py`` read.

A page is typeset the way a 红头文件 is (first-line indent of two characters, 1.6 line spacing, a CJK font)
at a given dpi, then degraded like a real scan: sensor noise, a slightly soft focus and a skew of a few
tenths of a degree.  The ground truth is the text that was typeset, so a character error rate can be
measured against it.
"""
from __future__ import annotations

import io
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = (  # Debian's fonts-wqy-zenhei, then fonts-noto-cjk
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FONT_POINTS = 12  # 小四, the body size of most 公文 drafts
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Degradation:
    """How a page is spoiled after typesetting, like a flatbed scan of a photocopy."""

    noise: float = 12.0  # standard deviation of Gaussian pixel noise (0–255)
    blur: float = 0.5  # Gaussian blur radius at 200 dpi (scaled with the dpi)
    skew: float = 0.4  # degrees of rotation
    seed: int = 0


def cjk_font(size_px: int) -> ImageFont.FreeTypeFont:
    """A CJK font from Debian's packages (``make test`` installs fonts-wqy-zenhei)."""
    for path in FONT_PATHS:
        if path.is_file():
            return ImageFont.truetype(str(path), size_px)
    raise FileNotFoundError("no CJK font found: apt-get install fonts-wqy-zenhei")


def _wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: float, indent: float) -> list[tuple[float, str]]:
    """A paragraph broken into lines no wider than ``width`` (first line indented), as (x offset, text)."""
    lines: list[tuple[float, str]] = []
    current, offset = "", indent
    for char in paragraph:
        if current and offset + font.getlength(current + char) > width:
            lines.append((offset, current))
            current, offset = "", 0.0
        current += char
    if current:
        lines.append((offset, current))
    return lines


def render_page(paragraphs: list[str], dpi: int, *, size_mm: tuple[float, float] = (210, 297),
                margin_mm: float = 20, degradation: Degradation | None = Degradation()) -> Image.Image:
    """``paragraphs`` typeset on a white page of ``size_mm`` at ``dpi``, degraded unless ``degradation`` is None."""
    px = dpi / MM_PER_INCH
    width, height = round(size_mm[0] * px), round(size_mm[1] * px)
    font = cjk_font(round(FONT_POINTS / 72 * dpi))
    em = font.getlength("中")
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    left, y, usable = margin_mm * px, margin_mm * px, width - 2 * margin_mm * px
    for paragraph in paragraphs:
        for offset, line in _wrap(paragraph, font, usable, 2 * em):
            if y + 1.6 * em > height - margin_mm * px:
                raise ValueError("text does not fit on the page: give fewer paragraphs or a larger size_mm")
            draw.text((left + offset, y), line, font=font, fill=0)
            y += 1.6 * em
    return page if degradation is None else degrade(page, degradation, dpi)


def degrade(page: Image.Image, how: Degradation, dpi: int) -> Image.Image:
    """Blur, skew and noise, reproducibly (``how.seed``)."""
    page = page.filter(ImageFilter.GaussianBlur(how.blur * dpi / 200)).rotate(how.skew, fillcolor=255, expand=False)
    rng = np.random.default_rng(how.seed)
    pixels = np.asarray(page, dtype=np.float32) + rng.normal(0, how.noise, (page.height, page.width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def scanned_pdf(path: Path, typed: list[str], scan: Image.Image, dpi: int = 200, hidden_layer: str = "") -> None:
    """A PDF whose page 1 is typed (a text layer) and page 2 the scanned image, as office scanners mix them.

    ``hidden_layer``: invisible text over the scan, as a scanner's own (here: failed) OCR leaves it.
    """
    from reportlab.lib.utils import ImageReader  # reportlab is a dev dependency: only tests and benches write PDFs
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    size = (scan.width * 72 / dpi, scan.height * 72 / dpi)
    pdf = canvas.Canvas(str(path), pagesize=size)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(typed):
        pdf.drawString(36, size[1] - 48 - 20 * i, line)
    pdf.showPage()
    pdf.drawImage(ImageReader(scan), 0, 0, *size)
    if hidden_layer:
        layer = pdf.beginText(36, size[1] - 48)
        layer.setTextRenderMode(3)  # invisible: drawn for search and copy, not for the eye
        layer.setFont("STSong-Light", 12)
        layer.textLine(hidden_layer)
        pdf.drawText(layer)
    pdf.showPage()
    pdf.save()


def fax_tiff(paragraphs: list[str], per_page: int = 2) -> bytes:
    """``paragraphs``, ``per_page`` to a small page, as a black-and-white multi-page TIFF (CCITT G4, as fax
    machines and many office scanners write): a scan of several pages in a few kilobytes."""
    pages = [render_page(paragraphs[i:i + per_page], 150, size_mm=(150, 60), margin_mm=8)
             .point(lambda v: 255 * (v > 150)).convert("1") for i in range(0, len(paragraphs), per_page)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], compression="group4")
    return out.getvalue()


def law_paragraphs(path: Path, article: str, count: int) -> list[str]:
    """``count`` paragraphs of a LawRefBook law from its ``article`` (e.g. 第四十三条) on: real text to typeset."""
    body = path.read_text(encoding="utf-8").split("<!-- INFO END -->")[-1]
    lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]
    start = next(i for i, line in enumerate(lines) if line.startswith(article + " "))
    return lines[start: start + count]


def character_error_rate(truth: str, read: str) -> float:
    """Edit distance / length of the truth, both NFKC-normalised and without whitespace."""
    a = "".join(unicodedata.normalize("NFKC", truth).split())
    b = "".join(unicodedata.normalize("NFKC", read).split())
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1] / max(len(a), 1)


def shuffled(items: list[str], seed: int) -> list[str]:
    """A reproducible shuffle (which articles go on which bench page)."""
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy
