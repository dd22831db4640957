// 知库 search box for any website:
//   <script src="http://HOST:PORT/widget.js" data-kb="zhiku" async></script>
// renders a search box with results and 问答 where the tag stands (or inside the element named by
// data-target="#id"), inside a Shadow DOM: the host page's CSS cannot reach in, ours cannot leak out.
// It calls only zhiku's public read API (search, ask) at the origin it was loaded from; that origin must
// list the host site in ZHIKU_CORS_ORIGINS. No inline script or style: works under a strict CSP that allows
// this origin in script-src and connect-src (the styles are a constructed stylesheet, not a <style>).
// The fonts and colours are set on the box inside, so what the host page sets on the host element (even
// with !important, which outer rules win) is not inherited.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const base = new URL(script.src).origin;
  const kb = script.dataset.kb || "";
  const CSS = `
:host { all: initial; display: block; max-width: 720px; }
* { box-sizing: border-box; }
.box { font: 15px/1.6 system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: #1f2933;
  text-align: left; border: 1px solid #d5dae0; border-radius: 8px; padding: 12px; background: #fff; }
form { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; }
input { flex: 1 1 12em; min-width: 0; font: inherit; padding: 8px 10px; border: 1px solid #9aa5b1; border-radius: 6px; color: inherit; background: #fff; }
button { font: inherit; padding: 8px 14px; border: 0; border-radius: 6px; background: #1d4e89; color: #fff; cursor: pointer; }
button.alt { background: #e8eff8; color: #1d4e89; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid #f0b429; outline-offset: 2px; }
.status { color: #61707f; font-size: 13px; margin: 8px 0 0; min-height: 1em; }
.status.error { color: #a4262c; }
ol { margin: 8px 0 0; padding-left: 1.5em; }
li { margin: 8px 0; overflow-wrap: anywhere; }
a { color: #1d4e89; }
.meta { color: #61707f; font-size: 13px; }
mark { background: #fff0a6; color: inherit; }
.answer { margin-top: 10px; padding: 10px; background: #f6f7f5; border-radius: 6px; }
.cite { font-size: 13px; margin-left: 2px; text-decoration: none; }
.flag { color: #a4262c; font-size: 12px; margin-left: 4px; }
.notice { color: #a4262c; font-size: 13px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 12px 0 0; color: #61707f; }
`;

  const host = document.createElement("div");
  host.className = "zhiku-widget";
  const target = script.dataset.target ? document.querySelector(script.dataset.target) : null;
  if (target) target.append(host); else script.after(host);
  const root = host.attachShadow({ mode: "open" });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    node.append(...children.flat().filter((c) => c !== null && c !== undefined));
    return node;
  }

  // The server's snippet is HTML-escaped text with <mark>; it is rebuilt as text nodes, never as HTML.
  function snippet(html) {
    const decode = (s) => s.replace(/&(lt|gt|quot|#x27|#39|amp);/g,
      (_, e) => ({ lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'", amp: "&" })[e]);
    return html.split(/<\/?mark>/).map((part, i) => (i % 2 ? el("mark", {}, decode(part)) : decode(part)));
  }

  const docLink = (hit, text) => el("a", {
    href: `${base}/#/doc?${new URLSearchParams({ id: hit.doc_id, start: hit.start, end: hit.end })}`,
    target: "_blank", rel: "noopener", title: `${hit.title} ${hit.heading}`,
  }, text);

  const input = el("input", { type: "search", name: "q", maxlength: "500", "aria-label": "输入问题或关键词",
    placeholder: "输入问题或关键词，如：工会经费按什么比例拨缴？", enterkeyhint: "search" });
  const searchButton = el("button", { type: "submit", value: "search" }, "检索");
  const askButton = el("button", { type: "submit", value: "ask", class: "alt" }, "问答");
  const form = el("form", { role: "search" }, input, searchButton, askButton);
  const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
  const output = el("div", { "aria-live": "polite" });
  root.append(el("div", { class: "box" }, form, status, output));
  let controller = null;
  let previous = null; // the last question asked with 问答, sent along so a follow-up is understood

  async function call(path, params, signal) {
    const url = new URL(path, base);
    url.search = new URLSearchParams({ ...params, ...(kb ? { kb } : {}) });
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new Error("无法连接知库服务（网络中断，或本网站未获知库授权）");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.error?.message ?? `请求失败（HTTP ${response.status}）`);
    return body;
  }

  const sources = (hits) => el("ol", {}, hits.map((hit) => el("li", {},
    docLink(hit, hit.title), el("div", { class: "meta" }, hit.heading))));
  // The weak matches offered when no passage reached the relevance cut-off, labelled so nobody takes them for results.
  const related = (hits) => (hits?.length ? [el("h3", {}, "以下段落相关度较低，仅供参考"), sources(hits)] : []);

  // 2018年政府工作报告…, 今年的…: only the year the question names was searched, which the reader should know.
  const year = (data) => (data.year ? `（只检索了 ${data.year} 年的文档）` : "");

  function showResults(data) {
    status.textContent = (data.total ? `共 ${data.total} 条结果` : "未找到相关内容") + year(data);
    output.replaceChildren(el("ol", {}, data.results.map((hit) => el("li", {},
      docLink(hit, hit.title), el("div", { class: "meta" }, hit.heading), el("div", {}, snippet(hit.snippet))))),
    ...related(data.related));
  }

  // 那女职工呢？, 多久开一次: a follow-up is read with the question before it, and says how it was read.
  const followed = (data) => (data.query !== data.question ? `（接着上一个问题，按“${data.query}”查找）` : "");

  function showAnswer(data) {
    if (!data.found) {
      status.textContent = data.message + followed(data) + year(data);
      output.replaceChildren(...related(data.related));
      return;
    }
    status.textContent = (data.generated ? "答案由大模型根据下列段落撰写，每句已核对出处" : "答案摘自原文")
      + followed(data) + year(data);
    const claims = data.claims.map((claim) => el("li", {}, claim.text,
      claim.citations.map((n) => docLink(data.passages[n - 1], `[${n}]`)),
      claim.supported ? null : el("span", { class: "flag" }, "未经资料证实")));
    output.replaceChildren(
      el("div", { class: "answer" }, data.notice ? el("p", { class: "notice" }, data.notice) : null, el("ol", {}, claims)),
      el("h3", {}, "依据"),
      sources(data.passages));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    const ask = event.submitter?.value === "ask";
    controller?.abort();
    controller = new AbortController();
    status.classList.remove("error");
    status.textContent = ask ? "正在查找答案…" : "检索中…";
    try {
      const prev = ask && previous !== q ? previous : null;
      const data = await call(ask ? "/api/ask" : "/api/search", { q, ...(prev ? { prev } : {}) }, controller.signal);
      if (ask) previous = q;
      (ask ? showAnswer : showResults)(data);
    } catch (error) {
      if (error.name === "AbortError") return;
      status.classList.add("error");
      status.textContent = error.message;
      output.replaceChildren();
    }
  });
})();
