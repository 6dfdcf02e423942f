/**
 * The Deno ceiling: the least a passthrough proxy on Deno can do, `Deno.serve` plus
 * `fetch`, no routing, no headers work, no logging. llmproxy on Deno is measured
 * against it.
 *
 * `deno run --allow-net bench/ceiling_deno.ts PORT UPSTREAM_ORIGIN`
 *
 * @module
 */

const port = Number(Deno.args[0] ?? "18100");
const upstream = Deno.args[1] ?? "http://127.0.0.1:18001";
const client = Deno.createHttpClient({});
// Exit cleanly on SIGTERM so `--cpu-prof` (bench/profile.ts) can write its profile.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
  const path = req.url.slice(req.url.indexOf("/", 8));
  return fetch(upstream + path, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    client,
  });
});
