// The 案例 view: case reports searched by keyword (q) and filtered by kind, topic, organisation and year, each
// with its key figures (an enterprise's practice) or its result (a labour dispute). Every choice lives in the
// hash (#/cases?q=…&topic=…), so it survives reloads and links.
import { clear, docHref, el, fillSelect, getJSON, metaLine } from "./util.js";

const list = document.getElementById("case-list");
const KINDS = { practice: "经验做法", dispute: "劳动争议" };
const kindLabel = document.getElementById("c-kind-label");
const selects = {
  kind: document.getElementById("c-kind"),
  topic: document.getElementById("c-topic"),
  org: document.getElementById("c-org"),
  year: document.getElementById("c-year"),
};
const searchForm = document.getElementById("c-search");
const searchInput = document.getElementById("c-q");
let allCases = null; // the unfiltered list, fetched once, gives the filter choices

function setParam(name, value) {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  if (value) params.set(name, value);
  else params.delete(name);
  location.hash = `#/cases?${params}`;
}

for (const [name, select] of Object.entries(selects)) {
  select.addEventListener("change", () => setParam(name, select.value));
}
searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setParam("q", searchInput.value.trim());
});
// The box's own clear button (×) empties it: list every case again without another click.
searchInput.addEventListener("search", () => {
  if (!searchInput.value) setParam("q", "");
});

function choices(values, name = (v) => v) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([, a], [, b]) => b - a).map(([v, n]) => [String(v), `${name(v)} (${n})`]);
}

// Figures grouped by the sentence they come from: the sentence is shown once, each figure links into the
// document at its own position.
function factGroups(c) {
  const bySentence = new Map();
  for (const fact of c.facts) {
    if (!bySentence.has(fact.sentence)) bySentence.set(fact.sentence, []);
    bySentence.get(fact.sentence).push(fact);
  }
  return [...bySentence].map(([sentence, facts]) => el("li", {},
    el("div", { class: "figures" }, facts.map((fact) =>
      el("a", { class: "figure", href: docHref(c.doc_id, { start: fact.start, end: fact.end }) },
        `${fact.value}${fact.unit}`, fact.counts ? el("span", { class: "counts" }, fact.counts) : null))),
    el("div", { class: "fact-sentence" }, sentence)));
}

// A dispute's result, linked to its place in the report.
function outcome(c) {
  return el("div", { class: "outcome" }, el("h4", {}, "处理结果"),
    el("a", { href: docHref(c.doc_id, { start: c.outcome.start, end: c.outcome.end }) }, c.outcome.text));
}

function caseCard(c) {
  return el("article", { class: "case" },
    el("h3", {}, el("a", { href: docHref(c.doc_id) }, c.title)),
    metaLine({ ...c, doc_type: "case" }, c.kind),
    c.organisations.length ? el("div", { class: "orgs" }, `单位：${c.organisations.join("、")}`) : null,
    c.topics.length
      ? el("div", { class: "chips" }, c.topics.map((t) => el("a", { class: "chip", href: `#/cases?${new URLSearchParams({ topic: t })}` }, t)))
      : null,
    c.outcome ? outcome(c) : null,
    c.facts.length ? el("div", { class: "facts" }, el("h4", {}, "关键数据"), el("ul", {}, factGroups(c))) : null);
}

export async function showCases(params, signal, setStatus) {
  setStatus("正在加载案例…");
  allCases ??= (await getJSON("/api/cases", {}, signal)).cases;
  const chosen = { kind: params.get("kind") ?? "", topic: params.get("topic") ?? "", org: params.get("org") ?? "",
    year: params.get("year") ?? "" };
  const q = params.get("q") ?? "";
  searchInput.value = q;
  const kinds = choices(allCases.map((c) => c.kind), (k) => KINDS[k] ?? k);
  kindLabel.hidden = kinds.length < 2 && !chosen.kind; // a KB of one kind needs no choice
  fillSelect(selects.kind, "全部类别", kinds, chosen.kind);
  fillSelect(selects.topic, "全部主题", choices(allCases.flatMap((c) => c.topics)), chosen.topic);
  fillSelect(selects.org, "全部单位", choices(allCases.flatMap((c) => c.organisations)), chosen.org);
  fillSelect(selects.year, "全部年份", choices(allCases.map((c) => c.year).filter(Boolean)), chosen.year);
  const data = await getJSON("/api/cases", { ...chosen, q }, signal);
  setStatus(q ? `与“${q}”相关的案例 ${data.total} 个，最相关的在前` : `共 ${data.total} 个案例`);
  clear(list).append(data.cases.length
    ? el("div", { class: "cases" }, data.cases.map(caseCard))
    : el("p", { class: "empty" }, q ? `没有找到与“${q}”相关的案例，请换个关键词或放宽筛选条件。` : "没有符合条件的案例。"));
}
