"""Title, date, source and doc_type of a document, as pure functions of its text, name and folders.

Detection covers the documents this project meets (LawRefBook laws, government work reports, union case
reports); anything it gets wrong can be overridden without touching the text, by front matter at the top
of a .md/.txt file, a ``<name>.meta.json`` sidecar, or the fields of a .jsonl record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import NamedTuple, cast

from ingest.chunking import ARTICLE_NUMBER
from ingest.models import DATE_PRECISION_KEY, DOC_TYPES, DatePrecision, DocType

METADATA_VERSION = 2  # raise when the rules below change what a document's metadata are: KBs then re-read
OVERRIDABLE = ("title", "date", "source", "doc_type")
HEAD_CHARS = 500  # "near the top": where 来源/日期 lines and dateline sit
MAX_TITLE_LINE = 60

_DIGIT_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_DATE_FIELD = re.compile(r"日期\s*[：:]\s*" + _DIGIT_DATE)
_NAME_DATE = re.compile(r"[（(]\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*[)）]")
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ANY_DATE = re.compile(rf"^\s*{_DIGIT_DATE}\s*$")
_YEAR_MONTH = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_YEAR_ONLY = re.compile(r"^\s*(\d{4})\s*年?\s*$")
_YEAR_IN_NAME = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)\s*年")
_STEM_DATE = re.compile(r"\s*[（(]\s*\d{4}-\d{1,2}-\d{1,2}\s*[)）]\s*$")
_SOURCE = re.compile(r"(?:来源|发布机关|发文机关)[ \t]*[：:][ \t]*(\S+?)(?=\s|日期|$)", re.MULTILINE)
# "1994年9月8日 北京市第十届人民代表大会常务委员会第十二次会议通过" → the body that passed a law
_PASSED_BY = re.compile(r"日\s*(?P<body>[^，。,\s《]+?)第[\d一二三四五六七八九十百零]+次(?:常务)?会议")
_SESSION = re.compile(r"第[一二三四五六七八九十百零\d]+届")
# a local body or regulation names its region first: 上海市…, 广东省…, 深圳经济特区…
_REGION = re.compile(r"^(?P<region>[\u4e00-\u9fff]{2,8}?(?:省|自治区|特别行政区|经济特区|市(?!场)))")
_NATIONAL = ("中华人民共和国", "全国", "国务院", "最高人民", "中共中央", "中央")
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_ARTICLE_LINE = re.compile(rf"^{ARTICLE_NUMBER}\s", re.MULTILINE)
_LAW_TITLE = re.compile(
    rf"(?:{ARTICLE_NUMBER}|(?<![做方说看想])法|条例|细则|司法解释|解释（[一二三四五六七八九十]+）)$"
)
_FRONT_MATTER = re.compile(r"\A\ufeff?[ \t]*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FRONT_MATTER_LINE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*[:：]\s*(.*?)\s*$")

# Folder-name cues, innermost folder first.  Chinese keywords match inside a name (地方性法规 → 法规),
# English ones only as the whole name ("cases"), so that ordinary words do not trigger them.
_FOLDER_CUES: tuple[tuple[DocType, tuple[str, ...], frozenset[str]], ...] = (
    ("case", ("案例",), frozenset({"case", "cases"})),
    ("report", ("报告",), frozenset({"report", "reports"})),
    ("policy", ("政策",), frozenset({"policy", "policies"})),
    ("law", ("法律", "法规", "司法解释", "规章"), frozenset({"law", "laws", "legislation", "regulations"})),
)
_CASE_CUES = ("经验", "做法", "案例")
_POLICY_TITLE_CUES = ("意见", "方案", "通知", "规划", "纲要")
_DOC_TYPE_ALIASES = {"法律": "law", "法规": "law", "政策": "policy", "案例": "case", "报告": "report", "其他": "other"}


class MetadataError(ValueError):
    """Invalid user-supplied metadata (front matter, sidecar, record field); the message names where."""


@dataclass(frozen=True)
class Metadata:
    title: str
    date: str | None
    source: str | None
    doc_type: DocType
    extra: dict[str, object] = field(default_factory=dict)


def make_doc_id(path: PurePath, root: PurePath) -> str:
    """``<root folder name>/<path relative to root>`` (posix), or the file name when the root is the file.

    It depends on where the file sits, never on its content, so an edited file keeps its identity.
    """
    if path == root:
        return path.name
    return f"{root.name}/{path.relative_to(root).as_posix()}"


def folders_of(path: PurePath, root: PurePath) -> tuple[str, ...]:
    """Folder names from the ingested root down to the file's folder (empty for a single-file root)."""
    if path == root:
        return ()
    return (root.name, *path.relative_to(root).parent.parts)


