// The 问答 view. The answer arrives as server-sent events from /api/ask/stream: with an LLM configured its
// text is shown while it is written, then replaced by the checked answer — each sentence with links to the
// passages it cites, unsupported ones marked. Without an LLM the answer is the sentences quoted from the
// documents, each with its citation. The previous question is sent along, so 那女职工呢？ is understood.
import { apiError, apiUrl, clear, docHref, el, examples, hitCard, place, relatedBlock, searchedYear } from "./util.js";

const view = document.getElementById("view-ask");
let previousQuestion = null;

// A quoted sentence; its citation is shown once for a run of sentences from one place (a list's items).
function sentenceItem(sentence, i, sentences) {
  const same = i + 1 < sentences.length && sentences[i + 1].citation === sentence.citation;
  return el("li", {},
    el("span", { class: "sentence" }, sentence.text),
    same ? null : el("a", { class: "cite", href: docHref(sentence.doc_id, { start: sentence.start, end: sentence.end }) },
      sentence.citation));
}

function claimItem(claim, passages) {
  return el("li", { class: claim.supported ? "claim" : "claim unsupported" },
    el("span", { class: "sentence" }, claim.text),
    claim.citations.map((n) => {
      const passage = passages[n - 1];
      return el("a", { class: "cite", href: docHref(passage.doc_id, passage), title: `${passage.title} ${passage.heading}` },
        `[${n}]`);
    }),
    claim.supported ? null : el("span", { class: "flag" }, "未经资料证实"));
}

// The answer as staff paste it into a report: the question as searched (a follow-up such as 多久开一次 must
// say what it asked), each sentence with its [n], then the sources with links into the documents (as
// /v1/chat/completions and MCP give it).
function citableText(data) {
  const marks = (claim) => claim.citations.map((n) => `[${n}]`).join("");
  // A run of sentences from one place (a list's items) is marked once, after its last, as the page shows it.
  const lines = data.claims.map((claim, i, all) =>
    claim.text + (i + 1 < all.length && marks(all[i + 1]) === marks(claim) ? "" : marks(claim)));
  const cited = [...new Set(data.claims.flatMap((claim) => claim.citations))].sort((a, b) => a - b);
  const sources = cited.map((n) => {
    const passage = data.passages[n - 1];
    const title = passage.title.includes("《") ? passage.title : `《${passage.title}》`;
    const heading = place(passage);
    const link = new URL(docHref(passage.doc_id, passage), location.href).href;
    return `[${n}] ${title}${heading ? ` ${heading}` : ""} ${link}`;
  });
  return `问：${data.query}\n\n${lines.join("\n")}\n\n来源：\n${sources.join("\n")}`;
}

// The clipboard API exists only on https and localhost; an intranet server is often plain http.
async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = el("textarea", { readonly: true, class: "offscreen" }, text);
  document.body.append(area);
  area.focus();
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("浏览器不允许复制，请手动选择答案文字");
}

function copyButton(data) {
  const button = el("button", { type: "button", class: "link" }, "复制答案和出处");
  button.addEventListener("click", async () => {
    try {
      await copy(citableText(data));
      button.textContent = "已复制";
    } catch (error) {
      button.textContent = error.message ?? "复制失败";
    }
    setTimeout(() => { button.textContent = "复制答案和出处"; }, 2000);
  });
  return button;
}

// Each server-sent event as {name, data}, read from the response body as it arrives.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      yield { name: /^event: (.*)$/m.exec(block)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null") };
    }
  }
}

function render(data, setStatus) {
  clear(view);
  // 那女职工呢？, or 多久开一次 after 职工代表大会有哪些职权: what was searched, in the view (and on paper)
  const followed = data.query !== data.question ? [el("p", { class: "followed" }, `接着上一个问题，按“${data.query}”查找`)] : [];
  const searched = searchedYear(data);
  const timed = [searched, `用时 ${Math.round(data.took_ms)} 毫秒`].filter(Boolean).join(" · ");
  if (!data.found) {
    setStatus(searched);
    const message = data.related?.length ? "没有足以回答这个问题的内容" : data.message;
    view.append(...followed, el("p", { class: "empty notfound" }, message), ...relatedBlock(data.related));
    return;
  }
  const passages = el("ol", { class: "hits numbered" }, data.passages.map((passage) => el("li", {}, hitCard(passage))));
  if (!data.generated && !data.sentences.length) { // relevant passages, but no sentence that says it: show them
    setStatus(timed);
    view.append(...followed, el("p", { class: "empty notice" }, data.message), el("h2", { class: "sub" }, "相关段落"), passages);
    return;
  }
  const how = data.generated ? "答案由大模型根据下列段落撰写，每句已与所引段落核对" : "答案摘自原文，点击出处查看上下文";
  setStatus(`${timed} · ${how}`);
  const body = data.generated
    ? el("ol", { class: "claims" }, data.claims.map((claim) => claimItem(claim, data.passages)))
    : el("ol", { class: "sentences" }, data.sentences.map(sentenceItem));
  view.append(
    el("div", { class: "answer" }, el("div", { class: "answer-head" }, el("h2", {}, "答案"), copyButton(data)),
      ...followed, data.notice ? el("p", { class: "notice" }, data.notice) : null, body),
    el("h2", { class: "sub" }, "依据段落"),
    passages);
}

export async function showAsk(params, signal, setStatus) {
  const q = (params.get("q") ?? "").trim();
  clear(view);
  if (!q) {
    setStatus("输入问题，答案摘自原文并注明出处。");
    const chips = await examples("ask", signal);
    if (chips) view.append(chips);
    return;
  }
  setStatus("正在查找答案…");
  const prev = previousQuestion !== q ? previousQuestion : null;
  const response = await fetch(apiUrl("/api/ask/stream", { q, prev }), { headers: { Accept: "text/event-stream" }, signal });
  if (!response.ok) throw apiError(response, await response.json().catch(() => null));
  previousQuestion = q;
  const draft = el("p", { class: "draft", "aria-busy": "true" });
  for await (const { name, data } of events(response)) {
    signal?.throwIfAborted(); // a newer question was asked: nothing more of this answer is shown
    if (name === "delta") {
      if (!draft.isConnected) {
        setStatus("大模型正在撰写答案…");
        view.append(el("div", { class: "answer" }, el("h2", {}, "答案"), draft));
      }
      draft.append(data.text);
    } else if (name === "answer") {
      render(data, setStatus);
    }
  }
}
