/**
 * The interactive API page served at `/api/v1/docs` with `--debug` (docs/behaviour.md#access).
 *
 * One self-contained HTML document: no scripts, styles or fonts from elsewhere (the
 * admin listener often runs where nothing outside is reachable, and the page is
 * served under a strict Content-Security-Policy). It reads `openapi.json`, lists the
 * operations by tag, and for each one offers inputs for its path parameters, a JSON
 * body prefilled from the schema's example (or, for PUT/PATCH, from the current
 * state with one click), and shows the answer. A bearer token typed into the page is
 * kept in the tab's sessionStorage only.
 *
 * @module
 */

const PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llmproxy admin API</title>
<style>
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #ffffff; --panel: #f5f7fa;
  --line: #d9dee7; --get: #2f7d32; --post: #1f5fbf; --put: #a15c00; --patch: #7b3fb0; --delete: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #98a2b3; --bg: #11151c;
  --panel: #1a202a; --line: #2c3543; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { position: sticky; top: 0; z-index: 1; display: flex; gap: 12px; align-items: center; flex-wrap: wrap;
  padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 20px 40px; }
h2 { font-size: 15px; margin: 24px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
details { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; background: var(--bg); }
summary { cursor: pointer; padding: 7px 10px; display: flex; gap: 10px; align-items: baseline; }
summary code { font-weight: 600; }
.m { display: inline-block; min-width: 62px; text-align: center; font: 600 12px/20px ui-monospace, monospace;
  border-radius: 4px; color: #fff; }
.get { background: var(--get); } .post { background: var(--post); } .put { background: var(--put); }
.patch { background: var(--patch); } .delete { background: var(--delete); }
.sum { color: var(--muted); }
.op { padding: 4px 12px 12px; border-top: 1px solid var(--line); }
label { display: block; margin: 8px 0 2px; font-weight: 600; }
label small { font-weight: 400; color: var(--muted); }
input, textarea, button { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--fg); background: var(--bg);
  border: 1px solid var(--line); border-radius: 4px; padding: 5px 7px; }
input { width: 100%; } textarea { width: 100%; min-height: 140px; resize: vertical; }
button { cursor: pointer; background: var(--panel); font-family: system-ui, sans-serif; padding: 5px 12px; }
button.send { background: var(--post); color: #fff; border-color: var(--post); }
.row { display: flex; gap: 8px; margin-top: 10px; align-items: center; flex-wrap: wrap; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 8px; overflow: auto; max-height: 420px; margin: 8px 0 0; }
.statuses { color: var(--muted); font-size: 12px; margin-top: 6px; }
.ok { color: var(--get); } .err { color: var(--delete); }
#token { width: 280px; }
#msg { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>llmproxy admin API</h1>
  <input id="token" type="password" placeholder="Bearer token (if LLMPROXY_ADMIN_AUTH_TOKEN is set)" autocomplete="off">
  <button id="save">Use token</button>
  <span id="msg">loading…</span>
</header>
<main id="ops"></main>
<script>
(function () {
  "use strict";
  var SPEC_URL = "__SPEC_URL__";
  var KEY = "llmproxy-admin-token";
  var tokenInput = document.getElementById("token");
  var msg = document.getElementById("msg");
  var ops = document.getElementById("ops");
  tokenInput.value = sessionStorage.getItem(KEY) || "";

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function headers(extra) {
    var h = Object.assign({ accept: "application/json" }, extra || {});
    var t = tokenInput.value.trim();
    if (t) h.authorization = "Bearer " + t;
    return h;
  }
  function b64url(text) {
    var bytes = new TextEncoder().encode(text), bin = "";
    bytes.forEach(function (b) { bin += String.fromCharCode(b); });
    return btoa(bin).split("+").join("-").split("/").join("_").replace(/=+$/, "");
  }
  function resolve(spec, s) {
    var seen = 0;
    while (s && s.$ref && seen++ < 20) {
      var parts = s.$ref.replace(/^#\//, "").split("/"), cur = spec;
      parts.forEach(function (p) { cur = cur ? cur[p] : undefined; });
      s = cur;
    }
    return s || {};
  }
  function example(spec, schema, depth) {
    var s = resolve(spec, schema);
    if (s.example !== undefined) return s.example;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.default !== undefined) return s.default;
    if ((depth || 0) > 6) return null;
    if (s.enum) return s.enum[0];
    if (s.const !== undefined) return s.const;
    var alt = s.oneOf || s.anyOf;
    if (alt && alt.length) return example(spec, alt[0], depth + 1);
    var type = Array.isArray(s.type) ? s.type[0] : s.type;
    if (type === "object" || s.properties) {
      var out = {};
      (s.required || []).forEach(function (k) {
        out[k] = example(spec, (s.properties || {})[k] || {}, (depth || 0) + 1);
      });
      return out;
    }
    if (type === "array") return s.minItems ? [example(spec, s.items || {}, (depth || 0) + 1)] : [];
    if (type === "integer" || type === "number") return s.minimum !== undefined ? s.minimum : 0;
    if (type === "boolean") return false;
    return "";
  }
  function show(pre, res, text) {
    var body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    pre.textContent = res.status + " " + res.statusText + "\n\n" + (body || "(no body)");
    pre.className = res.ok ? "ok" : "err";
  }

  function operation(spec, path, method, op) {
    var params = (op.parameters || []).map(function (p) { return resolve(spec, p); });
    var inputs = {};
    var body = op.requestBody && resolve(spec, op.requestBody);
    var bodySchema = body && body.content && body.content["application/json"] &&
      body.content["application/json"].schema;
    var children = [];
    if (op.description) children.push(el("p", { text: op.description }));
    params.forEach(function (p) {
      var input = el("input", { placeholder: (p.schema && p.schema.example) || p.name });
      inputs[p.name] = input;
      children.push(el("label", {}, [document.createTextNode(p.name + " "),
        el("small", { text: "(" + p.in + ") " + (p.description || "") })]));
      children.push(input);
      if (p.name === "b64path") {
        var raw = el("input", { placeholder: "/v1/chat/completions — typed here, encoded above" });
        raw.addEventListener("input", function () { input.value = b64url(raw.value); });
        children.push(el("label", {}, [el("small", { text: "route path pattern (encodes into b64path)" })]));
        children.push(raw);
      }
    });
    var area = null;
    if (bodySchema) {
      area = el("textarea", { spellcheck: "false" });
      area.value = JSON.stringify(example(spec, bodySchema, 0), null, 2);
      children.push(el("label", { text: "JSON body" }));
      children.push(area);
    }
    var out = el("pre", { text: "" });
    out.hidden = true;
    var send = el("button", { "class": "send", text: "Send" });
    var row = el("div", { "class": "row" }, [send]);
    function url() {
      var missing = [];
      var u = path.replace(/\{([^}]+)\}/g, function (_, name) {
        var v = inputs[name] ? inputs[name].value.trim() : "";
        if (!v) missing.push(name);
        return encodeURIComponent(v);
      });
      return missing.length ? { missing: missing } : { url: u };
    }
    if (area && (method === "put" || method === "patch")) {
      var load = el("button", { text: "Load current" });
      load.addEventListener("click", function () {
        var u = url();
        if (u.missing) { out.hidden = false; out.textContent = "fill in: " + u.missing.join(", "); return; }
        fetch(u.url, { headers: headers() }).then(function (r) {
          return r.json().then(function (j) {
            if (r.ok && j && j.data !== undefined) area.value = JSON.stringify(j.data, null, 2);
            else { out.hidden = false; show(out, r, JSON.stringify(j)); }
          });
        }).catch(function (e) { out.hidden = false; out.textContent = String(e); });
      });
      row.appendChild(load);
    }
    send.addEventListener("click", function () {
      var u = url();
      out.hidden = false;
      if (u.missing) { out.className = "err"; out.textContent = "fill in: " + u.missing.join(", "); return; }
      var init = { method: method.toUpperCase(), headers: headers() };
      if (area) {
        try { JSON.parse(area.value); } catch (e) { out.className = "err"; out.textContent = "body is not JSON: " + e.message; return; }
        init.headers["content-type"] = "application/json";
        init.body = area.value;
      }
      out.textContent = "…";
      fetch(u.url, init).then(function (r) {
        return r.text().then(function (t) { show(out, r, t); });
      }).catch(function (e) { out.className = "err"; out.textContent = String(e); });
    });
    children.push(row);
    var codes = Object.keys(op.responses || {}).map(function (c) {
      return c + " " + ((op.responses[c] && op.responses[c].description) || "");
    });
    children.push(el("div", { "class": "statuses", text: "Answers: " + codes.join(" · ") }));
    children.push(out);
    return el("details", {}, [
      el("summary", {}, [el("span", { "class": "m " + method, text: method.toUpperCase() }),
        el("code", { text: path }), el("span", { "class": "sum", text: op.summary || "" })]),
      el("div", { "class": "op" }, children),
    ]);
  }

  function render(spec) {
    ops.textContent = "";
    var byTag = {};
    var order = (spec.tags || []).map(function (t) { return t.name; });
    Object.keys(spec.paths || {}).forEach(function (path) {
      ["get", "post", "put", "patch", "delete"].forEach(function (m) {
        var op = spec.paths[path][m];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        if (order.indexOf(tag) < 0) order.push(tag);
        (byTag[tag] = byTag[tag] || []).push(operation(spec, path, m, op));
      });
    });
    order.forEach(function (tag) {
      if (!byTag[tag]) return;
      ops.appendChild(el("h2", { text: tag }));
      byTag[tag].forEach(function (d) { ops.appendChild(d); });
    });
    msg.textContent = (spec.info && spec.info.title ? spec.info.title + " " + spec.info.version : "") +
      " — " + Object.keys(spec.paths || {}).length + " paths";
  }

  function load() {
    msg.textContent = "loading…";
    fetch(SPEC_URL, { headers: headers() }).then(function (r) {
      if (r.status === 401) { msg.textContent = "401: enter the admin token above"; return; }
      if (!r.ok) { msg.textContent = "cannot load " + SPEC_URL + ": HTTP " + r.status; return; }
      return r.json().then(render);
    }).catch(function (e) { msg.textContent = "cannot load " + SPEC_URL + ": " + e; });
  }
  document.getElementById("save").addEventListener("click", function () {
    sessionStorage.setItem(KEY, tokenInput.value.trim());
    load();
  });
  tokenInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") document.getElementById("save").click();
  });
  load();
})();
</script>
</body>
</html>
`;

/**
 * The docs page, reading the OpenAPI document from `specUrl` (same origin).
 *
 * @example
 * ```ts
 * import { docsPage } from "./docs_page.ts";
 * const html = docsPage("/api/v1/openapi.json");
 * ```
 */
export function docsPage(specUrl: string): string {
  return PAGE.replace("__SPEC_URL__", JSON.stringify(specUrl).slice(1, -1));
}
