/**
 * A gateway for pipeline tests: one forward `f`, one group `g` with one upstream `u`
 * whose transport answers `reply()`; the log lines are kept.
 *
 * @module
 */
import { loadConfig } from "../config/mod.ts";
import { Gateway } from "./gateway.ts";
import type { Transport } from "./transport.ts";

export function replyGateway(reply: () => Response, usageAccounting = true) {
  const loaded = loadConfig(`
http_server:
  forwards: [{ name: f, default_group: g }]
upstreams: [{ name: u, url: "http://u.test" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const lines: Record<string, unknown>[] = [];
  const transport: Transport = { send: () => Promise.resolve(reply()), close() {} };
  const gw = new Gateway({
    config: loaded.config,
    transports: () => transport,
    logger: { log: (_l, msg, f) => lines.push({ msg, ...f }) },
    usageAccounting,
  });
  return { gw, lines };
}
