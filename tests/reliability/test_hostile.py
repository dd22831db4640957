"""Hostile input against a real ``zhiku serve``: odd queries, markup, traversal names, zip bombs, encodings.

Every answer must be a deliberate one — 200 with escaped HTML, or a 4xx in the API's error shape with a
reason — never a 5xx, a hang, a file outside the KB or a blown-up process. Cases the service tests already
cover the same way are left to them: the 501-character query, ``<script>`` in a query's snippet, oversized
and too many uploads (refused while streaming), an empty upload, bad names like ``..``.
"""
from __future__ import annotations

import io
import re
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import docx
import httpx
import pypdf
import pytest
from reliability_live import API_KEY, REPO, Server, start_server, stop_server, top_doc
from zhiku_live import assert_error

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ZIP_BOMB_MB = 256  # what word/document.xml inflates to; the .docx itself is ~250 KB

QUERIES = {  # name -> query; each must get 200 (hits with escaped snippets) or 422 with a reason
    "control-characters": "工会\x00经费\x01\x1b[31m\x7f",
    "invisible-and-bidi": "工\u200b会\u202e经费\ufeff",
    "emoji-and-words": "👷\u200d♀️工会经费💰",
    "mixed-scripts": ("劳动合同 labour договор 労働契約 노동 عقد العمل " * 12)[:500],
    "at-the-length-limit": "工会" * 250,
    "sql": "'; DROP TABLE chunks; -- 工会",
    "sql-like-wildcards": "工会 %' OR 1=1 OR title LIKE '%",
    "regex-metacharacters": "工会.*+?[](){}|\\^$经费",
    "markup-closing-mark": "</mark><script>alert(1)</script><mark>工会",
    "html-attribute": "\"><img src=x onerror=alert(1)>工会经费",
    "escaped-entities": "&lt;script&gt;工会&amp;",
}
NO_WORDS = {  # nothing searchable: must be refused with a reason rather than "find" arbitrary passages
    "only-punctuation": "？？！！……、，。；：",
    "only-symbols": ".*+?[](){}|\\^$",
    "only-control-characters": "\x00\x01\x7f",
    "only-emoji": "👷💰🔥",
    "ideographic-spaces": "\u3000\u3000",
}


def only_marks(html: str) -> bool:
    """Escaped text whose only tags are <mark> and </mark>."""
    return "<" not in html.replace("<mark>", "").replace("</mark>", "")


def html_fields(body: dict) -> list[str]:
    """The HTML-bearing fields of a search or ask response: the hit snippets."""
    hits = body.get("results", []) + body.get("passages", [])
    return [hit["snippet"] for hit in hits]


