// The page's router: the URL hash says which view to show (#/search?q=…, #/ask?q=…, #/cases, #/doc?id=…),
// so the back button, reloads and shared links all work. Each view module renders one section.
import { loadAccount, showLogin } from "./account.js";
import { showAsk } from "./ask.js";
import { showCases } from "./cases.js";
import { showDocument } from "./document.js";
import { showManage } from "./manage.js";
import { showSearch } from "./search.js";
import { attachSuggestions } from "./suggest.js";

const VIEWS = { search: showSearch, ask: showAsk, cases: showCases, doc: showDocument, login: showLogin, manage: showManage };
const QUERY_VIEWS = new Set(["search", "ask"]);

const form = document.getElementById("query-form");
const input = document.getElementById("q");
const button = document.getElementById("go");
const status = document.getElementById("status");
const queryPanel = document.getElementById("query-panel");
const filters = document.getElementById("filters");
let mode = "search"; // the query view the search box submits to
let controller = null;

function setStatus(message, isError = false) {
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const cut = hash.indexOf("?");
  const name = cut < 0 ? hash : hash.slice(0, cut);
  return { name: name in VIEWS ? name : "search", params: new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1)) };
}

async function render() {
  const { name, params } = parseRoute();
  controller?.abort();
  controller = new AbortController();
  if (QUERY_VIEWS.has(name)) {
    mode = name;
    // A route without a query keeps what is in the box: the first render waits for the account, and a
    // person may have typed meanwhile (a busy server answered /api/me after the typing, and wiped it).
    if (params.has("q")) input.value = params.get("q");
    button.textContent = name === "ask" ? "提问" : "检索";
  }
  queryPanel.hidden = !QUERY_VIEWS.has(name);
  // The status line sits under what drives the view: the search box, or the 案例 tab's own search and filters.
  document.getElementById(name === "cases" ? "case-list" : "view-search").before(status);
  if (name !== "search") filters.hidden = true; // search.js shows them once facets are known
  for (const view of Object.keys(VIEWS)) document.getElementById(`view-${view}`).hidden = view !== name;
  const tab = name === "doc" || name === "login" ? null : name;
  for (const link of document.querySelectorAll(".tabs a")) {
    link.classList.toggle("active", link.dataset.tab === tab);
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await VIEWS[name](params, controller.signal, setStatus);
  } catch (error) {
    if (error.name !== "AbortError") setStatus(error.message, true);
  }
}

const suggestions = attachSuggestions(input, document.getElementById("suggestions"), () => form.requestSubmit());

form.addEventListener("submit", (event) => {
  event.preventDefault();
  suggestions.hide();
  const q = input.value.trim();
  if (!q) return;
  const target = `#/${mode}?${new URLSearchParams({ q })}`;
  if (location.hash === target) render(); // same query again: no hashchange, so re-run it explicitly
  else location.hash = target;
});

// Switching between 检索 and 问答 keeps the question in the box.
for (const link of document.querySelectorAll(".tabs a")) {
  link.addEventListener("click", (event) => {
    const tab = link.dataset.tab;
    const q = input.value.trim();
    if (!QUERY_VIEWS.has(tab) || !q) return;
    event.preventDefault();
    location.hash = `#/${tab}?${new URLSearchParams({ q })}`;
  });
}

// ?q=… is a search sent from a plain HTML form (<form action="…zhiku…/"><input name="q">) on another
// site, or from this page's own form before this script ran: shown as this page's own search.
const sent = new URLSearchParams(location.search).get("q")?.trim();
if (sent && !location.hash) history.replaceState(null, "", `${location.pathname}#/search?${new URLSearchParams({ q: sent })}`);

window.addEventListener("hashchange", render);
try {
  await loadAccount();
} catch (error) {
  setStatus(error.message, true); // e.g. this server lets nobody read without signing in: the login link still works
}
render();
