// Small helpers shared by the views: building DOM safely, calling the API, labels.
// Everything the page shows goes through textContent (el() appends strings as text nodes); the only
// HTML ever inserted is the API's snippet, which the server has already escaped (see markup()).

export const DOC_TYPES = { law: "法律法规", policy: "政策文件", case: "案例", report: "报告", other: "其他" };

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// The one place HTML from the server is rendered: snippets the API escaped and marked with <mark>.
export function markup(tag, attrs, escapedHtml) {
  const node = el(tag, attrs);
  node.innerHTML = escapedHtml;
  return node;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Who is signed in (set by account.js from /api/me) and the KB every call is about ("" = the default KB).
export const session = { user: null, role: null, csrf: null, kb: localStorage.getItem("zhiku.kb") ?? "", kbs: [] };

export function apiUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  if (session.kb && !("kb" in params)) url.searchParams.set("kb", session.kb);
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.append(key, v);
    }
  }
  return url;
}

// The API's error shape as an ApiError; `body` is the parsed JSON body, or null when there was none.
export function apiError(response, body) {
  return new ApiError(response.status, body?.error?.code ?? "http_error",
                      body?.error?.message ?? `请求失败 (HTTP ${response.status})`);
}

export async function getJSON(path, params = {}, signal = undefined) {
  const response = await fetch(apiUrl(path, params), { headers: { Accept: "application/json" }, signal });
  const body = await response.json().catch(() => null);
  // A newer query aborted this one: its answer (read in full, or cut off while being read) must not be shown.
  signal?.throwIfAborted();
  if (!response.ok) throw apiError(response, body);
  return body;
}

// A write (or login) with the session's CSRF token; `body` is a FormData (upload) or an object sent as JSON.
export async function send(method, path, body = undefined, params = {}, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (session.csrf) headers["X-CSRF-Token"] = session.csrf;
  const isForm = body instanceof FormData;
  if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
  const response = await fetch(apiUrl(path, params), {
    method, headers, body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw apiError(response, data);
  return data;
}

// Link into the document view; start/end select the passage to mark.
export function docHref(docId, { start, end } = {}) {
  const params = new URLSearchParams({ id: docId });
  if (session.kb) params.set("kb", session.kb); // a shared link opens the document in its own KB
  if (start !== undefined && end !== undefined) {
    params.set("start", start);
    params.set("end", end);
  }
  return `#/doc?${params}`;
}

// A date as far as its source gives it: a report known only by the year in its name (2018年政府工作报告) is
// filed under 2018-01-01 for the date filters, and shown as 2018.
const DATE_LENGTH = { year: 4, month: 7 };
export function shownDate(item) {
  return item.date ? item.date.slice(0, DATE_LENGTH[item.date_precision] ?? 10) : "";
}

// A hit's case_kind, a case card's kind: a labour dispute is labelled as one, wherever it is listed.
export function metaLine(item, caseKind = item.case_kind) {
  const type = caseKind === "dispute" ? "劳动争议案例" : DOC_TYPES[item.doc_type] ?? item.doc_type;
  return el("div", { class: "meta" },
    item.doc_type ? el("span", { class: `badge badge-${item.doc_type}` }, type) : null,
    item.date ? el("span", {}, shownDate(item)) : null,
    item.source ? el("span", {}, item.source) : null);
}

// Questions a first-time visitor can click instead of thinking one up: of what staff and trainers ask, those
// this knowledge base answers (/api/examples); null when it answers none, or the view has moved on.
export async function examples(view, signal) {
  const offered = await getJSON("/api/examples", {}, signal).catch(() => null);
  const questions = offered?.[view] ?? [];
  if (signal?.aborted || !questions.length) return null;
  return el("p", { class: "chips examples" }, "试试：",
    questions.map((q) => el("a", { class: "chip", href: `#/${view}?q=${encodeURIComponent(q)}` }, q)));
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Fill a <select> with a first "all" option and one option per [value, label] pair, keeping `selected`.
export function fillSelect(select, allLabel, options, selected) {
  clear(select).append(el("option", { value: "" }, allLabel));
  const values = new Set(options.map(([value]) => value));
  if (selected && !values.has(selected)) options = [[selected, selected], ...options];
  for (const [value, label] of options) {
    select.append(el("option", { value, selected: value === selected }, label));
  }
}

// 2018年政府工作报告…, 今年的…: only the year the question names was read (search and 问答 say so alike).
export function searchedYear(data) {
  return data.year ? `只检索了 ${data.year} 年的文档` : "";
}

// A passage's place: its headings below the title (a card shows the title already), and 第N页 for PDFs,
// scans, OFD and slides.
export function place(hit) {
  const headings = (hit.heading_path ?? []).filter((h) => h !== hit.title).join(" › ");
  return [headings, hit.page ? `第${hit.page}页` : ""].filter(Boolean).join(" · ");
}

function passage(hit) {
  const heading = place(hit);
  return el("div", { class: "hit-passage" },
    heading ? el("a", { class: "heading", href: docHref(hit.doc_id, { start: hit.start, end: hit.end }) }, heading) : null,
    markup("p", { class: "snippet" }, hit.snippet));
}

// One document's card: its title linking into the document view at the first passage, its metadata, and
// each of its passages (several when more than one of the document's passages is among the best).
export function hitCard(hit, more = []) {
  return el("article", { class: "hit" },
    el("h3", {}, el("a", { href: docHref(hit.doc_id, { start: hit.start, end: hit.end }) }, hit.title)),
    metaLine(hit),
    [hit, ...more].map(passage));
}

// Results in order, each document's consecutive passages as one card.
export function hitCards(hits) {
  const groups = [];
  for (const hit of hits) {
    const last = groups.at(-1);
    if (last && last[0].doc_id === hit.doc_id) last.push(hit);
    else groups.push([hit]);
  }
  return groups.map(([first, ...more]) => hitCard(first, more));
}

// The weak matches the API offers (`related`) when no passage reached the relevance cut-off: set apart and
// labelled, so that nobody takes them for results, yet a person who asked in everyday words still sees them.
export function relatedBlock(hits) {
  if (!hits?.length) return [];
  return [el("h2", { class: "sub" }, "以下段落相关度较低，仅供参考"), el("div", { class: "hits weak" }, hitCards(hits))];
}
