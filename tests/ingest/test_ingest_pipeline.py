"""Incremental scans: unchanged files are not parsed; edits, deletions and new files are single changes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import ingest.pipeline
from ingest.models import Document, IngestPlan, KnownDoc
from ingest.pipeline import scan
from ingest.readers import ReadContext, SourceFile

SAMPLES = (
    "corpus/laws/社会法/工会法(2021-12-24).md",
    "corpus/laws/案例/劳动人事/加班费的仲裁时效应当如何认定.md",
    "corpus/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt",
)


def apply(plan: IngestPlan, known: dict[str, KnownDoc]) -> dict[str, KnownDoc]:
    """What an index would hold after applying ``plan`` to ``known``."""
    after = dict(known)
    for change in plan.changes:
        if change.kind == "remove":
            del after[change.doc_id]
        else:
            doc = change.document
            assert doc is not None and change.chunks
            after[doc.doc_id] = KnownDoc(doc.doc_id, doc.root, doc.source_hash, doc.content_hash)
    return after


def kinds(plan: IngestPlan) -> list[tuple[str, str]]:
    return sorted((change.kind, change.doc_id) for change in plan.changes)


@pytest.fixture
def folder(shared: Path, tmp_path: Path) -> Path:
    """A small copy of real documents (in tmp, never in the repo), with files a scan must pass over."""
    root = tmp_path / "kb-docs"
    for relative in SAMPLES:
        target = root / Path(relative).parent.name / Path(relative).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared / relative, target)
    records = [
        {"id": "r1", "title": "记录一", "text": "第一条记录。"},
        {"id": "r2", "title": "记录二", "text": "第二条记录。"},
    ]
    (root / "records.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    (root / ".hidden.md").write_text("隐藏文件。", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("版本库。", encoding="utf-8")
    (root / "drawing.dwg").write_bytes(b"AC1032")
    return root


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every file the pipeline parses (wraps the real function; behaviour is unchanged)."""
    calls: list[Path] = []
    real: Callable[..., list[Document]] = ingest.pipeline.parse_source

    def counting(source: SourceFile, root: Path, context: ReadContext | None = None) -> list[Document]:
        calls.append(source.path)
        return real(source, root, context)

    monkeypatch.setattr(ingest.pipeline, "parse_source", counting)
    return calls


def scan_folder(root: Path, known: dict[str, KnownDoc], **kwargs: object) -> IngestPlan:
    return scan([root], known, chunk_size=400, overlap_sentences=1, **kwargs)  # type: ignore[arg-type]


def test_incremental_scans(folder: Path, parse_calls: list[Path]) -> None:
    first = scan_folder(folder, {})
    assert kinds(first) == [
        ("add", "kb-docs/cases/江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"),
        ("add", "kb-docs/records.jsonl#r1"),
        ("add", "kb-docs/records.jsonl#r2"),
        ("add", "kb-docs/劳动人事/加班费的仲裁时效应当如何认定.md"),
        ("add", "kb-docs/社会法/工会法(2021-12-24).md"),
    ]
    assert [(Path(s.path).name, s.reason.split("；")[0]) for s in first.skipped] == [
        ("drawing.dwg", "不支持的文件类型 .dwg")
    ]
    assert all(doc.root == str(folder) for doc in (c.document for c in first.changes) if doc)
    known = apply(first, {})
    parse_calls.clear()

    again = scan_folder(folder, known)
    assert again.changes == [] and sorted(again.unchanged) == sorted(known)
    assert parse_calls == []  # nothing was parsed, cleaned or chunked

    law = folder / "社会法" / "工会法(2021-12-24).md"
    law.write_text(law.read_text(encoding="utf-8").replace("百分之二", "百分之三"), encoding="utf-8")
    edited = scan_folder(folder, known)
    assert kinds(edited) == [("update", "kb-docs/社会法/工会法(2021-12-24).md")]
    assert parse_calls == [law]
    assert any("百分之三" in chunk.text for chunk in edited.changes[0].chunks)
    known = apply(edited, known)

    (folder / "劳动人事" / "加班费的仲裁时效应当如何认定.md").unlink()
    (folder / "新文件.txt").write_text("新增的通知\n\n各单位要加强职工技能培训。", encoding="utf-8")
    changed = scan_folder(folder, known)
    assert kinds(changed) == [
        ("add", "kb-docs/新文件.txt"),
        ("remove", "kb-docs/劳动人事/加班费的仲裁时效应当如何认定.md"),
    ]


