"""Search-box suggestions for what has been typed so far: a prefix, a phrase or a whole question.

A prefix (劳模) is completed with the lexicon terms and document titles that start with it, then those that
contain it. A phrase or question (技术工人待遇怎么提高, 新八级工) rarely occurs whole anywhere, so it is also
answered with the lexicon terms it contains (技术工人待遇) and the titles that contain its key terms
(《关于提高技术工人待遇的意见》要点摘编). Pure functions over the titles and the lexicon: cheap enough to run
on every keystroke, and testable without a knowledge base.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from index.search.text import tokenize as index_tokenize
from ingest.lexicon import Lexicon

MIN_TITLE_COVERAGE = 0.5  # share of the key terms' characters a title must hold to be suggested


def suggestions(text: str, titles: Sequence[str], lexicon: Lexicon, limit: int,
                tokenize: Callable[[str], list[str]] = index_tokenize) -> list[str]:
    """At most ``limit`` suggestions for ``text``, never ``text`` itself: completions first, then related."""
    text = text.strip()
    if not text or limit <= 0:
        return []
    terms = lexicon_terms(lexicon)
    found = dict.fromkeys(completions(text, [*terms, *titles]))
    if len(found) < limit:
        found.update(dict.fromkeys(related(text, terms, titles, lexicon, tokenize)))
    found.pop(text, None)
    return list(found)[:limit]


def lexicon_terms(lexicon: Lexicon) -> list[str]:
    """The domain's own words: user dictionary, every synonym form, and the case topics (技术工人待遇 …)."""
    return list(dict.fromkeys([*lexicon.words, *lexicon.synonyms, *lexicon.topics]))


def completions(prefix: str, pool: Iterable[str]) -> list[str]:
    """Entries that start with ``prefix`` (shortest first), then those that contain it elsewhere."""
    pool = list(dict.fromkeys(pool))
    starts = [t for t in pool if t.startswith(prefix) and t != prefix]
    inside = [t for t in pool if prefix in t and not t.startswith(prefix)]
    return sorted(starts, key=len) + sorted(inside, key=len)


def related(text: str, terms: Sequence[str], titles: Sequence[str], lexicon: Lexicon,
            tokenize: Callable[[str], list[str]]) -> list[str]:
    """Titles holding all the key terms of ``text``, the lexicon terms ``text`` contains, titles holding at
    least ``MIN_TITLE_COVERAGE`` of the key terms (by characters; a synonym counts as its term), and last the
    other names of the contained terms: their synonyms and the case topic they are a cue of (新八级工 →
    技能等级认定).

    The key terms are the longest lexicon terms and words of ``text``: 技术工人待遇怎么提高 → 技术工人待遇,
    提高 (question words are stopwords and never key terms).
    """
    contained = longest([t for t in terms if len(t) >= 2 and t in text])
    keys = longest([*contained, *(w for w in tokenize(text) if len(w) >= 2)])
    if not keys:
        return []
    weight = sum(map(len, keys))
    forms = {key: (key, *lexicon.synonyms.get(key, ())) for key in keys}
    scored = []
    for title in dict.fromkeys(titles):
        covered = sum(len(key) for key in keys if any(form in title for form in forms[key])) / weight
        if covered >= MIN_TITLE_COVERAGE:
            scored.append((covered, title))
    scored.sort(key=lambda pair: (-pair[0], len(pair[1])))
    topics = [topic for topic, cues in lexicon.topics.items() if any(term in cues for term in contained)]
    return ([title for covered, title in scored if covered == 1] + contained
            + [title for covered, title in scored if covered < 1]
            + [form for term in contained for form in lexicon.synonyms.get(term, ())] + topics)


def longest(words: Iterable[str]) -> list[str]:
    """The words not inside a longer one of them, longest first: [技术工人待遇, 技术工人, 提高] → [技术工人待遇, 提高]."""
    unique = sorted(dict.fromkeys(words), key=len, reverse=True)
    return [w for i, w in enumerate(unique) if not any(w in longer for longer in unique[:i])]
