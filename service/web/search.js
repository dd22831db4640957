// The 检索 view: results for the query in the URL, with filters (type, year, source) built from facets.
import { DOC_TYPES, clear, el, examples, fillSelect, getJSON, hitCards, relatedBlock, searchedYear } from "./util.js";

const view = document.getElementById("view-search");
const filterBox = document.getElementById("filters");
const selects = {
  type: document.getElementById("f-type"),
  year: document.getElementById("f-year"),
  source: document.getElementById("f-source"),
};
// Facets of the last unfiltered search: choosing one filter must not make the other choices disappear.
let baseFacets = { q: null, facets: null };

function setFilter(name, value) {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  if (value) params.set(name, value);
  else params.delete(name);
  location.hash = `#/search?${params}`;
}

for (const [name, select] of Object.entries(selects)) {
  select.addEventListener("change", () => setFilter(name, select.value));
}
document.getElementById("f-clear").addEventListener("click", () => {
  const q = new URLSearchParams(location.hash.split("?")[1] ?? "").get("q") ?? "";
  location.hash = `#/search?${new URLSearchParams({ q })}`;
});

function sortedEntries(counts, byKey = false) {
  const entries = Object.entries(counts ?? {});
  return byKey ? entries.sort(([a], [b]) => b.localeCompare(a)) : entries.sort(([, a], [, b]) => b - a);
}

function renderFilters(facets, chosen) {
  fillSelect(selects.type, "全部类型",
    sortedEntries(facets.doc_type).map(([t, n]) => [t, `${DOC_TYPES[t] ?? t} (${n})`]), chosen.type);
  fillSelect(selects.year, "全部年份",
    sortedEntries(facets.year, true).map(([y, n]) => [y, `${y} (${n})`]), chosen.year);
  fillSelect(selects.source, "全部来源",
    sortedEntries(facets.source).slice(0, 30).map(([s, n]) => [s, `${s} (${n})`]), chosen.source);
  filterBox.hidden = false;
}

// The query adapter's words that a listed passage holds, each in its longest form. A word it added that found
// nothing explains nothing, and some read as a fault: it learned from STARD's civil-law questions, so 最高额 brings
// 第十七章、抵押权 to a question about 年金. Single characters (定, 三) are in every passage.
function foundLearned(data) {
  const seen = data.results.map((r) => `${r.title}\n${r.text}`).join("\n");
  const found = (data.learned ?? []).filter((word) => word.length > 1 && seen.includes(word));
  return found.filter((word) => !found.some((other) => other !== word && other.includes(word)));
}

function summary(data) {
  const shown = new Set(data.results.map((r) => r.doc_id)).size;
  const found = data.order === "date" // 哪一年首次提出…: every document that says it, earliest first
    ? (data.total ? `共 ${data.total} 篇文档提到，按日期先后排列${data.total > shown ? `，显示最早的 ${shown} 篇` : ""}`
      : "问题点名的文档都没有提到它")
    : data.total > shown ? `共 ${data.total} 篇相关文档，显示最相关的 ${shown} 篇` : `共 ${data.total} 篇相关文档`;
  const parts = [found, `用时 ${Math.round(data.took_ms)} 毫秒`];
  if (data.year) parts.unshift(searchedYear(data));
  const expanded = Object.entries(data.expansions ?? {}).map(([form, others]) => `${form} → ${others.join("、")}`);
  if (expanded.length) parts.push(`已扩展：${expanded.join("；")}`);
  const learned = foundLearned(data);
  if (learned.length) parts.push(`也检索了：${learned.slice(0, 6).join("、")}`);
  return parts.join(" · ");
}

export async function showSearch(params, signal, setStatus) {
  const q = (params.get("q") ?? "").trim();
  clear(view);
  if (!q) {
    filterBox.hidden = true;
    setStatus("输入问题或关键词开始检索。");
    const chips = await examples("search", signal);
    if (chips) view.append(chips);
    return;
  }
  const chosen = { type: params.get("type") ?? "", year: params.get("year") ?? "", source: params.get("source") ?? "" };
  const query = { q, k: 20, type: chosen.type, source: chosen.source };
  if (/^\d{4}$/.test(chosen.year)) Object.assign(query, { date_from: `${chosen.year}-01-01`, date_to: `${chosen.year}-12-31` });
  setStatus("检索中…");
  const data = await getJSON("/api/search", query, signal);
  if (!chosen.type && !chosen.year && !chosen.source) baseFacets = { q, facets: data.facets };
  renderFilters(baseFacets.q === q ? baseFacets.facets : data.facets, chosen);
  setStatus(summary(data));
  if (data.results.length) view.append(el("div", { class: "hits" }, hitCards(data.results)));
  else view.append(el("p", { class: "empty" }, `${data.related?.length ? "没有足够相关的内容" : "未找到相关内容"}。`
    + (data.year ? `问题里写了年份，${searchedYear(data)}；去掉年份可检索全部年份。` // the filters are not the cause
      : "可以换个说法、换几个关键词，或清除筛选条件。")), ...relatedBlock(data.related));
}
