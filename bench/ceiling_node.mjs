// The Node ceiling: the least a passthrough proxy on Node can do, `node:http` plus one
// outbound call, no routing, no header work, no logging. llmproxy on Node is measured
// against it.
//
// node bench/ceiling_node.mjs PORT UPSTREAM_ORIGIN [undici|http]
//
// `undici` (the default when the package resolves) uses `undici.request` with a
// keep-alive Agent; `http` pipes through `http.request` with a keep-alive Agent.
import http from "node:http";

const port = Number(process.argv[2] ?? "18101");
const upstream = new URL(process.argv[3] ?? "http://127.0.0.1:18001");
let mode = process.argv[4] ?? "undici";

// Connection-level headers that must not be forwarded (undici rejects some of them).
const HOP = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "host",
];

let undici;
if (mode === "undici") {
  try {
    undici = await import("undici");
  } catch {
    mode = "http";
  }
}
const dispatcher = undici ? new undici.Agent({ keepAliveTimeout: 30_000 }) : undefined;
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  for (const h of HOP) delete headers[h];
  const fail = (e) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(String(e));
  };
  if (undici) {
    const ac = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    undici.request(upstream.origin + req.url, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : req,
      dispatcher,
      signal: ac.signal,
    }).then((up) => {
      const out = { ...up.headers };
      for (const h of HOP) delete out[h];
      res.writeHead(up.statusCode, out);
      up.body.on("error", () => res.destroy());
      up.body.pipe(res);
    }, fail);
    return;
  }
  const preq = http.request({
    host: upstream.hostname,
    port: upstream.port,
    path: req.url,
    method: req.method,
    headers,
    agent,
  }, (up) => {
    const out = { ...up.headers };
    for (const h of HOP) delete out[h];
    res.writeHead(up.statusCode ?? 502, out);
    up.pipe(res);
  });
  preq.on("error", fail);
  res.on("close", () => {
    if (!res.writableFinished) preq.destroy();
  });
  req.pipe(preq);
});
server.keepAliveTimeout = 30_000;
server.listen(port, "127.0.0.1", () => console.log(`node ceiling (${mode}) on 127.0.0.1:${port}`));