@pytest.fixture(scope="module")
def server(session_kb: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the API key, on a private copy of the session KB."""
    root = tmp_path_factory.mktemp("hostile")
    kb = Path(shutil.copytree(session_kb, root / "kb"))
    running = start_server(kb, {**env, "ZHIKU_API_KEY": API_KEY}, root / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def kb_dir(server: Server) -> Path:
    return Path(server.process.args[server.process.args.index("--kb") + 1])


def upload(client: httpx.Client, *files: tuple[str, bytes]) -> dict:
    response = client.post("/api/documents", headers=AUTH,
                           files=[("files", (name, data, "application/octet-stream")) for name, data in files])
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_odd_queries_get_escaped_answers(client: httpx.Client, query: str) -> None:
    for path in ("/api/search", "/api/ask"):
        response = client.get(path, params={"q": query})
        assert response.status_code == 200, response.text
        assert all(only_marks(html) for html in html_fields(response.json()))
    assert client.get("/api/suggest", params={"q": query}).status_code == 200


@pytest.mark.parametrize("query", NO_WORDS.values(), ids=NO_WORDS.keys())
def test_queries_without_words_are_refused_with_a_reason(client: httpx.Client, query: str) -> None:
    for path in ("/api/search", "/api/ask"):
        assert_error(client.get(path, params={"q": query}), 422, "empty_query")


def test_invalid_utf8_and_oversized_request_lines(client: httpx.Client, server: Server) -> None:
    """Bytes that are not UTF-8 decode to U+FFFD (no words: 422); a 20,000-character query in a JSON body is
    refused by length; a 1 MB request line is refused by the HTTP parser (400). The server keeps serving."""
    assert_error(client.get("/api/search?q=%FF%FE%ED%A0%80"), 422, "empty_query")
    assert_error(client.post("/api/search", json={"q": "工" * 20_000}), 422, "query_too_long")
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        request_line = b"GET /api/search?q=" + b"%E5%B7%A5" * 120_000 + b" HTTP/1.1\r\n"
        try:
            sock.sendall(request_line + b"Host: x\r\nConnection: close\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the client has finished sending
        status_line = sock.makefile("rb").readline()
    assert re.match(rb"HTTP/1\.1 4\d\d ", status_line), status_line
    assert client.get("/api/health").json()["status"] == "ok"


def test_markup_inside_documents_is_escaped_or_dropped(client: httpx.Client) -> None:
    text_doc = ("关于工会经费拨缴的说明\n\n<script>alert('x')</script> 建会单位按每月全部职工工资总额的百分之二"
                "向工会拨缴经费，<img src=x onerror=alert(2)> 由税务机关代收。\n").encode()
    html_doc = ("<html><head><title>职工书屋建设通知</title><script>alert(3)</script></head><body>"
                "<p onclick=\"alert(4)\">职工书屋建设所需经费由基层工会从工会经费中列支。</p>"
                "<img src=x onerror=alert(5)><style>p{}</style></body></html>").encode()
    report = upload(client, ("markup-说明.txt", text_doc), ("markup-书屋.html", html_doc))
    assert report["added"] == 2, report

    for query in ("百分之二向工会拨缴经费 由税务机关代收", "职工书屋建设所需经费", "script alert onerror 拨缴"):
        for path in ("/api/search", "/api/ask"):
            body = client.get(path, params={"q": query}).json()
            assert all(only_marks(html) for html in html_fields(body)), (path, query)
    hit = client.get("/api/search", params={"q": "百分之二向工会拨缴经费 由税务机关代收", "k": 1}).json()["results"][0]
    assert hit["doc_id"] == "markup-说明.txt" and "&lt;script&gt;" in hit["snippet"]
    page = client.get("/api/documents/markup-书屋.html").json()
    assert "职工书屋" in page["text"] and "alert" not in page["text"] and "<" not in page["text"]


TRAVERSAL_NAMES = {  # uploaded name -> the basename it must be stored under, inside <kb>/uploads
    "../../etc/passwd.txt": "passwd.txt",
    "..\\..\\..\\windows\\system.ini.txt": "system.ini.txt",
    "/tmp/zhiku-absolute-upload.txt": "zhiku-absolute-upload.txt",
    "uploads/../../../escape.md": "escape.md",
    "./.hidden-notes.txt": "hidden-notes.txt",
}


def test_upload_names_cannot_escape_the_kb(client: httpx.Client, server: Server) -> None:
    uploads = kb_dir(server) / "uploads"
    long_name = "长" * 150 + ".txt"  # 454 bytes: longer than file systems allow
    files = [(name, f"上传路径安全测试文件第{i}号：文件名{i}不得写出知识库目录。\n".encode())
             for i, name in enumerate([*TRAVERSAL_NAMES, long_name])]
    escapes = [base / name for name in TRAVERSAL_NAMES for base in (uploads, REPO, Path("/"))]
    assert not any(path.resolve().is_file() and path.resolve().parent != uploads.resolve() for path in escapes)

    report = upload(client, *files)
    stored = set(report["doc_ids"])
    assert set(TRAVERSAL_NAMES.values()) <= stored and report["added"] == len(files), report
    (shortened,) = stored - set(TRAVERSAL_NAMES.values())
    assert shortened.endswith(".txt") and len(shortened.encode()) <= 200 and shortened.startswith("长")
    for name in stored:
        assert (uploads / name).is_file()
    assert not [path for path in escapes if path.resolve().is_file() and path.resolve().parent != uploads.resolve()]


def zip_bomb_docx(unpacked_mb: int) -> bytes:
    """A valid-looking .docx whose word/document.xml inflates to ``unpacked_mb`` MB (streamed, never in memory)."""
    template = io.BytesIO()
    docx.Document().save(template)
    bomb = io.BytesIO()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as package:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                package.writestr(item, source.read(item))
        paragraphs = "<w:p><w:r><w:t>工会经费</w:t></w:r></w:p>".encode() * 20_000
        with package.open("word/document.xml", "w") as member:
            member.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                         b'wordprocessingml/2006/main"><w:body>')
            for _ in range(unpacked_mb * 2**20 // len(paragraphs)):
                member.write(paragraphs)
            member.write(b"</w:body></w:document>")
    return bomb.getvalue()


def blank_pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_zip_bomb_and_scanned_pdf_are_skipped_with_reasons(client: httpx.Client, server: Server) -> None:
    bomb = zip_bomb_docx(ZIP_BOMB_MB)
    assert len(bomb) < 2**20
    response = client.post("/api/documents", files=[("files", ("年度报告.docx", bomb)), ("files", ("扫描件.pdf", blank_pdf()))],
                           headers=AUTH)
    error = assert_error(response, 422, "upload_failed")  # every file failed: a 4xx naming each
    assert re.search(r"年度报告.docx：.docx 解压后 \d+ MB.*疑为压缩炸弹", error["message"]), error
    assert "扫描件.pdf：PDF 没有文字层，OCR 也未识别出文字" in error["message"]
    assert not (kb_dir(server) / "uploads" / "年度报告.docx").exists()  # refused files are not kept
    assert client.get("/api/health").json()["status"] == "ok"


SIMPLIFIED = "关于开展职工焊工技能竞赛的通知\n\n各基层工会：为弘扬劳模精神和工匠精神，市总工会决定举办第十届焊工技能竞赛，获奖选手授予“金焊枪”称号。\n"
TRADITIONAL = "關於舉辦職工鉗工技能競賽的通知\n\n各基層工會：為弘揚勞模精神和工匠精神，市總工會決定舉辦第十屆鉗工技能競賽，獲獎選手授予「金扳手」稱號。\n"


@pytest.mark.parametrize(("name", "data", "query", "phrase"), [
    ("gbk-焊工竞赛.txt", SIMPLIFIED.encode("gbk"), "金焊枪 焊工技能竞赛", "授予“金焊枪”称号"),
    ("big5-鉗工競賽.txt", TRADITIONAL.encode("big5"), "金扳手 鉗工技能競賽", "授予「金扳手」稱號"),
], ids=["gbk", "big5"])
def test_gbk_and_big5_text_files_decode_correctly(client: httpx.Client, name: str, data: bytes, query: str,
                                                  phrase: str) -> None:
    report = upload(client, (name, data))
    assert report["added"] == 1 and report["doc_ids"] == [name], report
    assert phrase in client.get(f"/api/documents/{name}").json()["text"]
    assert top_doc(client.get("/api/search", params={"q": query}).json()) == name
