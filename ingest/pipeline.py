"""Walk the given paths, turn files into documents and chunks, and diff them against the index.

``scan`` is the only place that touches the file system besides ``readers.load_source``; everything it
calls after loading is pure.  An unchanged file is recognised by its ``source_hash`` alone, so re-running
an ingest over an unchanged folder reads bytes but parses, cleans and chunks nothing.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from dataclasses import replace

from tqdm import tqdm

from ingest.chunking import CHUNKING_VERSION, chunk_document
from ingest.clean import clean
from ingest.metadata import (
    METADATA_VERSION,
    MetadataError,
    content_hash,
    describe,
    folders_of,
    make_doc_id,
    parse_sidecar,
    split_front_matter,
    title_from_file_name,
)
from ingest.models import Change, Chunk, Document, IngestPlan, KnownDoc, Skipped
from ingest.readers import (
    MAX_FILE_BYTES,
    SIDECAR_SUFFIX,
    RawRecord,
    ReadContext,
    SourceFile,
    UnreadableFile,
    extract,
    load_source,
)

FRONT_MATTER_SUFFIXES = (".md", ".markdown", ".txt")


def iter_files(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` in sorted order, without dot-files, dot-folders and ``.meta.json`` sidecars."""
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith(SIDECAR_SUFFIX):
                yield Path(directory) / name


RULES = f"@chunking-{CHUNKING_VERSION}@metadata-{METADATA_VERSION}"  # what every hash the index keeps ends with


def stamped(digest: str) -> str:
    """A hash as the index keeps it: with the chunking and metadata rules' versions, so that a KB built under
    older rules sees every file as changed and reads it again on the next ingest instead of keeping stale
    passages or metadata (a passage whose text is the same keeps its vector)."""
    return f"{digest}{RULES}"


def parse_source(source: SourceFile, root: Path, context: ReadContext | None = None) -> list[Document]:
    """Read → clean → metadata for one loaded file; raises ``UnreadableFile`` or ``MetadataError``."""
    sidecar: tuple[str, Mapping[str, object]] = ("附加元数据文件", {})
    if source.sidecar is not None and source.sidecar_path is not None:
        name = source.sidecar_path.name
        sidecar = (f"附加元数据文件 {name}", parse_sidecar(source.sidecar, name))
    return [_document(record, source, root, sidecar) for record in extract(source.data, source.path.suffix, context)]


def _document(record: RawRecord, source: SourceFile, root: Path, sidecar: tuple[str, Mapping[str, object]]) -> Document:
    """One document from one raw record; user-supplied fields win over detection, later sources first."""
    path, record_id = source.path, record.record_id
    raw = record.text
    front_matter: dict[str, str] = {}
    if record_id is None and path.suffix.lower() in FRONT_MATTER_SUFFIXES:
        front_matter, raw = split_front_matter(raw)
    cleaned = clean(raw)
    if not cleaned.text:
        raise UnreadableFile("文件没有文字" if record_id is None else f"记录 {record_id!r} 没有文字")
    record_fields: Mapping[str, object] = {**record.fields, **({"record_id": record_id} if record_id else {})}
    file_title = title_from_file_name(path.name)
    meta = describe(
        cleaned.text,
        file_name=path.name,
        folders=folders_of(path, root),
        fallback_title=file_title if record_id is None else f"{file_title}#{record_id}",
        header_title=cleaned.header_title,
        header=cleaned.header,
        title_hint=record.title_hint,
        overrides=[("文件开头的元数据", front_matter), sidecar, (f"记录 {record_id!r}" if record_id else "文件属性", record_fields)],
    )
    file_id = make_doc_id(path, root)
    return Document(
        doc_id=file_id if record_id is None else f"{file_id}#{record_id}",
        title=meta.title,
        text=cleaned.text,
        doc_type=meta.doc_type,
        date=meta.date,
        source=meta.source,
        content_hash=stamped(content_hash(cleaned.text, meta)),
        source_hash=stamped(source.source_hash),
        root=str(root),
        extra=meta.extra,
        # page offsets hold as long as cleaning left the text as read (paged readers hand in clean text)
        page_starts=record.page_starts if cleaned.text == record.text else (),
    )


def read_document(
    path: Path, root: Path | None = None, *, max_bytes: int = MAX_FILE_BYTES, context: ReadContext | None = None
) -> list[Document] | Skipped:
    """All documents of one file (several for .jsonl), or why it was skipped.

    ``root`` is the folder the user ingested (default: the file itself, as for an upload); it sets the
    ``doc_id`` and ``Document.root``.  Documents are not chunked: call ``chunk_document`` on each.
    """
    path = path.resolve()
    root = path if root is None else root.resolve()
    try:
        return parse_source(load_source(path, max_bytes=max_bytes), root, context)
    except (UnreadableFile, MetadataError) as exc:
        return Skipped(str(path), str(exc))


