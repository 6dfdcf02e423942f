/**
 * Checks that span entries: references between forwards, groups and upstreams, unique
 * names, route patterns, and listeners that would collide.
 *
 * They run on the raw data (after expansion and coercion), not on zod's output, so
 * that they still run when the schema failed somewhere else: every entry that can be
 * checked is checked, and anything malformed is left to the schema's messages.
 *
 * @module
 */

import { type ConfigPath, type Finding, formatPath as where } from "./diagnostics.ts";
import { didYouMean } from "./did_you_mean.ts";
import { sha256Hex } from "../crypto/sha256.ts";
import { addressesOverlap, formatListener, type IpAddress, parseListenAddress } from "./net.ts";

/**
 * Compiles a route pattern (docs/behaviour.md#patterns), throwing an `Error` that says what is
 * wrong. `shapeKey` is equal for patterns of the same shape (`/x/:a` and `/x/:b`).
 */
export type RouteCompiler = (path: string) => { shapeKey: string };

type Entry = { readonly value: Record<string, unknown>; readonly path: ConfigPath };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The own keys of a mapping in an object without a prototype (an empty one for
 * anything else), so that reading `.name` or `.port` can only ever find what the
 * configuration holds, never a member of `Object.prototype`.
 */
function own(value: unknown): Record<string, unknown> {
  const copy = Object.create(null) as Record<string, unknown>;
  // Object.assign defines "__proto__" as an own key here: there is no prototype setter.
  return isRecord(value) ? Object.assign(copy, value) : copy;
}