def test_same_content_in_new_bytes_is_unchanged(folder: Path, parse_calls: list[Path]) -> None:
    known = apply(scan_folder(folder, {}), {})
    case = folder / "cases" / "江钨控股集团工会全力推进产改走深走实(2023-11-01).txt"
    case.write_bytes(case.read_text(encoding="utf-8").encode("utf-16"))
    parse_calls.clear()
    plan = scan_folder(folder, known)
    assert plan.changes == [] and len(plan.unchanged) == len(known)
    assert parse_calls == [case]  # re-read because the bytes changed, but nothing to re-index


def test_jsonl_record_removed_and_edited(folder: Path) -> None:
    known = apply(scan_folder(folder, {}), {})
    (folder / "records.jsonl").write_text(
        json.dumps({"id": "r1", "title": "记录一", "text": "改过的记录。"}), encoding="utf-8"
    )
    plan = scan_folder(folder, known)
    assert kinds(plan) == [("remove", "kb-docs/records.jsonl#r2"), ("update", "kb-docs/records.jsonl#r1")]


def test_unreadable_file_is_skipped_and_the_rest_ingested(folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    plan = scan_folder(folder, {})
    assert len(plan.changes) == 5
    assert {Path(s.path).name for s in plan.skipped} == {"broken.pdf", "drawing.dwg"}


def test_single_file_root_and_missing_paths(folder: Path, tmp_path: Path) -> None:
    law = folder / "社会法" / "工会法(2021-12-24).md"
    plan = scan([law, tmp_path / "missing"], {}, chunk_size=400, overlap_sentences=1)
    (change,) = plan.changes
    assert change.doc_id == "工会法(2021-12-24).md" and change.document and change.document.root == str(law)
    assert [(s.path, s.reason) for s in plan.skipped] == [(str(tmp_path / "missing"), "no such file or folder")]
    known = apply(plan, {})
    assert scan([tmp_path / "missing"], known, chunk_size=400, overlap_sentences=1).changes == []  # no removals


def test_same_doc_id_from_two_roots_is_reported(folder: Path, tmp_path: Path) -> None:
    twin = tmp_path / "elsewhere" / "kb-docs"
    twin.mkdir(parents=True)
    (twin / "records.jsonl").write_text(json.dumps({"id": "r1", "text": "另一份。"}), encoding="utf-8")
    plan = scan([folder, twin], {}, chunk_size=400, overlap_sentences=1)
    assert [c.doc_id for c in plan.changes].count("kb-docs/records.jsonl#r1") == 1
    assert any("duplicate doc_id 'kb-docs/records.jsonl#r1'" in s.reason for s in plan.skipped)


def test_progress_bar_goes_to_stderr(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan_folder(folder, {}, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "ingest" in captured.err


def test_a_file_that_can_no_longer_be_read_keeps_what_was_indexed(folder: Path) -> None:
    known = apply(scan_folder(folder, {}), {})
    law = folder / "社会法" / "工会法(2021-12-24).md"
    law.write_bytes(bytes(range(256)) * 8)  # a damaged copy saved over the good file
    plan = scan_folder(folder, known)
    assert plan.changes == []
    (skipped,) = [s for s in plan.skipped if s.path == str(law)]
    assert skipped.reason.startswith("二进制文件") and skipped.reason.endswith("（保留已索引的版本）")
    law.unlink()
    assert kinds(scan_folder(folder, known)) == [("remove", "kb-docs/社会法/工会法(2021-12-24).md")]  # gone is gone