def with_pages(doc: Document, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks with the page each starts on, for documents whose reader recorded pages."""
    return [replace(chunk, page=doc.page_at(chunk.start)) for chunk in chunks] if doc.page_starts else chunks


def _with_page_progress(context: ReadContext, bar: tqdm, path: Path) -> ReadContext:
    """``context`` reporting the pages a slow reader (OCR) finishes on the CLI's progress bar."""
    def show(done: int, total: int) -> None:
        bar.set_postfix_str(f"{path.name} 第{done}/{total}页", refresh=True)
    return replace(context, on_progress=show)


def _known_by_file(known: Mapping[str, KnownDoc]) -> dict[tuple[str, str], list[KnownDoc]]:
    """Known documents grouped by (root, file doc_id); a .jsonl record ``f#id`` belongs to file ``f``."""
    groups: dict[tuple[str, str], list[KnownDoc]] = defaultdict(list)
    for doc in known.values():
        groups[(doc.root, doc.doc_id)].append(doc)
        for i, char in enumerate(doc.doc_id):
            if char == "#":
                groups[(doc.root, doc.doc_id[:i])].append(doc)
    return groups


def _roots(paths: Sequence[Path], plan: IngestPlan) -> list[Path]:
    """Absolute, de-duplicated roots; missing paths are reported as skipped (and never cause removals)."""
    roots: list[Path] = []
    for given in paths:
        root = Path(given).expanduser().resolve()
        if not root.exists():
            plan.skipped.append(Skipped(str(given), "no such file or folder"))
        elif root not in roots:
            roots.append(root)
    return roots


def scan(
    paths: Sequence[Path],
    known: Mapping[str, KnownDoc],
    *,
    chunk_size: int,
    overlap_sentences: int,
    progress: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    context: ReadContext | None = None,
) -> IngestPlan:
    """Compare the documents under ``paths`` with ``known`` (what the index holds) → an ``IngestPlan``.

    A file whose known documents all carry its current ``source_hash`` is not parsed at all.  Known
    documents under a scanned root whose file or record is gone are removed; a file that can no longer be
    read (a LibreOffice timeout, a damaged copy saved over a good one) keeps what was indexed from it.
    """
    plan = IngestPlan()
    roots = _roots(paths, plan)
    files = [(root, path) for root in roots for path in (iter_files(root) if root.is_dir() else [root])]
    by_file = _known_by_file(known)
    seen: dict[str, str] = {}  # doc_id → root it came from in this scan
    context = context or ReadContext()
    bar = tqdm(files, desc="ingest", unit="file", disable=not progress, file=sys.stderr)
    for root, path in bar:
        previous = by_file.get((str(root), make_doc_id(path, root)), [])
        try:
            source = load_source(path, max_bytes=max_bytes)
            if previous and all(doc.source_hash == stamped(source.source_hash) for doc in previous):
                plan.unchanged.extend(doc.doc_id for doc in previous)
                seen.update((doc.doc_id, doc.root) for doc in previous)
                continue
            documents = parse_source(source, root, _with_page_progress(context, bar, path) if progress else context)
        except (UnreadableFile, MetadataError) as exc:
            kept = "（保留已索引的版本）" if previous else ""
            plan.skipped.append(Skipped(str(path), f"{exc}{kept}"))
            seen.update((doc.doc_id, doc.root) for doc in previous)  # a failed read never deletes what was indexed
            continue
        for doc in documents:
            if doc.doc_id in seen:
                plan.skipped.append(
                    Skipped(str(path), f"duplicate doc_id {doc.doc_id!r}: already read from {seen[doc.doc_id]}")
                )
                continue
            seen[doc.doc_id] = doc.root
            old = known.get(doc.doc_id)
            if old is not None and old.content_hash == doc.content_hash and old.root == doc.root:
                plan.unchanged.append(doc.doc_id)
                continue
            chunks = with_pages(doc, chunk_document(doc, chunk_size=chunk_size, overlap_sentences=overlap_sentences))
            plan.changes.append(Change("add" if old is None else "update", doc.doc_id, doc, tuple(chunks)))
    scanned = {str(root) for root in roots}
    plan.changes.extend(
        Change("remove", doc.doc_id) for doc in known.values() if doc.root in scanned and doc.doc_id not in seen
    )
    return plan
