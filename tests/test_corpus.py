"""The shipped demo corpus: the documents `make run` ingests must be the right mix of kinds and formats,
carry the header lines metadata detection relies on, read through the real ingest path, and be listed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import docx
import pypdf
import pytest
from bs4 import BeautifulSoup

from ingest.cases import case_profile
from ingest.lexicon import load_lexicon
from ingest.pipeline import read_document

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
README = CORPUS / "README.md"
DOCS = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p != README)
POLICIES = [p for p in DOCS if p.parent.name == "policies"]
CASES = [p for p in DOCS if p.parent.name == "cases"]
TEXT_SUFFIXES = {".md", ".txt", ".html"}
CASE_NOTE = "说明：本文为示例案例（综合公开报道改写，企业名称为虚构），用于演示检索与培训。"
POLICY_NOTE = re.compile(r"^说明：本文为政策要点摘编，非官方原文，正式文本以\S+发布为准。$", re.MULTILINE)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def plain_text(path: Path) -> str:
    """The file's text by the format's own library, independent of zhiku's readers."""
    data = path.read_bytes()
    if path.suffix == ".docx":
        return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    if path.suffix == ".pdf":
        return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)
    text = data.decode("utf-8" if is_utf8(data) else "gb18030").replace("\r\n", "\n")
    return BeautifulSoup(text, "html.parser").get_text("\n") if path.suffix == ".html" else text


def header(text: str, key: str) -> str | None:
    match = re.search(rf"^{key}：(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def test_size_and_kinds() -> None:
    assert 20 <= len(DOCS) <= 40
    assert 12 <= len(POLICIES) <= 16 and 10 <= len(CASES) <= 14
    assert len(POLICIES) + len(CASES) == len(DOCS)  # nothing outside the two kind folders


def test_formats() -> None:
    suffixes = [p.suffix for p in DOCS]
    assert suffixes.count(".docx") >= 2 and suffixes.count(".html") >= 2 and suffixes.count(".pdf") == 1
    assert suffixes.count(".md") + suffixes.count(".txt") > len(DOCS) / 2
    assert set(suffixes) == {".md", ".txt", ".docx", ".html", ".pdf"}


def test_exactly_one_gbk_file() -> None:
    not_utf8 = [p for p in DOCS if p.suffix in TEXT_SUFFIXES and not is_utf8(p.read_bytes())]
    assert len(not_utf8) == 1 and not_utf8[0].suffix == ".txt"
    assert "职工代表大会" in not_utf8[0].read_bytes().decode("gb18030")


def test_pdf_has_a_chinese_text_layer() -> None:
    (pdf,) = [p for p in DOCS if p.suffix == ".pdf"]
    text = plain_text(pdf)
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 500
    assert "职业技能提升行动" in text and header(text, "来源") == "国务院办公厅"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_header_lines(path: Path) -> None:
    text = plain_text(path)
    assert header(text, "来源"), "来源 line"
    date.fromisoformat(header(text, "日期") or "")
    if path in POLICIES:
        assert POLICY_NOTE.search(text), "说明 line"
        assert 600 <= len(re.sub(r"\s", "", text)) <= 1500
    else:
        assert CASE_NOTE in text.splitlines()


def test_cases_use_both_names_of_the_reform() -> None:
    """Some cases say only 产改, some only the full name, so finding all of them needs the synonym lexicon."""
    texts = [plain_text(p) for p in CASES]
    short_only = [t for t in texts if "产改" in t and "产业工人队伍建设改革" not in t]
    full_only = [t for t in texts if "产改" not in t and "产业工人队伍建设改革" in t]
    assert len(short_only) >= 2 and len(full_only) >= 2 and len(short_only) + len(full_only) < len(texts)


def test_readme_lists_every_document() -> None:
    readme = README.read_text(encoding="utf-8")
    for path in DOCS:
        assert f"`{path.relative_to(CORPUS).as_posix()}`" in readme, path.name


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_reads_through_the_ingest_path(path: Path) -> None:
    """What `make run` does to each file: one document, typed by its folder, dated and sourced by its header."""
    documents = read_document(path, CORPUS)
    assert isinstance(documents, list) and len(documents) == 1, documents
    (doc,) = documents
    text = plain_text(path)
    assert doc.doc_type == ("policy" if path in POLICIES else "case")
    assert (doc.date, doc.source) == (header(text, "日期"), header(text, "来源"))
    if path in CASES:
        profile = case_profile(doc.text, doc.title, doc.date, load_lexicon())
        assert profile.organisations and profile.topics and len(profile.facts) >= 5


def test_no_sentence_is_copied_from_the_real_case(shared: Path) -> None:
    real = (shared / "corpus" / "cases").glob("*.txt")
    clauses = {c for f in real for c in re.split(r"[，,。；;：:\n]", f.read_text(encoding="utf-8")) if len(c) >= 12}
    corpus = "\n".join(plain_text(p) for p in DOCS)
    assert not [c for c in clauses if c in corpus]
