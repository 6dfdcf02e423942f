// The llmproxy dashboard's script (served as /ui/assets/app.js, embedded in assets.ts).
// Plain browser JavaScript, no build step: it fetches api/v1/stats (relative to the
// page, so it works under the Workers admin prefix too) every 2 s and draws with uPlot.
// Every value from the server is set as text, never as HTML: model and client names
// come from traffic.
/* global uPlot */
(() => {
  "use strict";

  const TOKEN_KEY = "llmproxy.adminToken";
  const REFRESH_MS = 2000;
  const REQUEST_TIMEOUT_MS = 5000;
  const COLORS = [
    "#2563eb",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#7c3aed",
  ];

  const body = document.body;
  const tokenRequired = body.dataset.auth === "token";
  const statsUrl = new URL("api/v1/stats", location.href).href;
  const $ = (id) => document.getElementById(id);

  /** Creates an element; children are nodes or text (never parsed as HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function fmt(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    const d = digits === undefined ? (Math.abs(n) < 10 && n % 1 !== 0 ? 2 : 0) : digits;
    return n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 });
  }

  function ms(n) {
    if (n === null || n === undefined) return "–";
    return n >= 1000 ? fmt(n / 1000, 2) + " s" : fmt(n, n < 10 ? 1 : 0) + " ms";
  }

  /** `14:05:30` for an epoch second (24 h, the browser's time zone). */
  function clock(second) {
    const d = new Date(second * 1000);
    const two = (n) => String(n).padStart(2, "0");
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  function pct(part, whole) {
    if (!whole) return "–";
    return fmt((100 * part) / whole, 1) + " %";
  }

  function sum(a) {
    let t = 0;
    for (const v of a) t += v;
    return t;
  }

  // --- token and sign-in --------------------------------------------------------------

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  }

  function storeToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage refused (private mode): the token lives in this page only.
    }
    memoryToken = token;
  }

  let memoryToken = storedToken();
  let timer;
  let running = false;

  function showSignIn(message) {
    running = false;
    clearTimeout(timer);
    $("signin").hidden = false;
    $("dashboard").hidden = true;
    $("signout").hidden = true;
    $("signin-error").textContent = message || "";
    $("signin-error").hidden = !message;
    setStatus("signed out", "idle");
    $("token").focus();
  }

  function showDashboard() {
    $("signin").hidden = true;
    $("dashboard").hidden = false;
    $("signout").hidden = !tokenRequired;
  }

  async function fetchStats(token) {
    const headers = { accept: "application/json" };
    if (token) headers.authorization = "Bearer " + token;
    const res = await fetch(statsUrl, {
      headers,
      cache: "no-store",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    let json = null;
    try {
      json = await res.json();
    } catch {
      // Not JSON: reported by status below.
    }
    return { status: res.status, json };
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    const button = $("signin-button");
    button.disabled = true;
    $("signin-error").hidden = true;
    try {
      const r = await fetchStats(token);
      if (r.status === 200 && r.json && r.json.data) {
        storeToken(token);
        $("token").value = "";
        start(r.json.data);
      } else if (r.status === 401) {
        showSignIn("The token was refused. Check LLMPROXY_ADMIN_AUTH_TOKEN and try again.");
      } else {
        showSignIn(errorText(r));
      }
    } catch (e) {
      showSignIn("The proxy did not answer: " + e.message);
    } finally {
      button.disabled = false;
    }
  });

  $("signout").addEventListener("click", () => {
    storeToken("");
    showSignIn("");
  });

  function errorText(r) {
    const m = r.json && r.json.error && r.json.error.message;
    return "HTTP " + r.status + (m ? ": " + m : "");
  }

  function setStatus(text, kind) {
    const el = $("status");
    el.textContent = text;
    el.dataset.kind = kind;
  }

  // --- polling --------------------------------------------------------------------------

  function start(first) {
    showDashboard();
    running = true;
    if (first) render(first);
    schedule(first ? REFRESH_MS : 0);
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  async function tick() {
    if (!running) return;
    try {
      const r = await fetchStats(memoryToken);
      if (!running) return;
      if (r.status === 401) {
        storeToken("");
        showSignIn(
          memoryToken ? "The token is no longer accepted; sign in again." : "Sign in to continue.",
        );
        return;
      }
      if (r.status !== 200 || !r.json || !r.json.data) {
        setStatus(errorText(r), "error");
      } else {
        render(r.json.data);
      }
    } catch (e) {
      setStatus("no answer: " + e.message, "error");
    }
    schedule(REFRESH_MS);
  }

  // --- charts -----------------------------------------------------------------------------

  const charts = new Map();

  function chartWidth(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width) - 4);
  }

  /** Creates or updates a uPlot chart in `holder`; `key` names the series set. */
  function chart(holder, id, key, series, data, yLabel) {
    let c = charts.get(id);
    if (c && (c.key !== key || !holder.contains(c.plot.root))) {
      c.plot.destroy();
      charts.delete(id);
      c = undefined;
    }
    if (!c) {
      holder.textContent = "";
      const opts = {
        width: chartWidth(holder),
        height: 170,
        // Room on the right for the last time label.
        padding: [10, 28, 0, 0],
        series: [{}].concat(
          series.map((s, i) => ({
            label: s.label,
            stroke: s.color || COLORS[i % COLORS.length],
            width: 1.5,
            fill: s.fill,
            spanGaps: s.spanGaps === true,
            value: (_u, v) => (v === null || v === undefined ? "–" : fmt(v, 2)),
          })),
        ),
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ space: 70, values: (_u, splits) => splits.map(clock) }, {
          label: yLabel,
          size: 56,
        }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      };
      c = { key, plot: new uPlot(opts, data, holder) };
      charts.set(id, c);
    } else {
      c.plot.setData(data);
    }
    return c.plot;
  }

  globalThis.addEventListener("resize", () => {
    for (const c of charts.values()) {
      const holder = c.plot.root.parentElement;
      if (holder) c.plot.setSize({ width: chartWidth(holder), height: 170 });
    }
  });

  // --- rendering --------------------------------------------------------------------------

  function render(data) {
    const when = new Date(data.now_ms).toLocaleTimeString();
    setStatus("live · " + when, "ok");
    $("version").textContent = "v" + data.version;
    $("scope").textContent = data.scope.note;
    $("scope").dataset.figures = data.scope.figures;
    const xs = [];
    for (let i = 0; i < data.history.seconds; i++) xs.push(data.history.start + i);
    renderForwards(data, xs);
    renderGroups(data);
    renderTokens(data, xs);
    renderConfig(data.config);
  }

  function figure(label, value, attrs) {
    return h(
      "div",
      Object.assign({ class: "figure" }, attrs),
      h("span", { class: "value" }, value),
      h("span", { class: "label" }, label),
    );
  }

  function renderForwards(data, xs) {
    const root = $("forwards");
    const history = new Map(data.history.forwards.map((f) => [f.name, f]));
    const names = data.config.forwards.map((f) => f.name);
    for (const f of data.history.forwards) if (!names.includes(f.name)) names.push(f.name);
    const wanted = new Set(names);
    for (const card of [...root.children]) {
      if (!wanted.has(card.dataset.forward)) card.remove();
    }
    for (const name of names) {
      let card = root.querySelector('[data-forward="' + CSS.escape(name) + '"]');
      if (!card) {
        card = h(
          "article",
          { class: "card", "data-forward": name },
          h("h3", {}, "forward ", h("code", {}, name)),
          h("div", { class: "figures" }),
          h(
            "div",
            { class: "charts" },
            h("div", { class: "chart traffic" }),
            h("div", { class: "chart latency" }),
          ),
        );
        root.append(card);
      }
      const f = history.get(name);
      const zeros = xs.map(() => 0);
      const t = f
        ? f.total
        : { requests: 0, errors: 0, rate_limited: 0, p50_ms: null, p95_ms: null };
      card.querySelector(".figures").replaceChildren(
        figure("req/s (10 s)", fmt(f ? f.rps_10s : 0, 1)),
        figure("requests (5 min)", fmt(t.requests)),
        figure("error rate (5 min)", pct(t.errors, t.requests), { "data-errors": t.errors }),
        figure("rate-limited (5 min)", fmt(t.rate_limited)),
        figure("p50 / p95 (5 min)", ms(t.p50_ms) + " / " + ms(t.p95_ms)),
      );
      chart(
        card.querySelector(".traffic"),
        "traffic:" + name,
        "traffic",
        [
          { label: "requests/s", color: "#2563eb", fill: "rgba(37,99,235,0.08)" },
          { label: "errors/s", color: "#dc2626" },
          { label: "rate-limited/s", color: "#d97706" },
        ],
        [xs, f ? f.requests : zeros, f ? f.errors : zeros, f ? f.rate_limited : zeros],
        "per second",
      );
      const none = xs.map(() => null);
      chart(
        card.querySelector(".latency"),
        "latency:" + name,
        "latency",
        [
          { label: "p50 ms", color: "#16a34a", spanGaps: false },
          { label: "p95 ms", color: "#9333ea", spanGaps: false },
        ],
        [xs, f ? f.p50_ms : none, f ? f.p95_ms : none],
        "ms",
      );
    }
  }

  function breakerBadge(m) {
    let text = m.breaker === "none" ? "no breaker" : m.breaker.replace("_", "-");
    if (m.breaker === "open" && m.half_open_in_s !== null) {
      text += " · half-open in ≤ " + m.half_open_in_s + " s";
    }
    return h("span", { class: "badge breaker-" + m.breaker }, text);
  }

  function renderGroups(data) {
    const root = $("groups");
    const rows = [];
    for (const g of data.groups) {
      rows.push(
        h(
          "tr",
          { class: "group-row" },
          h(
            "th",
            { colspan: 9 },
            "group ",
            h("code", {}, g.name),
            h("span", { class: "muted" }, " · " + g.strategy),
          ),
        ),
      );
      for (const m of g.members) {
        const e = m.errors;
        rows.push(
          h(
            "tr",
            {
              class: "member",
              "data-group": g.name,
              "data-upstream": m.upstream,
              "data-breaker": m.breaker,
            },
            h("td", {}, h("code", {}, m.upstream), h("div", { class: "muted small" }, m.url)),
            h("td", { class: "num" }, fmt(m.weight)),
            h("td", { class: "breaker" }, breakerBadge(m)),
            h("td", { class: "num in-flight" }, fmt(m.in_flight)),
            h("td", { class: "num" }, ms(m.ttft_p50_ms) + " / " + ms(m.ttft_p95_ms)),
            h("td", { class: "num" }, ms(m.latency_ms)),
            h("td", { class: "num" }, fmt(100 * m.success_rate, 1) + " %"),
            h("td", { class: "num" }, fmt(m.attempts)),
            h(
              "td",
              { class: "errors small" },
              ["unreachable", "timeout", "status_5xx", "circuit_open"].map((k) =>
                h(
                  "span",
                  { class: e[k] ? "err-kind hot" : "err-kind", "data-kind": k },
                  k.replace("_", " ") + " " + fmt(e[k]),
                )
              ),
            ),
          ),
        );
      }
    }
    root.replaceChildren(
      h(
        "table",
        { class: "grid" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [
              "upstream",
              "weight",
              "breaker",
              "in flight",
              "TTFT p50 / p95",
              "latency (EWMA)",
              "success",
              "attempts",
              "errors by kind",
            ].map((t) => h("th", {}, t)),
          ),
        ),
        h("tbody", {}, rows),
      ),
    );
  }

  function tokenTable(items, kind) {
    if (items.length === 0) {
      return h(
        "p",
        { class: "muted" },
        kind === "model"
          ? "No answer with token usage in the last five minutes."
          : "No client traffic in the last five minutes.",
      );
    }
    const head = kind === "model"
      ? ["model", "input / min", "output / min", "total / min", "total (5 min)"]
      : ["client", "requests / min", "input / min", "output / min", "total (5 min)"];
    const sorted = items.slice().sort((a, b) =>
      sum(b.input) + sum(b.output) - sum(a.input) - sum(a.output) || a.name.localeCompare(b.name)
    );
    return h(
      "table",
      { class: "grid" },
      h("thead", {}, h("tr", {}, head.map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        sorted.map((t) => {
          const attrs = kind === "model" ? { "data-model": t.name } : { "data-client": t.name };
          const cells = kind === "model"
            ? [
              fmt(t.last_minute.input),
              fmt(t.last_minute.output),
              fmt(t.last_minute.input + t.last_minute.output),
            ]
            : [
              fmt(t.requests_last_minute || 0),
              fmt(t.last_minute.input),
              fmt(t.last_minute.output),
            ];
          return h(
            "tr",
            Object.assign({ class: kind + "-row" }, attrs),
            h("td", {}, h("code", {}, t.name)),
            cells.map((c) => h("td", { class: "num" }, c)),
            h("td", { class: "num" }, fmt(sum(t.input) + sum(t.output))),
          );
        }),
      ),
    );
  }

  function renderTokens(data, xs) {
    const models = data.history.models;
    const top = models
      .slice()
      .sort((a, b) =>
        sum(b.input) + sum(b.output) - sum(a.input) - sum(a.output) || a.name.localeCompare(b.name)
      )
      .slice(0, COLORS.length);
    const holder = $("tokens-chart");
    if (top.length === 0) {
      const c = charts.get("tokens");
      if (c) c.plot.destroy();
      charts.delete("tokens");
      holder.replaceChildren(
        h("p", { class: "muted" }, "Tokens per second appear here once answers report usage."),
      );
    } else {
      chart(
        holder,
        "tokens",
        top.map((m) => m.name).join("\u0000"),
        top.map((m) => ({ label: m.name })),
        [xs].concat(top.map((m) => m.input.map((v, i) => v + m.output[i]))),
        "tokens/s",
      );
    }
    $("models").replaceChildren(tokenTable(models, "model"));
    const clients = data.history.clients;
    const configured = data.config.clients.length > 0;
    $("clients-section").hidden = !configured && clients.length === 0;
    $("clients").replaceChildren(tokenTable(clients, "client"));
  }

  function list(items) {
    return items.length === 0 ? h("span", { class: "muted" }, "none") : items;
  }

  function renderConfig(config) {
    const upstreams = new Map(config.upstreams.map((u) => [u.name, u]));
    const forwards = config.forwards.map((f) =>
      h(
        "div",
        { class: "cfg-item" },
        h(
          "h4",
          {},
          "forward ",
          h("code", {}, f.name),
          h("span", { class: "muted" }, " on " + f.listen),
        ),
        h(
          "ul",
          {},
          h("li", {}, "default group ", h("code", {}, f.default_group)),
          h(
            "li",
            {},
            "rate limit: ",
            f.ratelimit ? f.ratelimit.per_second + "/s, burst " + f.ratelimit.burst : "off",
          ),
          h("li", {}, "client keys: " + f.client_auth),
          h(
            "li",
            {},
            "routes: ",
            list(f.routes.map((r) =>
              h(
                "span",
                { class: "pill" },
                h("code", {}, r.path),
                " → ",
                h("code", {}, r.target_group),
              )
            )),
          ),
          h(
            "li",
            {},
            "model routes: ",
            list(f.model_routes.map((r) =>
              h(
                "span",
                { class: "pill" },
                h("code", {}, r.model),
                " → ",
                h("code", {}, r.target_group),
              )
            )),
          ),
        ),
      )
    );
    const groups = config.groups.map((g) =>
      h(
        "div",
        { class: "cfg-item" },
        h(
          "h4",
          {},
          "group ",
          h("code", {}, g.name),
          h(
            "span",
            { class: "muted" },
            " · " + g.strategy + (g.retry_attempts ? " · retries " + g.retry_attempts : ""),
          ),
        ),
        h(
          "ul",
          {},
          g.members.map((m) => {
            const u = upstreams.get(m.name);
            return h(
              "li",
              {},
              h("code", {}, m.name),
              " weight " + m.weight,
              u
                ? h(
                  "span",
                  { class: "muted" },
                  " · " + u.url + " · auth " + u.auth + (u.breaker
                    ? " · breaker " + u.breaker.threshold + " / " + u.breaker.cooldown + " s"
                    : ""),
                )
                : null,
            );
          }),
        ),
      )
    );
    const clients = config.clients.map((c) =>
      h(
        "div",
        { class: "cfg-item" },
        h("h4", {}, "client ", h("code", {}, c.name)),
        h(
          "ul",
          {},
          h("li", {}, "groups: " + (c.groups ? c.groups.join(", ") : "all")),
          h("li", {}, "models: " + (c.models ? c.models.join(", ") : "all")),
          h(
            "li",
            {},
            "limits: " + (Object.keys(c.limits).length
              ? Object.entries(c.limits).map(([k, v]) => k.replaceAll("_", " ") + " " + fmt(v))
                .join(", ")
              : "none"),
          ),
        ),
      )
    );
    $("config").replaceChildren(
      h("div", { class: "cfg-col" }, h("h3", {}, "Forwards"), forwards),
      h("div", { class: "cfg-col" }, h("h3", {}, "Groups and members"), groups),
    );
    if (clients.length) {
      $("config").append(h("div", { class: "cfg-col" }, h("h3", {}, "Clients"), clients));
    }
  }

  // --- start ------------------------------------------------------------------------------

  if (tokenRequired && !memoryToken) showSignIn("");
  else {
    showDashboard();
    running = true;
    setStatus("loading…", "idle");
    schedule(0);
  }
})();
