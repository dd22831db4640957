// The 问答 view: answer sentences quoted from the documents, each with its citation, then the passages.
import { clear, docHref, el, getJSON, hitCards } from "./util.js";

const view = document.getElementById("view-ask");

function sentenceItem(sentence) {
  return el("li", {},
    el("span", { class: "sentence" }, sentence.text),
    el("a", { class: "cite", href: docHref(sentence.doc_id, { start: sentence.start, end: sentence.end }) },
      sentence.citation));
}

export async function showAsk(params, signal, setStatus) {
  const q = (params.get("q") ?? "").trim();
  clear(view);
  if (!q) {
    setStatus("输入问题，例如「企业应当按什么比例向工会拨缴经费？」，答案摘自原文并注明出处。");
    return;
  }
  setStatus("正在查找答案…");
  const data = await getJSON("/api/ask", { q }, signal);
  if (!data.found) {
    setStatus("");
    view.append(el("p", { class: "empty notfound" }, data.message));
    return;
  }
  const passages = el("div", { class: "hits" }, hitCards(data.passages));
  if (!data.sentences.length) {
    setStatus(`用时 ${Math.round(data.took_ms)} 毫秒`);
    view.append(el("p", { class: "empty notice" }, data.message), el("h2", { class: "sub" }, "相关段落"), passages);
    return;
  }
  setStatus(`用时 ${Math.round(data.took_ms)} 毫秒 · 答案摘自原文，点击出处查看上下文`);
  view.append(
    el("div", { class: "answer" }, el("h2", {}, "答案"), el("ol", { class: "sentences" }, data.sentences.map(sentenceItem))),
    el("h2", { class: "sub" }, "依据段落"),
    passages);
}
