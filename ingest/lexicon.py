"""The domain lexicon: user dictionary, synonym groups, everyday-to-statute words, case topics and stopwords.

It lives in ``ingest`` (the bottom floor) because both floors need it: ingest tags case reports with topics,
and index uses it for jieba segmentation, BM25 stopwords, query expansion and highlighting. The lexicon is
data (``ingest/lexicon/*``) so a domain expert can extend it without touching code.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"


@dataclass(frozen=True)
class Lexicon:
    """Everything the domain lexicon says, in lookup-ready form.

    ``synonyms`` maps every form of a group to all the *other* forms of that group, so one lookup answers
    "what else could the user have meant" in both directions (abbreviation -> full form and back).
    ``canonical`` maps every other form to the group's first, its full name (产改 -> 产业工人队伍建设改革): the
    form an embedding model has seen, where the abbreviation is the domain's own.
    ``colloquial`` goes one way: the everyday word people ask with (周末, 开除) -> the terms the statutes use for
    it (休息日, 解除劳动合同), which a passage must hold to answer; the statutes' words never widen to slang.
    """

    userdict: Path
    words: dict[str, tuple[int, str]]  # user-dictionary word -> (frequency, part-of-speech tag)
    synonyms: dict[str, tuple[str, ...]]
    canonical: dict[str, str]  # abbreviation or other form -> the full name that heads its synonym group
    colloquial: dict[str, tuple[str, ...]]  # everyday word -> the statutes' terms for it
    topics: dict[str, tuple[str, ...]]  # topic -> cue words
    stopwords: frozenset[str]


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The packaged lexicon, read once per process."""
    return read_lexicon(LEXICON_DIR)


def read_lexicon(directory: Path) -> Lexicon:
    """Read a lexicon folder (``userdict.txt``, ``synonyms.tsv``, ``colloquial.tsv``, ``topics.tsv``,
    ``stopwords.txt``)."""
    userdict = directory / "userdict.txt"
    groups = _read_table(directory / "synonyms.tsv", min_fields=2)
    return Lexicon(
        userdict=userdict,
        words=_read_userdict(userdict),
        synonyms=_synonym_lookup(groups),
        canonical={form: group[0] for group in groups for form in group[1:]},
        colloquial=_colloquial_lookup(_read_table(directory / "colloquial.tsv", min_fields=2)),
        topics={row[0]: tuple(row[1:]) for row in _read_table(directory / "topics.tsv", min_fields=2)},
        stopwords=frozenset(_lines(directory / "stopwords.txt")),
    )


def _lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines, stripped (``#`` starts a comment line)."""
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _read_userdict(path: Path) -> dict[str, tuple[int, str]]:
    """jieba's ``word [freq] [tag]`` format; a missing frequency gets jieba's own default of 1."""
    words: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(_lines(path), 1):
        parts = line.split()
        if len(parts) > 3 or (len(parts) > 1 and not parts[1].isdigit()):
            raise ValueError(f"{path.name}: malformed entry {number}: {line!r}")
        words[parts[0]] = (int(parts[1]) if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else "")
    return words


def _read_table(path: Path, min_fields: int) -> list[tuple[str, ...]]:
    """Tab-separated rows after the header line, blank fields dropped."""
    rows = []
    for number, line in enumerate(_lines(path)[1:], 2):
        fields = tuple(field.strip() for field in line.split("\t") if field.strip())
        if len(fields) < min_fields:
            raise ValueError(f"{path.name}: row {number} needs at least {min_fields} fields: {line!r}")
        rows.append(fields)
    return rows


def _synonym_lookup(groups: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """form -> the other forms of its group; a form in two groups would make expansion ambiguous."""
    lookup: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for form in group:
            if form in lookup:
                raise ValueError(f"synonyms.tsv: {form!r} appears in more than one group")
            lookup[form] = tuple(other for other in group if other != form)
    return lookup


def _colloquial_lookup(rows: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """everyday word -> its statute terms; a word listed twice would make the expansion depend on row order."""
    lookup: dict[str, tuple[str, ...]] = {}
    for word, *terms in rows:
        if word in lookup:
            raise ValueError(f"colloquial.tsv: {word!r} appears in more than one row")
        lookup[word] = tuple(terms)
    return lookup
