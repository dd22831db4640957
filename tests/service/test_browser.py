"""The search page in Debian's headless Chromium, driven by Playwright: what a user sees and clicks.

Screenshots at desktop and phone width go to tests/output/ (gitignored) for a person to look at.
Every request the page makes must stay on the local server: nothing may load from a CDN.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlparse

import httpx
import pytest
from bench.scans import fax_tiff, law_paragraphs
from zhiku_live import (API_KEY, HALLUCINATING_REPLY, REPO, FakeLlm, KBs, Server, run_zhiku,
                        wait_until_answering)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = REPO / "tests" / "output"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
FUND_QUESTION = "企业应当按什么比例向工会拨缴经费"
WAGES_QUESTION = "老板拖欠工资怎么办？"

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (apt-get install chromium)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class Visit:
    """A page of a site (zhiku's or one embedding its widget) at one viewport size that records foreign requests
    and script errors."""

    def __init__(self, browser, site: str, width: int, height: int, name: str, path: str = "/") -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.page = self.context.new_page()
        self.name = name
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(site + path)

    def _request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            self.foreign.append(request.url)

    def shot(self, what: str) -> None:
        self.page.screenshot(path=str(OUTPUT / f"{self.name}-{what}.png"), full_page=False)

    def query(self, text: str) -> None:
        self.page.locator("#q").fill(text)
        self.page.locator("#q").press("Enter")

    def close(self) -> None:
        self.context.close()
        assert self.foreign == [], f"requests left the machine: {self.foreign}"
        assert self.errors == [], f"script errors: {self.errors}"


def test_desktop_search_filter_document_ask_cases(browser, server: Server) -> None:
    visit = Visit(browser, server.url, 1280, 900, "desktop")
    page = visit.page

    page.locator("#q").press_sequentially("工会", delay=50)  # suggestions while typing
    expect(page.locator("#suggestions li").first).to_be_visible()

    visit.query("工会经费 拨缴")
    hits = page.locator("#view-search .hit")
    expect(hits.first).to_be_visible()
    expect(page.locator("#view-search .snippet mark").first).to_be_visible()
    assert "共" in page.locator("#status").inner_text()
    # an article's （一）（二）… stay on lines of their own, as the statute prints them
    assert any("\n（" in text for text in page.locator("#view-search .snippet").all_inner_texts())

    with page.expect_response(lambda r: "/api/search" in r.url and "type=law" in r.url):
        page.locator("#f-type").select_option("law")
    expect(page.locator("#view-search .hit .badge").first).to_have_text("法律法规")
    badges = page.locator("#view-search .hit .badge").all_inner_texts()
    assert badges and set(badges) == {"法律法规"}
    visit.shot("search")

    first_title = hits.first.locator("h3 a").inner_text()
    hits.first.locator("h3 a").click()
    passage = page.locator("#view-doc mark.passage").first
    expect(passage).to_be_visible()
    expect(passage).to_be_in_viewport()
    expect(page.locator("#view-doc h2")).to_have_text(first_title)
    visit.shot("document")

    page.locator(".tabs a[data-tab=ask]").click()
    visit.query(FUND_QUESTION)
    # auto-retrying checks: the view may be rendered again (cleared, then refilled) while it is read
    expect(page.locator("#view-ask .sentences")).to_contain_text("百分之二")
    expect(page.locator("#view-ask .cite").filter(has_text="工会法").filter(has_text="第四十三条").first).to_be_visible()
    visit.shot("ask")

    page.locator("#view-ask .cite").first.click()
    expect(page.locator("#view-doc mark.passage").first).to_be_in_viewport()

    page.locator(".tabs a[data-tab=cases]").click()
    cases = page.locator("#case-list .case")
    expect(cases.first).to_be_visible()
    expect(page.locator("#case-list .facts li").first).to_be_visible()
    visit.shot("cases")
    figure = page.locator("#case-list .figure").first
    figure_text = figure.evaluate("link => link.firstChild.textContent")  # value + unit, not what it counts
    figure.click()
    expect(page.locator("#view-doc mark.passage").first).to_have_text(figure_text)
    expect(page.locator("#view-doc mark.passage").first).to_be_in_viewport()

    page.locator(".tabs a[data-tab=search]").click()
    visit.query(WAGES_QUESTION)  # a question: the status line says what the query adapter added
    expect(page.locator("#status")).to_contain_text("也检索了：")
    visit.close()


def test_the_status_line_names_only_added_words_that_found_something(browser, server: Server) -> None:
    """The query adapter learned its words from STARD's civil-law questions: for a 年金 question it adds 抵押 and
    债权, which read as a fault beside the results. The page names an added word only when a listed passage
    holds it."""
    annuity = "年金个人账户最高额和平均额差距不能超过几倍？"
    added = httpx.get(f"{server.url}/api/search", params={"q": annuity}).json()
    assert {"抵押", "债权"} <= set(added["learned"])  # searched, as the API says …
    visit = Visit(browser, server.url, 1280, 900, "desktop-learned", f"/#/search?q={annuity}")
    status = visit.page.locator("#status")
    expect(status).to_contain_text("用时")
    expect(status).not_to_contain_text("也检索了")  # … but not named: no listed passage holds them

    visit.query(WAGES_QUESTION)
    expect(status).to_contain_text("也检索了：")
    named = status.inner_text().split("也检索了：")[1].split(" · ")[0].split("、")
    listed = httpx.get(f"{server.url}/api/search", params={"q": WAGES_QUESTION, "k": 20}).json()["results"]
    assert all(any(word in hit["title"] + hit["text"] for hit in listed) for word in named), named
    visit.close()


def test_what_is_typed_while_the_page_reads_the_account_is_kept(browser, server: Server) -> None:
    """The page asks /api/me before its first render. A busy server answered after a person (or a test) had
    typed, and the first render emptied the box, so Enter searched for nothing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    held = []
    page.route("**/api/me", lambda route: held.append(route))  # answered only when the test says so
    page.goto(server.url + "/")
    page.locator("#q").fill(FUND_QUESTION)
    while not held:
        page.wait_for_timeout(20)
    held[0].continue_()
    expect(page.locator("#status")).to_contain_text("输入问题或关键词开始检索")  # the first render is done
    expect(page.locator("#q")).to_have_value(FUND_QUESTION)
    page.locator("#q").press("Enter")
    expect(page.locator("#view-search .hit").first).to_be_visible()
    context.close()


def test_a_first_visit_offers_questions_to_click(browser, demo_server: Server) -> None:
    """An empty search or 问答 page shows questions our users ask; one click searches it or answers it."""
    visit = Visit(browser, demo_server.url, 390, 844, "phone-examples")
    page = visit.page
    page.locator("#view-search .examples a", has_text="产改是什么").click()
    expect(page.locator("#q")).to_have_value("产改是什么")
    expect(page.locator("#view-search .hit").first).to_contain_text("产业工人队伍建设改革")
    visit.shot("search")
    page.goto(f"{demo_server.url}/#/ask")
    page.locator("#view-ask .examples a", has_text="企业年金缴费比例是多少").click()
    expect(page.locator("#view-ask .answer")).to_contain_text("8%")
    visit.close()


def test_a_kb_that_answers_none_of_the_examples_offers_none(browser, bare_server: Server) -> None:
    """An empty KB answers nothing: a question offered to click would find nothing, so none is offered."""
    visit = Visit(browser, bare_server.url, 390, 844, "phone-no-examples")
    page = visit.page
    with page.expect_response(lambda response: "/api/examples" in response.url):
        page.goto(f"{bare_server.url}/#/ask")
    expect(page.locator("#status")).to_have_text("输入问题，答案摘自原文并注明出处。")
    expect(page.locator("#view-ask .examples")).to_have_count(0)
    visit.close()


def test_weak_matches_are_offered_apart_when_nothing_passes_the_cut_off(browser, demo_server: Server) -> None:
    """遇到危险能不能停下活先撤: no passage passes the cut-off, yet 安全生产法's 紧急撤离权 is just below it. 问答
    quotes nothing, says so, and offers it apart, labelled; an off-topic question is offered nothing."""
    visit = Visit(browser, demo_server.url, 390, 844, "phone-weak", "/#/ask?q=遇到危险能不能停下活先撤？")
    page = visit.page
    expect(page.locator("#view-ask .notfound")).to_have_text("没有足以回答这个问题的内容")
    expect(page.locator("#view-ask h2.sub")).to_have_text("以下段落相关度较低，仅供参考")
    expect(page.locator("#view-ask .weak .hit").first).to_contain_text("紧急撤离权")
    assert page.locator("#view-ask .sentences").count() == 0
    visit.shot("ask")
    page.goto(f"{demo_server.url}/#/search?q=今天天气怎么样")
    expect(page.locator("#view-search .empty")).to_contain_text("未找到相关内容")
    assert page.locator("#view-search .weak").count() == 0
    visit.close()


def test_an_editor_signs_in_uploads_a_case_and_disables_it(browser, server: Server, kbs: KBs, env: dict[str, str],
                                                           tmp_path: Path, shared: Path) -> None:
    """管理 before signing in → 登录 → back to 管理: upload with a type and a title, each file's outcome, 停用 / 启用, 退出 (phone width)."""
    added = run_zhiku("user", "add", "page-admin", "--role", "admin", "--password-stdin", "--kb", str(kbs.primary),
                      env=env, stdin="page-password-1\n")
    assert added.returncode == 0, added.stderr
    note = tmp_path / "2024年金牌工人.txt"  # a year, not a day: the list shows 2024
    note.write_text("某车辆厂工会开展金牌工人培养。\n\n2024年组织技能培训班12期，培训860人次。", encoding="utf-8")
    broken = tmp_path / "坏文件.pdf"
    broken.write_bytes(b"%PDF-1.7 not really")
    visit = Visit(browser, server.url, 390, 844, "phone-manage", "/#/manage")  # a link to 管理, before signing in
    page = visit.page
    expect(page.locator("#status")).to_have_text("管理文档需要编辑或管理员账号。")
    page.locator("#view-manage a", has_text="登录").click()
    page.locator("input[name=username]").fill("page-admin")
    page.locator("input[name=password]").fill("wrong-password")
    page.locator(".login button").click()
    expect(page.locator(".login .form-error")).to_have_text("用户名或密码错误")
    page.locator("input[name=password]").fill("page-password-1")
    page.locator(".login button").click()
    expect(page.locator("#who")).to_contain_text("page-admin · 管理员")
    expect(page.locator(".upload h2")).to_have_text("上传文件")  # back where the link was followed
    page.locator("input[type=file]").set_input_files([str(note), str(broken)])
    expect(page.locator(".file-chooser")).to_contain_text("2024年金牌工人.txt、坏文件.pdf")
    page.locator("select[name=doc_type]").select_option("case")
    page.locator(".upload button[type=submit]").click()
    expect(page.locator(".outcome-added")).to_contain_text("2024年金牌工人.txt 已新增")
    expect(page.locator(".outcome-failed")).to_contain_text("坏文件.pdf 失败：")
    visit.shot("uploaded")
    page.locator("input[type=file]").set_input_files([str(broken)])  # nothing readable: said, in Chinese
    page.locator(".upload button[type=submit]").click()
    expect(page.locator(".upload-results .form-error")).to_contain_text("没有一个文件能读取：坏文件.pdf")
    scan = tmp_path / "工会法扫描件.tif"  # eight pages to recognise: the wait says which page it is on
    scan.write_bytes(fax_tiff(law_paragraphs(shared / "corpus/laws/社会法/工会法(2021-12-24).md", "第四十条", 16)))
    page.locator("input[type=file]").set_input_files([str(scan)])
    page.locator(".upload button[type=submit]").click()
    # the step and the file: 正在读取 while the file is read, 正在识别 once its pages are (an idle machine may
    # pass the first between two polls)
    expect(page.locator(".upload-results")).to_contain_text(re.compile(r"正在(?:读取|识别) 工会法扫描件\.tif"))
    expect(page.locator(".upload-results")).to_contain_text("页已识别", timeout=60_000)  # once OCR has loaded
    visit.shot("upload-progress")
    expect(page.locator(".outcome-added")).to_contain_text("工会法扫描件.tif 已新增", timeout=60_000)
    page.locator(".doc-filter").fill("金牌工人")  # the KB holds hundreds: the list narrows by title
    page.locator(".doc-filter").press("Enter")
    expect(page.locator("table.docs tbody tr")).to_have_count(1)
    row = page.locator("table.docs tbody tr", has_text="金牌工人")
    expect(row.locator("td").nth(2)).to_have_text("2024")  # its date: not 2024-01-01, a day it never gave
    row.locator("button").click()
    expect(row).to_contain_text("已停用")
    row.locator("button").click()
    expect(row).to_contain_text("检索中")
    page.locator("#who button").click()
    expect(page.locator("#who a")).to_have_text("登录")
    visit.close()
    for name in (note.name, scan.name):  # the other tests' KB as it was
        httpx.delete(f"{server.url}/api/documents/{name}", headers={"Authorization": f"Bearer {API_KEY}"},
                     timeout=60).raise_for_status()


def test_the_api_reference_is_chinese_and_offline(browser, server: Server) -> None:
    visit = Visit(browser, server.url, 1280, 900, "desktop-docs", path="/docs")
    expect(visit.page.locator("#intro li").first).to_contain_text("出错时总是返回")
    expect(visit.page.locator("#operations article").first).to_be_visible()
    assert "`" not in visit.page.locator("#intro").inner_text()
    visit.shot("docs")
    visit.close()


def test_ask_with_an_llm_streams_then_shows_the_checked_answer(browser, llm_server: Server, fake_llm: FakeLlm) -> None:
    fake_llm.script({"text": HALLUCINATING_REPLY})
    visit = Visit(browser, llm_server.url, 1280, 900, "llm")
    page = visit.page
    page.locator(".tabs a[data-tab=ask]").click()
    visit.query(FUND_QUESTION)
    claims = page.locator("#view-ask .claims li")
    expect(claims).to_have_count(3, timeout=30_000)  # the first question of a fresh server loads the models
    expect(page.locator("#view-ask .claims li.unsupported")).to_have_count(2)
    expect(claims.first.locator(".cite")).to_have_text("[1]")
    expect(page.locator("#status")).to_contain_text("大模型")
    visit.shot("ask")

    fake_llm.script({"text": "{p1}[1]。"})
    visit.query("那女职工呢？")  # a follow-up: searched for together with the question before
    expect(page.locator("#view-ask .claims li")).to_have_count(1)
    expect(page.locator("#view-ask .followed")).to_have_text(f"接着上一个问题，按“{FUND_QUESTION} 女职工”查找")
    assert f"问题：{FUND_QUESTION} 女职工" in fake_llm.requests()[-1]["body"]["messages"][-1]["content"]
    claims.first.locator(".cite").click()
    expect(page.locator("#view-doc mark.passage").first).to_be_in_viewport()
    visit.close()


def test_a_long_document_has_contents_to_jump_to(browser, server: Server) -> None:
    """工会法 is seven chapters and some sixty articles: its contents list the chapters, not the articles, and
    one click brings a chapter under the page's header."""
    found = httpx.get(f"{server.url}/api/search", params={"q": "工会法 第四十三条", "k": 1}).json()["results"][0]
    visit = Visit(browser, server.url, 390, 844, "phone", path=f"/#/doc?{urlencode({'id': found['doc_id']})}")
    page = visit.page
    toc = page.locator(".document .toc")
    toc.locator("summary").click()
    entries = [entry.replace(" ", "") for entry in toc.locator("li").all_inner_texts()]  # 第一章 总 则
    assert entries[0] == "第一章总则" and "第六章法律责任" in entries and not any("条" in e for e in entries)
    toc.locator("button", has_text="法律责任").click()
    chapter = page.locator(".doc-heading", has_text="法律责任")
    expect(chapter).to_be_in_viewport()
    top = chapter.evaluate("h => h.getBoundingClientRect().top")
    header = page.locator("header.top").evaluate("h => h.getBoundingClientRect().bottom")
    assert top >= header  # not hidden under the sticky header
    visit.close()


def test_an_answer_is_copied_with_its_sources_and_printed(browser, server: Server) -> None:
    """Staff paste an answer into a report: the question, each sentence with its [n], the sources with links
    into the documents; over plain http on an intranet (no clipboard API) it is copied all the same."""
    visit = Visit(browser, server.url, 1366, 900, "desktop")
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = visit.page
    visit.page.evaluate("location.hash = '#/ask'")
    visit.query(FUND_QUESTION)
    expect(page.locator("#view-ask .sentences")).to_contain_text("百分之二")
    page.get_by_role("button", name="复制答案和出处").click()
    expect(page.get_by_role("button", name="已复制")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"问：{FUND_QUESTION}\n\n") and "百分之二" in copied
    assert "\n\n来源：\n[1] 《" in copied and f"{server.url}/#/doc?id=" in copied
    visit.page.evaluate("location.hash = '#/ask'")
    visit.query("职工代表大会有哪些职权")  # a list: its items, then the place they come from, marked once
    expect(page.locator("#view-ask .sentences li")).to_have_count(6)
    page.get_by_role("button", name="复制答案和出处").click()
    expect(page.get_by_role("button", name="已复制")).to_be_visible()
    listed = page.evaluate("navigator.clipboard.readText()").split("\n\n")[1].split("\n")
    assert len(listed) == 6 and [line.endswith("]") for line in listed] == [False] * 5 + [True]
    visit.query("多久开一次")  # a follow-up is copied as it was searched: alone it says nothing
    expect(page.locator("#view-ask .followed")).to_have_text("接着上一个问题，按“职工代表大会多久开一次”查找")
    page.get_by_role("button", name="复制答案和出处").click()
    expect(page.get_by_role("button", name="已复制")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").startswith("问：职工代表大会多久开一次\n\n")
    page.emulate_media(media="print")  # printed for a file or a class: the question and the answer, no controls
    for control in ("header.top", "#go", ".answer-head button", "footer"):
        expect(page.locator(control)).to_be_hidden()
    expect(page.locator("#q")).to_have_value("多久开一次")
    expect(page.locator("#q")).to_be_visible()
    expect(page.locator("#view-ask .followed")).to_be_visible()  # what 多久开一次 asked
    visit.close()

    plain = Visit(browser, server.url, 390, 844, "phone")  # as if served over http to another machine
    plain.page.evaluate("""() => {
      Object.defineProperty(navigator, "clipboard", { value: undefined });
      document.addEventListener("copy", (event) => { window.copied = event.target.value; });
    }""")
    plain.page.evaluate("location.hash = '#/ask'")
    plain.query(FUND_QUESTION)
    expect(plain.page.locator("#view-ask .sentences")).to_contain_text("百分之二")
    plain.page.get_by_role("button", name="复制答案和出处").click()
    expect(plain.page.get_by_role("button", name="已复制")).to_be_visible()
    assert plain.page.evaluate("window.copied") == copied
    plain.close()


def test_phone_width_has_no_horizontal_scroll(browser, server: Server) -> None:
    visit = Visit(browser, server.url, 360, 740, "phone")
    page = visit.page
    fits = "document.documentElement.scrollWidth <= window.innerWidth"

    visit.query("产改 技能人才")
    expect(page.locator("#view-search .hit").first).to_be_visible()
    assert page.evaluate(fits)
    visit.shot("search")

    page.locator(".tabs a[data-tab=ask]").click()
    visit.query(FUND_QUESTION)
    expect(page.locator("#view-ask .cite").first).to_be_visible()
    assert page.evaluate(fits)
    visit.shot("ask")

    page.locator(".tabs a[data-tab=cases]").click()
    expect(page.locator("#case-list .case").first).to_be_visible()
    assert page.evaluate(fits)
    visit.shot("cases")

    page.locator("#case-list .case h3 a").first.click()
    expect(page.locator("#view-doc .doctext")).to_be_visible()
    assert page.evaluate(fits)
    visit.shot("document")
    visit.close()


def test_escape_closes_the_suggestions_and_keeps_the_query(browser, server: Server) -> None:
    visit = Visit(browser, server.url, 1280, 800, "escape")
    page = visit.page
    page.locator("#q").press_sequentially("劳模创新", delay=50)
    expect(page.locator("#suggestions li").first).to_be_visible()
    page.locator("#q").press("Escape")
    expect(page.locator("#suggestions")).to_be_hidden()
    expect(page.locator("#q")).to_have_value("劳模创新")  # not cleared, as a type="search" box would by default
    page.wait_for_timeout(400)  # suggestions still on their way must not open the list again
    expect(page.locator("#suggestions")).to_be_hidden()
    visit.close()


def test_case_search_at_phone_width(browser, server: Server) -> None:
    visit = Visit(browser, server.url, 390, 844, "phone")
    page = visit.page
    page.locator(".tabs a[data-tab=cases]").click()
    expect(page.locator("#case-list .case").first).to_be_visible()
    everything = page.locator("#case-list .case").count()
    page.locator("#c-q").fill("师带徒")
    page.locator("#c-q").press("Enter")
    expect(page.locator("#status")).to_contain_text("师带徒")
    expect(page.locator("#case-list .case h3").first).to_have_text("华东某装备制造公司以“师带徒”加快青年技能人才成长")
    assert page.locator("#case-list .case").count() < everything
    below = page.evaluate("document.getElementById('status').getBoundingClientRect().top"
                          " - document.querySelector('.case-filters').getBoundingClientRect().bottom")
    assert below >= 0  # the count is read under the search and filters that made it, as on 检索
    with page.expect_response(lambda r: "/api/cases" in r.url and "topic=" in r.url and "q=" in r.url):
        page.locator("#c-topic").select_option("师带徒")  # a filter keeps the keyword
    expect(page.locator("#c-q")).to_have_value("师带徒")
    expect(page.locator("#case-list .case h3").first).to_have_text("华东某装备制造公司以“师带徒”加快青年技能人才成长")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    visit.shot("case-search")
    # ../shared's labour disputes apart from the practices, each with its result instead of key figures
    page.evaluate("location.hash = '#/cases'")
    expect(page.locator("#c-kind")).to_be_visible()
    with page.expect_response(lambda r: "/api/cases" in r.url and "kind=dispute" in r.url):
        page.locator("#c-kind").select_option("dispute")
    expect(page.locator("#case-list .case .outcome").first).to_contain_text("处理结果")
    disputes = page.locator("#case-list .case")
    assert disputes.count() >= 10 and page.locator("#case-list .case .outcome").count() == disputes.count()
    assert page.locator("#case-list .case .facts").count() == 0
    expect(page.locator("#case-list .case .badge").first).to_have_text("劳动争议案例")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    visit.shot("case-disputes")
    page.locator(".tabs a[data-tab=search]").click()  # … and a search hit of one is labelled so too
    visit.query("加班费的仲裁时效")
    dispute = page.locator("#view-search .hit").filter(has=page.locator(".badge", has_text="劳动争议案例")).first
    dispute.locator("h3 a").click()
    expect(page.locator("#view-doc .badge")).to_have_text("劳动争议案例")
    visit.close()


def test_an_answer_that_arrives_after_a_newer_query_is_never_shown(browser, server: Server) -> None:
    """Typing a new question aborts the old request; a response already in hand must be dropped too."""
    visit = Visit(browser, server.url, 1280, 800, "abort")
    outcome = visit.page.evaluate("""async () => {
        const { getJSON } = await import("/static/util.js");
        const realFetch = window.fetch;
        // a response that is already complete when the caller aborts (the fetch itself can no longer fail)
        window.fetch = async () => new Response('{"found": true}', { headers: { "Content-Type": "application/json" } });
        try {
            const controller = new AbortController();
            const pending = getJSON("/api/ask", { q: "旧问题" }, controller.signal);
            controller.abort();
            try { await pending; return "shown"; } catch (error) { return error.name; }
        } finally { window.fetch = realFetch; }
    }""")
    assert outcome == "AbortError"
    visit.close()


# --- the widget on other websites -------------------------------------------------------------------
HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'self'; script-src 'self' {zhiku}; connect-src {zhiku}; style-src 'self'">
<link rel="stylesheet" href="host.css"><title>某省总工会</title></head>
<body><h1>某省总工会 · 政策查询</h1><a id="host-link" href="#">本站链接</a>
<script src="{zhiku}/widget.js" data-kb="zhiku"></script>
</body></html>"""
# A site without the widget: a plain HTML search box that sends its query to zhiku's page.
PLAIN_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>某市总工会</title></head>
<body><form action="{zhiku}/" method="get"><input id="plain-q" name="q"><button>知库检索</button></form></body></html>"""
# A hostile stylesheet: it must not reach into the widget, and the widget's must not reach out.
HOST_CSS = """* { color: rgb(200, 0, 0) !important; font-size: 30px !important; }
input, button, ol { display: none !important; }"""


@pytest.fixture(scope="module")
def host_sites(server: Server, widget_hosts: tuple[str, str], tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The two embedding websites as static file servers on their own ports (other origins than zhiku's)."""
    site = tmp_path_factory.mktemp("host-site")
    (site / "index.html").write_text(HOST_PAGE.replace("{zhiku}", server.url), encoding="utf-8")
    (site / "host.css").write_text(HOST_CSS, encoding="utf-8")
    (site / "plain.html").write_text(PLAIN_PAGE.replace("{zhiku}", server.url), encoding="utf-8")
    processes = [subprocess.Popen([sys.executable, "-m", "http.server", origin.rsplit(":", 1)[1], "--bind",
                                   "127.0.0.1", "--directory", str(site)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for origin in widget_hosts]
    for origin, process in zip(widget_hosts, processes):
        wait_until_answering(origin, process, timeout=20)
    yield widget_hosts
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def widget_visit(browser, origin: str, width: int, name: str):
    visit = Visit(browser, origin, width, 900, name)
    visit.page.on("console", lambda m: visit.errors.append(m.text) if "Content Security Policy" in m.text else None)
    return visit


def test_the_widget_on_an_allowed_site(browser, host_sites: tuple[str, str], server: Server) -> None:
    started = time.perf_counter()
    visit = widget_visit(browser, host_sites[0], 1280, "widget")
    page = visit.page
    box = page.locator(".zhiku-widget input")
    box.focus()  # by keyboard: type, Enter searches, Tab to 问答 and Enter asks
    with page.expect_request(lambda r: "/api/search" in r.url and "kb=zhiku" in r.url):
        page.keyboard.type(FUND_QUESTION)
        page.keyboard.press("Enter")
    results = page.locator(".zhiku-widget ol li")
    expect(results.first).to_be_visible(timeout=30_000)
    first_results_s = time.perf_counter() - started
    expect(page.locator(".zhiku-widget mark").first).to_be_visible()
    inside = results.first.evaluate("li => [getComputedStyle(li).color, getComputedStyle(li).fontSize]")
    assert inside == ["rgb(31, 41, 51)", "15px"], inside  # the host's !important rules did not reach in
    outside = page.locator("#host-link").evaluate("a => [getComputedStyle(a).color, getComputedStyle(a).fontSize]")
    assert outside == ["rgb(200, 0, 0)", "30px"], outside  # and the widget's did not reach out
    visit.shot("host")

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # 问答
    expect(page.locator(".zhiku-widget .answer")).to_contain_text("百分之二")
    cite = page.locator(".zhiku-widget .answer a").first
    expect(cite).to_have_text("[1]")
    assert cite.get_attribute("href").startswith(server.url + "/#/doc?id=")
    visit.shot("host-ask")
    box.fill("那女职工呢？")  # a follow-up, read with the question before it
    with page.expect_request(lambda r: "/api/ask" in r.url and "prev=" in r.url):
        page.locator(".zhiku-widget button[value=ask]").click()
    expect(page.locator(".zhiku-widget .status")).to_contain_text(
        f"接着上一个问题，按“{FUND_QUESTION} 女职工”查找")
    visit.close()
    print(f"\nwidget: first results {first_results_s:.2f} s after the host page was opened (first visit)")


def test_the_widget_fits_a_phone(browser, host_sites: tuple[str, str]) -> None:
    started = time.perf_counter()
    visit = widget_visit(browser, host_sites[0], 360, "widget-phone")
    page = visit.page
    page.locator(".zhiku-widget input").fill("工会经费")
    page.locator(".zhiku-widget input").press("Enter")
    expect(page.locator(".zhiku-widget ol li").first).to_be_visible(timeout=30_000)
    print(f"\nwidget: first results {time.perf_counter() - started:.2f} s after the host page was opened (warm server)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    visit.shot("host")
    visit.close()


def test_a_plain_search_box_on_another_site_opens_the_search(browser, host_sites: tuple[str, str],
                                                              server: Server) -> None:
    """No widget, no script: <form action="…zhiku/"><input name="q"> sends ?q=…, which the page searches. Any
    site may link so (host_sites[1] is not allowed to call the API from its own pages)."""
    visit = Visit(browser, host_sites[1], 390, 844, "phone-plain-form", "/plain.html")
    page = visit.page
    page.locator("#plain-q").fill("工会经费")
    page.locator("#plain-q").press("Enter")
    expect(page.locator("#view-search .hit").first).to_be_visible()
    expect(page.locator("#q")).to_have_value("工会经费")
    assert page.url.startswith(server.url) and "#/search?q=" in page.url and "/?q=" not in page.url
    visit.shot("search")
    visit.close()


def test_the_widget_on_a_site_zhiku_does_not_allow(browser, host_sites: tuple[str, str]) -> None:
    visit = widget_visit(browser, host_sites[1], 1280, "widget-denied")
    page = visit.page
    page.locator(".zhiku-widget input").fill("工会经费")
    page.locator(".zhiku-widget input").press("Enter")
    expect(page.locator(".zhiku-widget .status.error")).to_contain_text("未获知库授权")
    expect(page.locator(".zhiku-widget ol li")).to_have_count(0)
    visit.close()
