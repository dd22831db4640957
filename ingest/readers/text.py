"""Text formats: plain text, Markdown, HTML and .jsonl, with Chinese-aware encoding detection.

Headings of HTML become Markdown ``#`` lines so that metadata and chunking see one structure syntax
whatever the format.
"""

from __future__ import annotations

import codecs
import json
import re

from bs4 import BeautifulSoup, Comment, NavigableString
from bs4.dammit import EncodingDetector
from charset_normalizer import from_bytes

from ingest.readers.base import RawRecord, ReadContext, UnreadableFile

# Share of control / replacement characters above which "text" is really binary decoded by accident.
_MAX_GARBAGE_RATIO = 0.01
_GARBAGE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_HANZI = re.compile(r"[\u4e00-\u9fff]")
_HANZI_SAMPLE = 20000  # hanzi looked at to tell GB from Big5: plenty, and bounded on huge files


def decode(data: bytes) -> str:
    """Decode text bytes: strict UTF-8 (± BOM), UTF-16 by BOM, strict GB18030 or Big5, then charset-normalizer.

    GB18030 is tried before statistical detection because it is a strict superset of GBK/GB2312 and
    rejects most non-Chinese byte soup, while detectors often mistake short Chinese texts for Big5 or
    Shift-JIS.  Big5 bytes are valid GB18030 too, though, so :func:`_gb_or_big5` picks between the two.
    NUL bytes outside UTF-16 mean a binary file that merely has a text extension.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"UTF-16 文本无效：{exc.reason}") from exc
    if b"\x00" in data:
        raise UnreadableFile("二进制文件（含空字节），不是文本")
    try:
        return _gb_or_big5(data, _reject_garbage(data.decode("gb18030")))
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise UnreadableFile("无法识别文本编码（不是 UTF-8、UTF-16 或 GB18030/GBK）")
    return _reject_garbage(str(best))


def _gb_or_big5(data: bytes, gb_text: str) -> str:
    """The Big5 reading of ``data`` if it is valid and reads as more common characters than the GB one.

    Traditional-Chinese Big5 text also decodes as GB18030, into nonsense made of rare characters, while
    GBK text almost never decodes as strict Big5.  So the decoding whose hanzi are more often the common
    characters of its own charset (GB2312; Big5's level-1 block) is the right one.
    """
    gb_share = _common_hanzi_share(gb_text, big5=False)
    if gb_share == 1.0:
        return gb_text
    for encoding in ("big5", "cp950"):  # cp950 = Big5 with Microsoft's additions (files saved on Windows)
        try:
            big5_text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _reject_garbage(big5_text) if _common_hanzi_share(big5_text, big5=True) > gb_share else gb_text
    return gb_text


def _common_hanzi_share(text: str, *, big5: bool) -> float:
    """Share of the text's hanzi that are common characters: in GB2312, or in Big5 rows A4–C6 (level 1)."""
    hanzi = _HANZI.findall(text, 0, _HANZI_SAMPLE * 4)[:_HANZI_SAMPLE]
    if not hanzi:
        return 1.0
    common = 0
    for char in hanzi:
        try:
            encoded = char.encode("big5" if big5 else "gb2312")
        except UnicodeEncodeError:
            continue
        common += 0xA4 <= encoded[0] <= 0xC6 if big5 else 1
    return common / len(hanzi)


def _reject_garbage(text: str) -> str:
    """Refuse decodings that are mostly control characters: binary data that happened to decode."""
    if len(_GARBAGE.findall(text)) > _MAX_GARBAGE_RATIO * len(text):
        raise UnreadableFile("二进制文件（控制字符过多），不是文本")
    return text


def read_plain(data: bytes, context: ReadContext) -> list[RawRecord]:
    """Plain text in any of the encodings ``decode`` recognises."""
    return [RawRecord(decode(data))]


_MARKDOWN_INLINE = (
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),  # **bold**
    (re.compile(r"(?<![A-Za-z0-9])__(.+?)__(?![A-Za-z0-9])"), r"\1"),  # __bold__, not snake__case__names
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # [text](url), ![alt](src)
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # `code`
)


def read_markdown(data: bytes, context: ReadContext) -> list[RawRecord]:
    """Markdown as its reader sees it: emphasis, link targets and code ticks go, or snippets show ``**…**``.

    ``#`` heading lines stay: the chunker reads them as headings. Single ``*`` is left alone (bullets, ×).
    """
    text = decode(data)
    for pattern, replacement in _MARKDOWN_INLINE:
        text = pattern.sub(replacement, text)
    return [RawRecord(text)]


_BLOCK_TAGS = ["p", "div", "li", "tr", "table", "section", "article", "blockquote", "pre", "ul", "ol", "dd", "dt"]


def read_html(data: bytes, context: ReadContext) -> list[RawRecord]:
    """HTML → text lines: scripts, styles and navigation dropped, headings kept as ``#`` lines."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    try:
        markup = data.decode(declared) if declared else decode(data)
    except (LookupError, UnicodeDecodeError):
        markup = decode(data)
    soup = BeautifulSoup(markup, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "nav", "noscript", "template", "head"]):
        tag.decompose()
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    for text_node in soup.find_all(string=True):
        if type(text_node) is NavigableString and text_node.find_parent("pre") is None:
            # In HTML a line break in the source is just a space; only markup makes paragraphs.
            text_node.replace_with(NavigableString(re.sub(r"\s+", " ", text_node)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    return [RawRecord(soup.get_text(), title_hint=title or None)]


def read_jsonl(data: bytes, context: ReadContext) -> list[RawRecord]:
    """One record per line: ``{"id": ..., "text": ..., "title": ..., other fields}``."""
    records: list[RawRecord] = []
    seen: set[str] = set()
    for number, line in enumerate(decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableFile(f"第{number}行 JSON 无效（{exc.msg}）") from exc
        if not isinstance(record, dict):
            raise UnreadableFile(f'第{number}行应为 JSON 对象，如 {{"id": …, "title": …, "text": …}}')
        record_id, text = record.get("id"), record.get("text")
        if isinstance(record_id, bool) or not isinstance(record_id, str | int) or not str(record_id).strip():
            raise UnreadableFile(f'第{number}行缺少 id（字符串或数字）')
        if not isinstance(text, str) or not text.strip():
            raise UnreadableFile(f'第{number}行（记录 {record_id!r}）缺少 text')
        record_id = str(record_id).strip()
        if record_id in seen:
            raise UnreadableFile(f"第{number}行 id 重复：{record_id!r}")
        seen.add(record_id)
        # an empty field ("title": "") says nothing: detection fills it, as if the field were absent
        fields = {key: value for key, value in record.items() if key not in ("id", "text") and value != ""}
        records.append(RawRecord(text, fields=fields, record_id=record_id))
    if not records:
        raise UnreadableFile(".jsonl 文件中没有记录")
    return records
