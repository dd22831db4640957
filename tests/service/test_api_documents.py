"""Documents: list, read, upload and delete, with and without the API key, and every upload limit."""
from __future__ import annotations

import io
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench.scans import fax_tiff, law_paragraphs, render_page
from zhiku_live import API_KEY, MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, Server, assert_error

UPLOAD_TEXT = ("关于在青藏高原某电厂开展“雪域工匠”技能比武的通知\n\n"
               "为落实产业工人队伍建设改革要求，厂工会决定于七月举办雪域工匠技能比武，"
               "设置电气检修、锅炉运行两个项目，优胜者授予“雪域工匠”称号并给予奖励。\n").encode()


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def test_list_documents_pages_and_filters(client: httpx.Client) -> None:
    first = client.get("/api/documents", params={"limit": 5}).json()
    assert first["total"] > 100 and len(first["documents"]) == 5 and first["offset"] == 0
    assert set(first["documents"][0]) == {"doc_id", "title", "doc_type", "date", "source", "chunks", "enabled",
                                          "date_precision"}
    second = client.get("/api/documents", params={"limit": 5, "offset": 5}).json()
    assert {d["doc_id"] for d in first["documents"]}.isdisjoint(d["doc_id"] for d in second["documents"])
    laws = client.get("/api/documents", params={"type": "case", "limit": 200}).json()
    assert laws["documents"] and {d["doc_type"] for d in laws["documents"]} == {"case"}


def test_get_document_has_text_chunks_and_metadata(client: httpx.Client) -> None:
    doc_id = client.get("/api/search", params={"q": "工会法 第四十三条", "k": 1}).json()["results"][0]["doc_id"]
    doc = client.get(f"/api/documents/{doc_id}").json()
    assert doc["doc_id"] == doc_id and doc["title"] and doc["doc_type"] == "law"
    assert doc["chunks"] and all(doc["text"][c["start"]:c["end"]] == c["text"] for c in doc["chunks"])
    assert [c["position"] for c in doc["chunks"]] == list(range(len(doc["chunks"])))


def test_writes_need_the_key(client: httpx.Client) -> None:
    upload = _files(("a.txt", UPLOAD_TEXT))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdDp0ZXN0"}):
        response = client.post("/api/documents", files=upload, headers=headers)
        assert_error(response, 401, "login_required")
        assert response.headers["www-authenticate"] == "Bearer"
        assert_error(client.delete("/api/documents/anything.md", headers=headers), 401, "login_required")


def test_upload_search_then_delete(client: httpx.Client, auth: dict[str, str]) -> None:
    response = client.post("/api/documents", files=_files(("../../etc/雪域工匠.txt", UPLOAD_TEXT),
                                                          ("empty.md", b"")), headers=auth)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == 1 and len(report["doc_ids"]) == 1
    assert report["skipped"] == [{"path": "empty.md", "reason": "空文件（0 字节）"}]
    doc_id = report["doc_ids"][0]
    assert ".." not in doc_id and "etc" not in doc_id and doc_id.endswith("雪域工匠.txt")

    hits = client.get("/api/search", params={"q": "雪域工匠 技能比武"}).json()["results"]
    assert hits[0]["doc_id"] == doc_id
    again = client.post("/api/documents", files=_files(("雪域工匠.txt", UPLOAD_TEXT)), headers=auth).json()
    assert again["added"] == 0 and again["unchanged"] == 1

    assert client.delete(f"/api/documents/{doc_id}", headers=auth).json() == {"doc_id": doc_id, "deleted": True}
    assert_error(client.get(f"/api/documents/{doc_id}"), 404, "document_not_found")
    assert_error(client.delete(f"/api/documents/{doc_id}", headers=auth), 404, "document_not_found")
    hits = client.get("/api/search", params={"q": "雪域工匠 技能比武"}).json()["results"]
    assert doc_id not in {h["doc_id"] for h in hits}