def title_from_file_name(name: str) -> str:
    """The file stem without a trailing ``(YYYY-MM-DD)`` version date."""
    return _STEM_DATE.sub("", PurePath(name).stem).strip() or name


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split YAML-like ``---`` / ``key: value`` / ``---`` front matter from the top of a text.

    Only flat ``key: value`` lines are accepted; anything else means the ``---`` was a Markdown rule, and
    the text is returned unchanged.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pair = _FRONT_MATTER_LINE.match(line)
        if not pair:
            return {}, text
        value = pair.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        fields[pair.group(1).lower()] = value
    return fields, text[match.end() :]


def parse_sidecar(data: bytes, name: str) -> dict[str, object]:
    """The JSON object in a ``.meta.json`` sidecar."""
    try:
        fields = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"附加元数据文件 {name} 不是有效的 UTF-8 JSON：{exc}") from exc
    if not isinstance(fields, dict):
        raise MetadataError(f'附加元数据文件 {name} 应为 JSON 对象，如 {{"doc_type": "case"}}')
    return fields


class Dated(NamedTuple):
    """A document's date as ISO ``YYYY-MM-DD`` and how much of it the source gives.

    A year alone (1954年政府工作报告.txt) or a month is stored as its first day, so that filters by date and
    the year facet find it, and shown as the year or the month: 46 of the 87 government work reports would
    otherwise read as issued on 1 January.
    """

    iso: str
    precision: DatePrecision = "day"


def normalise_date(value: object) -> Dated | None:
    """The date of ``2023-11-01``, ``2023/11/1``, ``2023年11月1日``, ``2023-11`` (a month) or ``2023`` (a year)."""
    text = str(value).strip()
    for pattern, precision in ((_ANY_DATE, "day"), (_YEAR_MONTH, "month"), (_YEAR_ONLY, "year")):
        match = pattern.match(text)
        if match:
            parts = [int(g) for g in match.groups()]
            return _dated(*parts, *[1] * (3 - len(parts)), precision=precision)
    return None


def _dated(year: int, month: int, day: int, precision: DatePrecision = "day") -> Dated | None:
    try:
        return Dated(dt.date(year, month, day).isoformat(), precision)
    except ValueError:  # 2023年2月30日
        return None


def _dates(pattern: re.Pattern[str], text: str) -> list[Dated]:
    return [d for d in (_dated(*(int(g) for g in m.groups())) for m in pattern.finditer(text)) if d]


def detect_title(text: str, *, header_title: str | None, title_hint: str | None, fallback: str) -> str:
    """Header title, else first ``# `` heading, else the format's title, else a short first line, else fallback."""
    if header_title:
        return header_title
    heading = _H1.search(text)
    if heading:
        return heading.group(1).strip()
    if title_hint:
        return title_hint
    first_line = next((line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip()), "")
    if first_line and len(first_line) <= MAX_TITLE_LINE and "。" not in first_line:
        return first_line
    return fallback


def detect_date(text: str, *, header: str, file_name: str, title: str) -> Dated | None:
    """The document date, from the most to the least reliable cue.

    ``日期：`` in the head; ``(YYYY-MM-DD)`` in the file name; the latest date of a LawRefBook header (the
    version in force, which is how LawRefBook names files); the first ``YYYY年M月D日`` near the top; a year
    in the title or file name (→ YYYY-01-01, a year's precision).
    """
    head = text[:HEAD_CHARS]
    for candidates in (
        _dates(_DATE_FIELD, head),
        _dates(_NAME_DATE, file_name),
        sorted(_dates(_CN_DATE, header), reverse=True),
        _dates(_CN_DATE, head),
    ):
        if candidates:
            return candidates[0]
    for name in (title, file_name):
        year = _YEAR_IN_NAME.search(name) or _YEAR.search(name)
        if year:
            return _dated(int(year.group(1)), 1, 1, precision="year")
    return None


def detect_source(text: str) -> str | None:
    """The issuing body from ``来源：`` / ``发布机关：`` / ``发文机关：`` in the head of the text."""
    match = _SOURCE.search(text[:HEAD_CHARS])
    if match is None:
        return None
    return match.group(1).strip("，,;；。") or None


def source_from_header(header: str) -> str | None:
    """The body that first passed a law, from a LawRefBook header (全国人民代表大会常务委员会, 上海市…)."""
    match = _PASSED_BY.search(header)
    return _SESSION.sub("", match.group("body")) or None if match else None


