// Signing in and out, and the KB picker: who the page acts as (/api/me) and which of the KBs they may read
// (/api/kbs) every view searches. The choice of KB is remembered in this browser.
import { clear, el, getJSON, send, session } from "./util.js";

const ROLES = { reader: "读者", editor: "编辑", admin: "管理员" };
const who = document.getElementById("who");
const picker = document.getElementById("kb-pick");
const manageTab = document.querySelector('.tabs a[data-tab="manage"]');
const view = document.getElementById("view-login");

export function currentKb() {
  return session.kbs.find((kb) => kb.name === (session.kb || "default"));
}

// Who is signed in, the KBs they may read, and the header that shows both; called once at start.
export async function loadAccount() {
  const me = await getJSON("/api/me");
  Object.assign(session, { user: me.user, role: me.role, csrf: me.csrf_token });
  session.kbs = (await getJSON("/api/kbs", { kb: undefined })).kbs;
  if (!currentKb()) choose("");
  clear(picker).append(...session.kbs.map((kb) =>
    el("option", { value: kb.name === "default" ? "" : kb.name, selected: kb === currentKb() },
      `${kb.title}${kb.visibility === "internal" ? "（内部）" : ""}`)));
  picker.hidden = session.kbs.length < 2;
  manageTab.hidden = !currentKb()?.writable;
  clear(who).append(...(session.user
    ? [el("span", {}, `${session.user} · ${ROLES[session.role] ?? session.role}`), " ",
       el("button", { type: "button", class: "link", onclick: logout }, "退出")]
    : [el("a", { href: "#/login" }, "登录")]));
}

function choose(name) {
  session.kb = name;
  if (name) localStorage.setItem("zhiku.kb", name);
  else localStorage.removeItem("zhiku.kb");
}

picker.addEventListener("change", () => {
  choose(picker.value);
  location.hash = "#/search";
  location.reload(); // every view's cached lists (cases, filters) belong to the old KB
});

async function logout() {
  await send("POST", "/api/logout").catch(() => null);
  choose("");
  location.hash = "#/search";
  location.reload();
}

export async function showLogin(params, signal, setStatus) {
  setStatus(session.user ? `已登录为 ${session.user}。` : "登录后可以读取授权给你的内部知识库；编辑还可以上传和管理文档。");
  const message = el("p", { class: "form-error", role: "alert" });
  const form = el("form", { class: "login card", autocomplete: "on" },
    el("h2", {}, "登录"),
    el("label", {}, "用户名", el("input", { name: "username", required: true, autocomplete: "username", maxlength: 64 })),
    el("label", {}, "密码", el("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
    message,
    el("button", { type: "submit", class: "primary" }, "登录"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    message.textContent = "";
    try {
      await send("POST", "/api/login", { username: data.get("username"), password: data.get("password") });
      location.hash = params.get("next") === "manage" ? "#/manage" : "#/search"; // the one page that asks to sign in
      location.reload();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  clear(view).append(form);
}