def test_a_date_known_only_by_its_year_says_so(client: httpx.Client, auth: dict[str, str]) -> None:
    """2019年雪域工匠技能比武总结.txt gives a year, not a day: it is filed under 2019-01-01, so that the year
    filter finds it, and every listing says the date is a year's (the page shows 2019)."""
    name = "2019年雪域工匠技能比武总结.txt"
    text = UPLOAD_TEXT.replace("关于在青藏高原某电厂开展“雪域工匠”技能比武的通知".encode(), name.removesuffix(".txt").encode())
    report = client.post("/api/documents", files=_files((name, text)), headers=auth).json()
    (doc_id,) = report["doc_ids"]
    try:
        found = client.get("/api/search", params={"q": "雪域工匠 技能比武", "date_from": "2019-01-01",
                                                  "date_to": "2019-12-31"}).json()["results"]
        assert (found[0]["doc_id"], found[0]["date"], found[0]["date_precision"]) == (doc_id, "2019-01-01", "year")
        detail = client.get(f"/api/documents/{doc_id}").json()
        assert (detail["date"], detail["date_precision"]) == ("2019-01-01", "year")
        listed = client.get("/api/documents", params={"title": "雪域工匠技能比武总结"}).json()["documents"]
        assert [(d["doc_id"], d["date_precision"]) for d in listed] == [(doc_id, "year")]
        # 今年的总结: the KB holds no summary of this year, so its latest, and both answers say which year was read
        named = client.get("/api/ask", params={"q": "今年的总结里雪域工匠技能比武设了哪些项目"}).json()
        assert named["year"] == 2019 and named["passages"][0]["doc_id"] == doc_id
        assert "锅炉运行" in named["answer"]
        chat = client.post("/v1/chat/completions", json={"model": "zhiku", "messages": [
            {"role": "user", "content": "今年的总结里雪域工匠技能比武设了哪些项目"}]}).json()
        assert chat["choices"][0]["message"]["content"].startswith("（只检索了 2019 年的文档）\n\n")
        dated = client.get("/api/search", params={"q": "工会法 第四十三条", "k": 1}).json()["results"][0]
        assert dated["date_precision"] == "day"  # 工会法(2021-12-24).md
    finally:
        client.delete(f"/api/documents/{doc_id}", headers=auth)