function entries(value: unknown, path: ConfigPath): Entry[] {
  if (!Array.isArray(value)) return [];
  const out: Entry[] = [];
  value.forEach((item, i) => {
    if (isRecord(item)) out.push({ value: own(item), path: [...path, i] });
  });
  return out;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Runs every cross-entry check on `data`; returns what it found. */
export function crossCheck(
  data: unknown,
  compileRoute?: RouteCompiler,
  listeners = true,
  redisStore = true,
): Finding[] {
  const findings: Finding[] = [];
  const error = (path: ConfigPath, message: string) =>
    findings.push({ severity: "error", path, message });
  const root = own(data);
  const server = own(root.http_server);
  const forwards = entries(server.forwards, ["http_server", "forwards"]);
  const upstreams = entries(root.upstreams, ["upstreams"]);
  const groups = entries(root.upstream_groups, ["upstream_groups"]);

  const unnamed = new Set<string>();
  const names = (list: Entry[], kind: string) => {
    if (list.some((e) => text(e.value.name) === undefined)) unnamed.add(kind);
    const first = new Map<string, ConfigPath>();
    for (const e of list) {
      const name = text(e.value.name);
      if (name === undefined) continue;
      const seen = first.get(name);
      if (seen === undefined) first.set(name, e.path);
      else {
        error(
          [...e.path, "name"],
          `duplicate ${kind} name "${name}": already used by ${where(seen)}; names must be unique`,
        );
      }
    }
    return [...first.keys()];
  };
  names(forwards, "forward");
  names(entries(root.clients, ["clients"]), "client");
  const upstreamNames = names(upstreams, "upstream");
  const groupNames = names(groups, "group");

  const unknown = (kind: string, name: string, defined: string[]) => {
    const list = defined.length > 0
      ? `defined ${kind}s: ${defined.join(", ")}`
      : unnamed.has(kind)
      ? `no ${kind} has a valid name`
      : `no ${kind}s are defined`;
    return `unknown ${kind} "${name}"; ${list}${didYouMean(name, defined)}`;
  };

  for (const g of groups) {
    const seen = new Map<string, ConfigPath>();
    for (const m of entries(g.value.upstreams, [...g.path, "upstreams"])) {
      const name = text(m.value.name);
      if (name === undefined) continue;
      const at: ConfigPath = [...m.path, "name"];
      if (!upstreamNames.includes(name)) error(at, unknown("upstream", name, upstreamNames));
      const first = seen.get(name);
      if (first === undefined) seen.set(name, m.path);
      else {
        error(
          at,
          `upstream "${name}" is already a member of this group at ${where(first)}; ` +
            "each upstream may appear once per group",
        );
      }
    }
  }

  for (const f of forwards) {
    const group = text(f.value.default_group);
    if (group !== undefined && !groupNames.includes(group)) {
      error([...f.path, "default_group"], unknown("group", group, groupNames));
    }
    checkRoutes(f, groupNames, compileRoute, error, unknown);
    checkModelRoutes(f, groupNames, error, unknown);
  }
  for (const g of groups) checkHashKey(g, findings);
  checkClients(entries(root.clients, ["clients"]), groupNames, error, unknown);

  if (listeners) checkListeners(server, forwards, error);
  checkHosts(forwards, error);
  if (!redisStore) checkNoRedisStore(root, error);
  return findings;
}

/**
 * Where no Redis client runs (Workers), `state.store: redis` is refused
 * (docs/behaviour.md#durable-objects).
 */
function checkNoRedisStore(
  root: Record<string, unknown>,
  error: (path: ConfigPath, message: string) => void,
): void {
  const state = own(root.state);
  if (state.store !== "redis") return;
  error(
    ["state", "store"],
    'store "redis" is not available on Cloudflare Workers: state there is always shared ' +
      "through Durable Objects; remove the state block or set store: memory",
  );
}

function checkRoutes(
  forward: Entry,
  groupNames: string[],
  compileRoute: RouteCompiler | undefined,
  error: (path: ConfigPath, message: string) => void,
  unknown: (kind: string, name: string, defined: string[]) => string,
): void {
  const shapes = new Map<string, { path: ConfigPath; pattern: string }>();
  for (const r of entries(forward.value.routing, [...forward.path, "routing"])) {
    const target = text(r.value.target_group);
    if (target !== undefined && !groupNames.includes(target)) {
      error([...r.path, "target_group"], unknown("group", target, groupNames));
    }
    const pattern = text(r.value.path);
    if (pattern === undefined) continue;
    let shapeKey = pattern;
    if (compileRoute !== undefined) {
      try {
        shapeKey = compileRoute(pattern).shapeKey;
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        // The routing compiler names the pattern itself; another compiler may not.
        const quoted = JSON.stringify(pattern);
        error(
          [...r.path, "path"],
          why.includes(quoted) ? why : `invalid route pattern ${quoted}: ${why}`,
        );
        continue;
      }
    }
    const first = shapes.get(shapeKey);
    if (first === undefined) shapes.set(shapeKey, { path: r.path, pattern });
    else {
      const same = first.pattern === pattern ? "" : ` "${first.pattern}" (same shape)`;
      error(
        [...r.path, "path"],
        `duplicate route "${pattern}": already routed by ${where(first.path)}${same}; ` +
          "each path may appear once per forward",
      );
    }
  }
}

function checkModelRoutes(
  forward: Entry,
  groupNames: string[],
  error: (path: ConfigPath, message: string) => void,
  unknown: (kind: string, name: string, defined: string[]) => string,
): void {
  const globs = new Map<string, ConfigPath>();
  for (const r of entries(forward.value.model_routing, [...forward.path, "model_routing"])) {
    const target = text(r.value.target_group);
    if (target !== undefined && !groupNames.includes(target)) {
      error([...r.path, "target_group"], unknown("group", target, groupNames));
    }
    const glob = text(r.value.model);
    if (glob === undefined) continue;
    const first = globs.get(glob);
    if (first === undefined) globs.set(glob, r.path);
    else {
      error(
        [...r.path, "model"],
        `duplicate model rule ${JSON.stringify(glob)}: already routed by ${where(first)}; ` +
          "each model glob may appear once per forward",
      );
    }
  }
}

/** Client keys may not repeat (compared as digests); their groups must exist. */
function checkClients(
  clients: Entry[],
  groupNames: string[],
  error: (path: ConfigPath, message: string) => void,
  unknown: (kind: string, name: string, defined: string[]) => string,
): void {
  const digests = new Map<string, { path: ConfigPath; name: string }>();
  for (const c of clients) {
    const key = text(c.value.key);
    const given = text(c.value.key_sha256);
    const digest = key !== undefined
      ? sha256Hex(key)
      : given !== undefined && /^[0-9a-fA-F]{64}$/.test(given)
      ? given.toLowerCase()
      : undefined;
    if (digest !== undefined) {
      const at: ConfigPath = [...c.path, key !== undefined ? "key" : "key_sha256"];
      const first = digests.get(digest);
      // The message never shows the key: it is a secret.
      if (first === undefined) {
        digests.set(digest, { path: c.path, name: text(c.value.name) ?? "" });
      } else {
        error(
          at,
          `this key is already the key of client "${first.name}" (${where(first.path)}); ` +
            "each client needs its own key",
        );
      }
    }
    if (!Array.isArray(c.value.groups)) continue;
    c.value.groups.forEach((g, i) => {
      const name = text(g);
      if (name !== undefined && !groupNames.includes(name)) {
        error([...c.path, "groups", i], unknown("group", name, groupNames));
      }
    });
  }
}

/** `hash` needs a `hash_key`; a `hash_key` under another strategy is ignored (warned). */
function checkHashKey(group: Entry, findings: Finding[]): void {
  const balance = own(group.value.balance);
  const strategy = balance.strategy;
  const key = balance.hash_key;
  const at: ConfigPath = [...group.path, "balance"];
  if (strategy === "hash" && (key === undefined || key === null)) {
    findings.push({
      severity: "error",
      path: at,
      message: 'required key "hash_key" is missing: strategy "hash" needs it ' +
        '("header:<name>", "client_ip" or "body:<field>")',
    });
  } else if (strategy !== "hash" && key !== undefined && key !== null) {
    findings.push({
      severity: "warning",
      path: [...at, "hash_key"],
      message: `hash_key is used only by strategy "hash"; strategy "${
        typeof strategy === "string" ? strategy : "roundrobin"
      }" ignores it`,
    });
  }
}

interface Listener {
  readonly label: string;
  readonly path: ConfigPath;
  readonly address: string;
  readonly ip: IpAddress;
  readonly port: number;
  /** Where the error points: the port if written, else the address, else the entry. */
  readonly at: ConfigPath;
}

function listenerOf(
  value: Record<string, unknown>,
  path: ConfigPath,
  label: string,
  defaultPort: number,
): Listener | undefined {
  const port = value.port === undefined ? defaultPort : value.port;
  const address = value.address === undefined ? "0.0.0.0" : value.address;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return;
  if (typeof address !== "string") return;
  const ip = parseListenAddress(address);
  if (ip === undefined) return;
  const at: ConfigPath = value.port !== undefined
    ? [...path, "port"]
    : value.address !== undefined
    ? [...path, "address"]
    : path;
  return { label, path, address, ip, port, at };
}

function checkListeners(
  server: Record<string, unknown>,
  forwards: Entry[],
  error: (path: ConfigPath, message: string) => void,
): void {
  const listeners: Listener[] = [];
  for (const f of forwards) {
    const name = text(f.value.name);
    const l = listenerOf(f.value, f.path, name ? `forward "${name}"` : "a forward", 3000);
    if (l) listeners.push(l);
  }
  const adminValue = server.admin === undefined || server.admin === null ? {} : server.admin;
  if (isRecord(adminValue)) {
    const l = listenerOf(own(adminValue), ["http_server", "admin"], "the admin listener", 9000);
    if (l) listeners.push(l);
  }
  listeners.forEach((l, i) => {
    const clash = listeners.slice(0, i).find((o) =>
      o.port === l.port && addressesOverlap(o.ip, l.ip)
    );
    if (clash === undefined) return;
    error(
      l.at,
      `listener ${formatListener(l.address, l.port)} overlaps ${clash.label} on ` +
        `${formatListener(clash.address, clash.port)} (${where(clash.path)}); ` +
        "each listener needs its own address and port",
    );
  });
}

function checkHosts(forwards: Entry[], error: (path: ConfigPath, message: string) => void): void {
  const first = new Map<string, ConfigPath>();
  for (const f of forwards) {
    if (!Array.isArray(f.value.hosts)) continue;
    f.value.hosts.forEach((host, i) => {
      if (typeof host !== "string" || host === "") return;
      const key = host.toLowerCase();
      const seen = first.get(key);
      const path: ConfigPath = [...f.path, "hosts", i];
      if (seen === undefined) first.set(key, path);
      else {
        error(
          path,
          `host "${host}" is already claimed by ${where(seen)}; ` +
            "a host name may belong to one forward only",
        );
      }
    });
  }
}
