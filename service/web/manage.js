// 管理: what editors and admins of the chosen KB do on the page — upload files (saying what they are) and
// take documents out of search (停用) or put them back (启用). The server checks every call again.
import { currentKb } from "./account.js";
import { DOC_TYPES, clear, docHref, el, getJSON, send, session, shownDate } from "./util.js";

const view = document.getElementById("view-manage");
const OUTCOMES = { added: "已新增", updated: "已更新", unchanged: "未变化", failed: "失败" };

function uploadForm(onDone) {
  const results = el("div", { class: "upload-results", role: "status" });
  const form = el("form", { class: "upload card" },
    el("h2", {}, "上传文件"),
    fileChooser(),
    el("div", { class: "upload-fields" },
      el("label", {}, "类型",
        el("select", { name: "doc_type" }, el("option", { value: "" }, "自动识别"),
          Object.entries(DOC_TYPES).map(([value, label]) => el("option", { value }, label)))),
      el("label", {}, "标题", el("input", { name: "title", maxlength: 200, placeholder: "不填则自动识别" })),
      el("label", {}, "日期", el("input", { name: "date", type: "date" })),
      el("label", {}, "来源", el("input", { name: "source", maxlength: 200, placeholder: "发布机关或单位" }))),
    el("button", { type: "submit", class: "primary" }, "上传"),
    results);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData(form);
    for (const [key, value] of [...body.entries()]) if (value === "") body.delete(key);
    const button = form.querySelector("button");
    button.disabled = true;
    const waiting = el("p", {}, "正在上传…");
    clear(results).append(waiting);
    try {
      // answered at once (202); the ingest runs on the server, so no proxy timeout cuts a long scan's upload
      const accepted = await send("POST", "/api/documents", body, {}, { Prefer: "respond-async" });
      const ended = await uploadEnded(accepted.upload_id, waiting);
      if (!ended) return; // 管理 was left: the upload goes on, and its documents are listed when it is shown again
      if (ended.state === "failed") throw new Error(ended.error.message);
      clear(results).append(outcomes(ended.report.files));
      form.reset();
      form.querySelector(".file-input").dispatchEvent(new Event("change"));
      onDone();
    } catch (error) {
      clear(results).append(el("p", { class: "form-error" }, error.message));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

const POLL_MS = 1000;
const POLL_FAILURES = 5; // a network blip is waited out; a server gone for longer is said

// Ask once a second how the upload is doing until it ends (null once the page no longer shows it); a scan of
// thirty pages takes a minute or more, so each answer says which file and page, and the wait never looks stuck.
async function uploadEnded(id, line) {
  line.textContent = "正在读取和索引，扫描件需要逐页识别，请稍候…";
  for (let failures = 0; ;) {
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
    if (!line.isConnected) return null;
    let status;
    try {
      status = await getJSON(`/api/uploads/${id}`);
      failures = 0;
    } catch (error) {
      if (++failures < POLL_FAILURES) continue;
      throw new Error(`无法查询上传进度（${error.message}）：文件可能仍在导入，请稍后在下方文档列表中查看`);
    }
    if (status.state !== "running") return status;
    if (status.step) line.textContent = stepText(status.step);
  }
}

function stepText(step) {
  const which = step.files > 1 ? `（第 ${step.file}/${step.files} 个文件）` : "";
  return step.stage === "indexing" ? `正在索引 ${step.name}${which}：切分段落并向量化…`
    : step.pages_total ? `正在识别 ${step.name}${which}：第 ${step.pages_done}/${step.pages_total} 页已识别…`
    : `正在读取 ${step.name}${which}…`;
}

function outcomes(files) {
  return el("ul", { class: "outcomes" }, files.map((file) =>
    el("li", { class: `outcome outcome-${file.status}` },
      el("strong", {}, file.name), ` ${OUTCOMES[file.status] ?? file.status}`,
      file.reason ? `：${file.reason}` : "",
      file.doc_ids.length ? [" ", el("a", { href: docHref(file.doc_ids[0]) }, "查看")] : null)));
}

async function documentList(list, title = "") {
  const data = await getJSON("/api/documents", { limit: 200, title });
  const filter = el("input", { type: "search", class: "doc-filter", value: title, maxlength: 200,
                               "aria-label": "按标题筛选", placeholder: "按标题或文件名筛选" });
  filter.addEventListener("change", () => documentList(list, filter.value.trim()));
  clear(list).append(...el("div", {},
    el("h2", {}, `文档（${data.total}）`), filter,
    el("table", { class: "docs" },
      el("thead", {}, el("tr", {}, el("th", {}, "标题"), el("th", {}, "类型"), el("th", {}, "日期"), el("th", {}, "状态"))),
      el("tbody", {}, data.documents.map((doc) => documentRow(doc, list)))),
    data.total > data.documents.length ? el("p", { class: "muted" }, `只列出前 ${data.documents.length} 篇。`) : null).childNodes);
}

// The browser's own file button speaks the browser's language; this one says 选择文件 and lists the choice.
function fileChooser() {
  const input = el("input", { type: "file", name: "files", multiple: true, required: true, class: "file-input", id: "upload-files" });
  const chosen = el("span", { class: "muted" }, "未选择文件（可多选：Word、PDF、扫描件、图片、表格、幻灯片、OFD）");
  input.addEventListener("change", () => {
    chosen.textContent = input.files.length ? [...input.files].map((f) => f.name).join("、") : "未选择文件";
  });
  return el("div", { class: "file-chooser" }, input, el("label", { for: "upload-files", class: "file-button" }, "选择文件"), chosen);
}

function documentRow(doc, list) {
  const toggle = el("button", { type: "button", class: "link" }, doc.enabled ? "停用" : "启用");
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await send("PATCH", `/api/documents/${encodeURIComponent(doc.doc_id)}`, { enabled: !doc.enabled });
      await documentList(list, list.querySelector(".doc-filter")?.value.trim() ?? "");
    } catch (error) {
      toggle.disabled = false;
      toggle.title = error.message;
    }
  });
  return el("tr", { class: doc.enabled ? "" : "disabled" },
    el("td", {}, el("a", { href: docHref(doc.doc_id) }, doc.title)),
    el("td", {}, DOC_TYPES[doc.doc_type] ?? doc.doc_type),
    el("td", {}, shownDate(doc)),
    el("td", {}, doc.enabled ? "检索中 " : "已停用 ", toggle));
}

export async function showManage(params, signal, setStatus) {
  const kb = currentKb();
  clear(view);
  if (!kb?.writable) {
    if (session.user) {
      setStatus("你没有这个知识库的编辑权限。", true);
      return;
    }
    // Someone who followed a link to 管理 before signing in: sign in, then come back here.
    setStatus("管理文档需要编辑或管理员账号。", true);
    view.append(el("p", {}, el("a", { href: "#/login?next=manage" }, "登录后管理文档")));
    return;
  }
  setStatus(`管理知识库：${kb.title}。停用的文档保留在库中，但不再被检索到。`);
  const list = el("section", { class: "doc-admin card" });
  view.append(uploadForm(() => documentList(list)), list);
  await documentList(list);
}
