"""Reading a multipart upload as a stream, refusing it as soon as it breaks a limit.

Starlette's form parser spools every file to disk before the endpoint can look at it, so a 2 GB upload
would be read whole before being refused. Here the body is parsed chunk by chunk with python-multipart and
the request fails the moment a file is too large, one file too many arrives, or a name is unacceptable.
Files are kept in memory (at most ``max_upload_files × max_upload_bytes``) because ingest takes bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from index.settings import Settings
from ingest.models import DOC_TYPES
from ingest.readers import SUPPORTED_SUFFIXES
from service.errors import ApiError

FIELD_LIMIT = 64 * 1024  # a form field is a type, title, date or source: bound what one may cost
OVERRIDE_FIELDS = ("doc_type", "title", "date", "source")  # what an upload may say about its files
MAX_NAME_BYTES = 200  # below common file-system limits (255 bytes) with room for a ".part" suffix

# The OpenAPI description of the body, since it is parsed by hand rather than declared as parameters.
UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["files"],
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "doc_type": {"type": "string", "enum": list(DOC_TYPES), "description": "文档类型，覆盖自动识别"},
                "title": {"type": "string", "description": "标题，覆盖自动识别（一次上传一个文件时才有意义）"},
                "date": {"type": "string", "description": "日期 YYYY-MM-DD，覆盖自动识别"},
                "source": {"type": "string", "description": "发布机关或来源，覆盖自动识别"},
            },
        }}},
    }
}


def safe_name(raw: str) -> str:
    """The basename of an uploaded file name: no directories, no leading dots, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        raise ApiError(400, "bad_filename", f"无效的文件名 '{raw[:80]}'，请改名后重新上传")
    path = PurePath(name)
    while len(name.encode()) > MAX_NAME_BYTES:  # shorten the stem, keep the extension
        path = PurePath(path.stem[:-1] + path.suffix)
        name = path.name
    return name


def _check_extension(name: str) -> None:
    if PurePath(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        supported = " ".join(SUPPORTED_SUFFIXES)
        raise ApiError(415, "unsupported_file_type",
                       f"不支持的文件类型：{name}（支持 {supported}）")


@dataclass
class _Part:
    name: str | None = None  # the safe file name; None for a plain form field
    form_name: str = ""  # the form field's name
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class Upload:
    files: list[tuple[str, bytes]]  # (safe name, bytes)
    fields: dict[str, str]  # the OVERRIDE_FIELDS given, stripped, non-empty


class _UploadParser:
    """python-multipart callbacks that collect file parts and enforce the limits as bytes arrive."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.files: list[tuple[str, bytes]] = []
        self.fields: dict[str, str] = {}
        self._part = _Part()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
                "on_header_field": self._field, "on_header_value": self._value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done}

    def _begin(self) -> None:
        self._part = _Part()
        self._disposition = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._part.form_name = options.get(b"name", b"").decode("utf-8", errors="replace")
        if b"filename" not in options:
            return
        if len(self.files) >= self.settings.max_upload_files:
            raise ApiError(413, "too_many_files", f"一次最多上传 {self.settings.max_upload_files} 个文件，请分批上传")
        name = safe_name(options[b"filename"].decode("utf-8", errors="replace"))
        _check_extension(name)
        self._part.name = name

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.data += data[start:end]
        limit = self.settings.max_upload_bytes if part.name else FIELD_LIMIT
        if len(part.data) > limit:
            what = part.name or f"表单字段 {part.form_name[:40]}"
            raise ApiError(413, "file_too_large", f"文件过大：{what}（上限 {limit} 字节）")

    def _end(self) -> None:
        part = self._part
        if part.name:
            self.files.append((part.name, bytes(part.data)))
        elif part.form_name in OVERRIDE_FIELDS and (value := part.data.decode("utf-8", errors="replace").strip()):
            self.fields[part.form_name] = value


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(415, "expected_multipart",
                       "请以 multipart/form-data 上传，文件放在字段 files 中")
    return options[b"boundary"]


async def read_upload(request: Request) -> Upload:
    """Dependency: the uploaded files and override fields, parsed while streaming; 4xx on any violation."""
    settings: Settings = request.app.state.settings
    collector = _UploadParser(settings)
    parser = MultipartParser(_boundary(request), collector.callbacks())
    budget = settings.max_upload_files * settings.max_upload_bytes + FIELD_LIMIT  # files plus multipart overhead
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > budget:
                raise ApiError(413, "too_large", f"请求体过大（上限 {budget} 字节），请分批上传")
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise ApiError(400, "bad_multipart", "无法解析上传内容：请以 multipart/form-data 重新上传") from None
    if not collector.files:
        raise ApiError(422, "no_files", "请至少上传一个文件（字段 files）")
    return Upload(collector.files, collector.fields)