def detect_jurisdiction(title: str, source: str | None) -> str | None:
    """The region a local regulation or body belongs to (上海市, 广东省), None for national ones.

    Retrieval ranks national law above local rules unless the question names the region, which is how a
    union officer reads the hierarchy of norms (上位法) when no locality is given.
    """
    for text in (source, title):
        if text and not text.startswith(_NATIONAL):
            match = _REGION.match(text)
            if match:
                return match.group("region")
    return None


def detect_doc_type(text: str, *, title: str, folders: Sequence[str]) -> DocType:
    """Folder names first (innermost wins), then title and content cues.

    报告 titles → report; law-like titles (…法, …条例, …第十二条) or three or more 第X条 articles → law;
    经验/做法/案例 near the top → case; 意见/方案/通知/规划/纲要 titles → policy; else other.
    """
    for folder in reversed(folders):
        for doc_type, keywords, names in _FOLDER_CUES:
            if folder.lower() in names or any(keyword in folder for keyword in keywords):
                return doc_type
    head = title + "\n" + text[:HEAD_CHARS]
    if "政府工作报告" in title or title.endswith("报告"):
        return "report"
    if _LAW_TITLE.search(title) or len(_ARTICLE_LINE.findall(text)) >= 3:
        return "law"
    if any(cue in head for cue in _CASE_CUES):
        return "case"
    if any(cue in title for cue in _POLICY_TITLE_CUES):
        return "policy"
    return "other"


def merge_overrides(
    overrides: Sequence[tuple[str, Mapping[str, object]]],
) -> tuple[dict[str, object], dict[str, object]]:
    """Validate user-supplied fields, later sources winning: (title/date/source/doc_type, other scalars).

    ``overrides`` pairs each field mapping with a name for error messages (e.g. "sidecar x.meta.json").
    """
    known: dict[str, object] = {}
    extra: dict[str, object] = {}
    for origin, fields in overrides:
        for key, value in fields.items():
            if value is None or not isinstance(value, str | int | float | bool):
                continue
            if key in OVERRIDABLE:
                known[key] = _validated(key, value, origin)
            else:
                extra[key] = value
    return known, extra


def _validated(key: str, value: object, origin: str) -> object:
    text = str(value).strip()
    if key == "doc_type":
        doc_type = _DOC_TYPE_ALIASES.get(text, text.lower())
        if doc_type not in DOC_TYPES:
            raise MetadataError(f"{origin}：doc_type {text!r} 无效，应为 {'、'.join(DOC_TYPES)} 之一")
        return doc_type
    if key == "date":
        date = normalise_date(text)
        if date is None:
            raise MetadataError(f"{origin}：date {text!r} 不是日期（应如 2023-11-01）")
        return date
    if key == "title" and not text:
        raise MetadataError(f"{origin}：title 为空")
    return text or None  # an empty source clears the detected one


def describe(
    text: str,
    *,
    file_name: str,
    folders: Sequence[str],
    fallback_title: str,
    header_title: str | None = None,
    header: str = "",
    title_hint: str | None = None,
    overrides: Sequence[tuple[str, Mapping[str, object]]] = (),
) -> Metadata:
    """All metadata of one document: user overrides where given, detection for the rest."""
    fields, extra = merge_overrides(overrides)
    title = cast(str, fields.get("title")) or detect_title(
        text, header_title=header_title, title_hint=title_hint, fallback=fallback_title
    )
    dated = cast("Dated | None", fields["date"]) if "date" in fields else detect_date(
        text, header=header, file_name=file_name, title=title)
    extra.pop(DATE_PRECISION_KEY, None)  # said by the date itself, never by a sidecar
    if dated is not None and dated.precision != "day":
        extra[DATE_PRECISION_KEY] = dated.precision
    source = fields["source"] if "source" in fields else detect_source(text) or source_from_header(header)
    doc_type = fields.get("doc_type") or detect_doc_type(text, title=title, folders=folders)
    jurisdiction = extra.get("jurisdiction") or detect_jurisdiction(title, cast("str | None", source))
    if jurisdiction:
        extra["jurisdiction"] = jurisdiction
    date = dated.iso if dated else None
    return Metadata(title, date, cast("str | None", source), cast(DocType, doc_type), extra)


def content_hash(text: str, meta: Metadata) -> str:
    """sha256 over everything that is indexed: the clean text, title, date, source, doc_type and extra."""
    payload = [text, meta.title, meta.date, meta.source, meta.doc_type, meta.extra]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
