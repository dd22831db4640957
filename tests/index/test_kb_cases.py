"""A KB profiled by older case rules (or an older topics.tsv) shows today's profile: the ingest skips the
unchanged file, so the case finder re-profiles what it reads."""
from __future__ import annotations

from index.kb import _current_case_profile
from ingest.cases import profile_rules
from ingest.lexicon import load_lexicon
from ingest.models import Document

TITLE = "某省电力公司以师带徒培养技能人才"
DOC = Document("cases/师带徒.txt", TITLE, f"{TITLE}\n\n来源：某省电力公司工会\n\n公司推行师带徒。", "case",
               "2024-01-01", "某省电力公司工会", "content-hash", "source-hash", "/corpus")


class OneDocument:
    def document(self, doc_id: str) -> Document | None:
        return DOC if doc_id == DOC.doc_id else None


def test_a_profile_made_by_older_rules_is_made_again() -> None:
    rules = profile_rules(load_lexicon())
    old = {"organisations": ["某省电力公司工会", "某省电力公司"], "year": 2024, "topics": ["技能提升"], "facts": []}
    fresh = _current_case_profile(OneDocument(), DOC.doc_id, {"case": old}, rules)
    assert fresh["organisations"] == ["某省电力公司"] and fresh["topics"] == ["师带徒"]
    current = {**old, "rules": rules}
    assert _current_case_profile(OneDocument(), DOC.doc_id, {"case": current}, rules) == current


def test_the_rules_change_with_the_topics() -> None:
    lexicon = load_lexicon()
    fewer = type(lexicon)(**{**lexicon.__dict__, "topics": dict(list(lexicon.topics.items())[:-1])})
    assert profile_rules(fewer) != profile_rules(lexicon) == profile_rules(load_lexicon())
