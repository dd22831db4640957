// The document view: the whole text with the chosen passage marked and scrolled into view.
// The text is the clean text every offset points into; it keeps Markdown "#" heading lines, which are
// shown as headings (markers hidden) while the offsets still address the original characters.
import { clear, el, getJSON, metaLine } from "./util.js";

const view = document.getElementById("view-doc");
const HEADING = /^(#{1,6})\s+/;
const ARTICLE = /^第[零〇一二两三四五六七八九十百千\d]+条/; // a law's articles are too many for its contents

// The passage to mark: offsets into the document text (a hit, an answer sentence, a case figure).
function passageRange(text, params) {
  if (!params.has("start") || !params.has("end")) return null;
  const start = Number(params.get("start"));
  const end = Number(params.get("end"));
  const valid = Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= text.length;
  return valid ? [start, end] : null;
}

// text[from:to] as nodes, with the part inside `range` wrapped in <mark class="passage">.
function pieces(text, from, to, range) {
  if (!range || range[1] <= from || range[0] >= to) return [text.slice(from, to)];
  const lo = Math.max(from, range[0]);
  const hi = Math.min(to, range[1]);
  return [text.slice(from, lo), el("mark", { class: "passage" }, text.slice(lo, hi)), text.slice(hi, to)];
}

// One block per non-empty line: "#" lines become headings, the rest paragraphs.
function renderText(text, range) {
  const root = el("div", { class: "doctext" });
  let start = 0;
  for (const line of text.split("\n")) {
    const end = start + line.length;
    if (line.trim()) {
      const heading = HEADING.exec(line);
      const level = heading ? `h${Math.min(heading[1].length + 2, 6)}` : "p";
      const block = el(level, { class: heading ? "doc-heading" : null, "data-start": start });
      block.append(...pieces(text, start + (heading ? heading[0].length : 0), end, range));
      root.append(block);
    }
    start = end + 1;
  }
  return root;
}

// A long document's parts to jump to — a law's chapters and sections, a report's parts, a case's themes —
// from the headings its passages were read under (two levels below the title); shown from three parts on.
function contents(doc, body) {
  const entries = new Map();
  for (const chunk of doc.chunks) {
    const path = chunk.heading_path.slice(1, 3);
    path.forEach((heading, depth) => {
      const key = path.slice(0, depth + 1).join("\n");
      if (!entries.has(key) && !ARTICLE.test(heading)) entries.set(key, { heading, depth, start: chunk.start });
    });
  }
  if (entries.size < 3) return null;
  const blocks = [...body.children];
  const jump = (start) => {
    const block = blocks.findLast((b) => Number(b.dataset.start) <= start) ?? blocks[0];
    block.scrollIntoView({ block: "start" });
  };
  return el("details", { class: "toc" }, el("summary", {}, `目录（${entries.size}）`),
    el("ol", {}, [...entries.values()].map(({ heading, depth, start }) => el("li", { class: depth ? "sub" : null },
      el("button", { type: "button", class: "link", onclick: () => jump(start) }, heading)))));
}

function back() {
  if (history.length > 1) history.back();
  else location.hash = "#/search";
}

export async function showDocument(params, signal, setStatus) {
  clear(view);
  setStatus("正在打开文档…");
  const doc = await getJSON(`/api/documents/${encodeURIComponent(params.get("id") ?? "")}`,
                           params.has("kb") ? { kb: params.get("kb") } : {}, signal);
  const body = renderText(doc.text, passageRange(doc.text, params));
  setStatus("");
  view.append(
    el("button", { type: "button", class: "link back", onclick: back }, "← 返回"),
    el("article", { class: "document" }, el("h2", {}, doc.title), metaLine(doc), contents(doc, body), body));
  const mark = body.querySelector("mark.passage");
  if (mark) requestAnimationFrame(() => mark.scrollIntoView({ block: "center" }));
}
