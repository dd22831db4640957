// Suggestions under the search box (/api/suggest): debounced, keyboard-navigable, never blocking typing.
import { clear, el, getJSON } from "./util.js";

const DELAY_MS = 150;

export function attachSuggestions(input, list, onPick) {
  let timer = 0;
  let items = [];
  let active = -1;
  let controller = null;

  function hide() {
    items = [];
    active = -1;
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  // Hide and forget any suggestions still on their way, so that they do not open the list again.
  function close() {
    clearTimeout(timer);
    controller?.abort();
    hide();
  }

  function pick(text) {
    input.value = text;
    hide();
    onPick();
  }

  function show() {
    clear(list).append(...items.map((text, i) => el("li", {
      id: `suggestion-${i}`, role: "option", "aria-selected": String(i === active), class: i === active ? "active" : null,
      onmousedown: (event) => { event.preventDefault(); pick(text); },
    }, text)));
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    if (active >= 0) input.setAttribute("aria-activedescendant", `suggestion-${active}`);
  }

  async function load() {
    const q = input.value.trim();
    controller?.abort();
    if (!q) return hide();
    controller = new AbortController();
    try {
      items = (await getJSON("/api/suggest", { q }, controller.signal)).suggestions.filter((s) => s !== q);
      active = -1;
      show();
    } catch {
      hide(); // suggestions are a convenience: a failure must not disturb typing
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      active = (active + step + items.length) % items.length;
      show();
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      pick(items[active]);
    } else if (event.key === "Escape") {
      event.preventDefault(); // a type="search" box clears itself on Esc: closing the list must keep the query
      close();
    }
  });
  input.addEventListener("blur", hide);
  return { hide: close };
}