@pytest.mark.parametrize(("files", "status", "code"), [
    (_files(("notes.exe", b"MZ...")), 415, "unsupported_file_type"),
    (_files(("noext", b"text")), 415, "unsupported_file_type"),
    (_files(("..", b"text")), 400, "bad_filename"),
    (_files(("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1))), 413, "file_too_large"),
    (_files(*[(f"f{i}.txt", b"text") for i in range(MAX_UPLOAD_FILES + 1)]), 413, "too_many_files"),
], ids=["extension", "no-extension", "dot-dot", "too-large", "too-many"])
def test_upload_limits(client: httpx.Client, auth: dict[str, str], files: list, status: int, code: str) -> None:
    assert_error(client.post("/api/documents", files=files, headers=auth), status, code)


def _multipart(head: bytes, payload: bytes = b"") -> tuple[bytes, dict[str, str]]:
    """A hand-made multipart body with one part (httpx cannot send a multipart body without a file)."""
    body = b"--b0undary\r\n" + head + b"\r\n\r\n" + payload + b"\r\n--b0undary--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=b0undary"}


def test_upload_needs_multipart_with_files(client: httpx.Client, auth: dict[str, str]) -> None:
    assert_error(client.post("/api/documents", json={"files": []}, headers=auth), 415, "expected_multipart")
    body, headers = _multipart(b'Content-Disposition: form-data; name="note"', b"no file here")
    assert_error(client.post("/api/documents", content=body, headers={**auth, **headers}), 422, "no_files")
    assert_error(client.post("/api/documents", content=b"garbage, not multipart",
                             headers={**auth, "Content-Type": "multipart/form-data; boundary=b0undary"}), 400,
                 "bad_multipart")


def test_oversized_upload_is_refused_while_streaming(server: Server) -> None:
    """The server answers 413 after reading just past the limit, while the client is still 'sending'.

    A raw socket declares a 100 MB body, sends only a little more than the limit and then waits: if the
    server buffered the whole body before checking, no answer would ever come.
    """
    host, port = server.url.removeprefix("http://").split(":")
    part = b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n\r\n'
    head = (f"POST /api/documents HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {100_000_000}\r\n"
            f"Connection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head + part + b"x" * (MAX_UPLOAD_BYTES + 4096))
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), response[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "file_too_large"


def test_upload_of_a_photographed_notice_is_ocrd_and_read_back_with_pages(client: httpx.Client, auth: dict[str, str],
                                                                          shared: Path) -> None:
    paragraphs = law_paragraphs(shared / "corpus/laws/社会法/工会法(2021-12-24).md", "第四十三条", 3)
    photo = io.BytesIO()
    render_page(paragraphs, 150, size_mm=(120, 45), margin_mm=8).save(photo, "JPEG", quality=75)  # as phones save
    assert len(photo.getvalue()) <= MAX_UPLOAD_BYTES
    response = client.post("/api/documents", files=_files(("工会经费通知.jpg", photo.getvalue())), headers=auth)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == 1 and report["pages"] == {"工会经费通知.jpg": {"done": 1, "total": 1}}
    doc = client.get(f"/api/documents/{report['doc_ids'][0]}").json()
    assert doc["text"].startswith("第四十三条 工会经费的来源：\n（一）工会会员缴纳的会费；")
    assert [c["page"] for c in doc["chunks"]] == [1]
    assert any(heading.startswith("第四十三条") for heading in doc["chunks"][0]["heading_path"])
    assert client.delete(f"/api/documents/{doc['doc_id']}", headers=auth).status_code == 200


def test_an_upload_in_flight_says_how_far_it_is(client: httpx.Client, auth: dict[str, str], server: Server,
                                               shared: Path) -> None:
    """A scan's pages are recognised one by one, which takes a while: the uploader can follow them page by page
    (X-Upload-Id, then GET /api/uploads/{id}); nobody else learns even that the upload exists."""
    scan = fax_tiff(law_paragraphs(shared / "corpus/laws/社会法/工会法(2021-12-24).md", "第四十三条", 6))  # 3 pages
    upload_id = uuid.uuid4().hex
    assert_error(client.get(f"/api/uploads/{upload_id}", headers=auth), 404, "upload_not_found")
    seen = []
    with ThreadPoolExecutor(1) as pool:
        posted = pool.submit(httpx.post, f"{server.url}/api/documents", files=_files(("工会经费三页.tif", scan)),
                             headers={**auth, "X-Upload-Id": upload_id}, timeout=120)
        while not posted.done():
            status = client.get(f"/api/uploads/{upload_id}", headers=auth)
            if status.status_code == 200 and status.json()["step"]:
                assert status.json()["state"] == "running" and status.json()["report"] is None
                seen.append(status.json()["step"])
                assert_error(client.get(f"/api/uploads/{upload_id}"), 404, "upload_not_found")  # not the uploader
            time.sleep(0.05)
        report = posted.result().json()
    assert report["pages"] == {"工会经费三页.tif": {"done": 3, "total": 3}}
    assert {(s["file"], s["files"], s["name"]) for s in seen} == {(1, 1, "工会经费三页.tif")}
    read = [(s["pages_done"], s["pages_total"]) for s in seen if s["stage"] == "reading"]
    assert {(1, 3), (2, 3)} & set(read)  # seen half-way, page by page
    assert_error(client.get(f"/api/uploads/{upload_id}", headers=auth), 404, "upload_not_found")  # done: gone
    assert_error(client.post("/api/documents", files=_files(("x.txt", b"x")), headers={**auth, "X-Upload-Id": "a b"}),
                 422, "bad_upload_id")
    client.delete(f"/api/documents/{report['doc_ids'][0]}", headers=auth)


def _ended(client: httpx.Client, auth: dict[str, str], location: str) -> tuple[dict, list[dict]]:
    """Follow a respond-async upload until it ends: its last status, and the steps seen on the way."""
    steps = []
    for _ in range(1200):
        status = client.get(location, headers=auth).json()
        if status["state"] != "running":
            return status, steps
        steps += [status["step"]] if status["step"] else []
        time.sleep(0.1)
    raise AssertionError("the upload never ended")


def test_an_upload_answered_at_once_is_followed_to_its_outcome(client: httpx.Client, auth: dict[str, str],
                                                              shared: Path) -> None:
    """Prefer: respond-async: 202 at once, then GET /api/uploads/{id} says how far it is and, at the end, the
    report the request would have answered with, or its error — no request lasts as long as a scan (a proxy
    in front would cut it)."""
    scan = fax_tiff(law_paragraphs(shared / "corpus/laws/社会法/工会法(2021-12-24).md", "第四十三条", 6))  # 3 pages
    accepted = client.post("/api/documents", files=_files(("工会经费异步.tif", scan)),
                           headers={**auth, "Prefer": "respond-async"})
    assert accepted.status_code == 202 and accepted.headers["preference-applied"] == "respond-async"
    body = accepted.json()
    location = accepted.headers["location"]
    assert location == f"/api/uploads/{body['upload_id']}" and body["state"] == "running"
    assert_error(client.get(location), 404, "upload_not_found")  # not the uploader
    status, steps = _ended(client, auth, location)
    assert status["state"] == "done" and status["error"] is None
    report = status["report"]
    assert report["pages"] == {"工会经费异步.tif": {"done": 3, "total": 3}}
    assert [f["status"] for f in report["files"]] == ["added"] and {s["name"] for s in steps} <= {"工会经费异步.tif"}
    assert client.get(f"/api/documents/{report['doc_ids'][0]}", headers=auth).status_code == 200
    assert client.get(location, headers=auth).json() == status  # kept for a while: a page reloaded finds it
    assert_error(client.post("/api/documents", files=_files(("x.txt", "工会".encode())),
                             headers={**auth, "Prefer": "respond-async", "X-Upload-Id": body["upload_id"]}),
                 409, "upload_id_in_use")

    broken = client.post("/api/documents", files=_files(("坏文件.pdf", b"%PDF-1.7 not really")),
                         headers={**auth, "Prefer": "wait=5, respond-async"})
    assert broken.status_code == 202
    failed, _ = _ended(client, auth, broken.headers["location"])
    assert failed["state"] == "failed" and failed["report"] is None
    assert failed["error"]["code"] == "upload_failed" and "坏文件.pdf" in failed["error"]["message"]
    client.delete(f"/api/documents/{report['doc_ids'][0]}", headers=auth)
