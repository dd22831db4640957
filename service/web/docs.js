// A small offline API reference rendered from /openapi.json (FastAPI's Swagger UI would load from a CDN).
import { el, getJSON } from "./util.js";

function schemaName(schema = {}) {
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `${schemaName(schema.items)}[]`;
  if (schema.anyOf) return schema.anyOf.map(schemaName).join(" | ");
  if (schema.enum) return schema.enum.join(" | ");
  return schema.type ?? "any";
}

function parameterRows(parameters = []) {
  return parameters.map((p) => el("tr", {},
    el("td", {}, el("code", {}, p.name), p.required ? " *" : ""),
    el("td", {}, p.in),
    el("td", {}, schemaName(p.schema)),
    el("td", {}, p.description ?? p.schema?.description ?? "")));
}

function operationCard(path, method, op) {
  const responses = Object.entries(op.responses ?? {}).map(([code, r]) => `${code} ${r.description ?? ""}`);
  const body = op.requestBody?.content ?? {};
  return el("article", { class: "hit" },
    el("h3", {}, el("code", {}, `${method.toUpperCase()} ${path}`)),
    el("div", { class: "meta" }, op.summary ?? ""),
    op.description ? el("p", { class: "snippet" }, op.description) : null,
    op.parameters?.length
      ? el("table", { class: "params" }, el("tr", {}, ["参数", "位置", "类型", "说明"].map((h) => el("th", {}, h))),
          parameterRows(op.parameters))
      : null,
    Object.keys(body).length
      ? el("div", { class: "heading" }, `请求体：${Object.entries(body).map(([t, c]) => `${t} ${schemaName(c.schema)}`).join("; ")}`)
      : null,
    el("div", { class: "heading" }, `响应：${responses.join(" · ")}`));
}

// The API's description is a little Markdown: paragraphs, "- " items and `code`; shown as such, as text nodes.
function inline(line) {
  return line.split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part));
}

function prose(text) {
  const blocks = [];
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    if (line.startsWith("- ")) {
      if (blocks.at(-1)?.tagName !== "UL") blocks.push(el("ul", {}));
      blocks.at(-1).append(el("li", {}, inline(line.slice(2))));
    } else if (blocks.at(-1)?.tagName === "UL" && !line.startsWith("- ")) {
      blocks.at(-1).lastChild.append(" ", ...inline(line)); // a wrapped item line
    } else {
      blocks.push(el("p", {}, inline(line)));
    }
  }
  return blocks;
}

const spec = await getJSON("/openapi.json");
document.getElementById("intro").replaceChildren(
  el("p", {}, `${spec.info.title} ${spec.info.version}`), ...prose(spec.info.description ?? ""));
document.getElementById("operations").append(...Object.entries(spec.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => operationCard(path, method, op))));
