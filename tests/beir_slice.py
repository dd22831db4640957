"""A small real BEIR-style set cut from STARD (read in place from ../shared), for eval and adapter tests."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BeirSet:
    corpus: Path
    queries: Path
    qrels: Path
    n_queries: int

    def args(self) -> list[str]:
        return ["--corpus", str(self.corpus), "--queries", str(self.queries), "--qrels", str(self.qrels)]


def write_stard_slice(shared: Path, dest: Path, articles: int = 300) -> BeirSet:
    """The first ``articles`` STARD articles and the real questions that point into them, as files in ``dest``."""
    stard = shared / "eval" / "stard"
    lines = (stard / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:articles]
    corpus = [json.loads(line) for line in lines]
    ids = {doc["id"] for doc in corpus}
    rows = [line.split("\t") for line in (stard / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    qrels = [r for r in rows if r[1] in ids]
    wanted = {r[0] for r in qrels}
    queries = [q for q in map(json.loads, (stard / "queries.jsonl").read_text(encoding="utf-8").splitlines())
               if q["id"] in wanted]
    beir = BeirSet(dest / "c.jsonl", dest / "q.jsonl", dest / "r.tsv", len(queries))
    beir.corpus.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in corpus), encoding="utf-8")
    beir.queries.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries), encoding="utf-8")
    beir.qrels.write_text("query_id\tcorpus_id\tscore\n" + "\n".join("\t".join(r) for r in qrels),
                          encoding="utf-8")
    return beir
