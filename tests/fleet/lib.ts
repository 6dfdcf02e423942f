/**
 * Fleet helpers: daemons of any runtime sharing one redis-server of the test's own,
 * a mock upstream, and bounded requests and metric reads.
 *
 * @module
 */

import {
  type Daemon,
  type DaemonCommand,
  DENO_DAEMON,
  freePort,
  type RunningMock,
  startDaemon,
} from "../conformance/harness.ts";
import { fetchAll, runWithDeadline } from "../deadline.ts";
import type { RedisServer } from "./redis_server.ts";

export { DENO_DAEMON };

/** The client key of the fleet configs (never a real secret). */
export const TEAM_KEY = "sk-fleet-team-a";
/** A client with limits too high to bind: exercises admit and settle under load. */
export const LOAD_KEY = "sk-fleet-load";

/** One daemon of a fleet, with its ports. */
export interface Member {
  readonly daemon: Daemon;
  readonly name: string;
  /** The forward without a per-IP limit (`main`). */
  readonly main: string;
  /** The forward with `ratelimit: { per_second: 1, burst: 3 }` (`burst`). */
  readonly burst: string;
  readonly admin: string;
}

/** Settings of {@linkcode fleetConfig}. */
export interface FleetOptions {
  /** team-a's `tokens_per_minute`. */
  readonly tokensPerMinute?: number;
  readonly prefix?: string;
  readonly timeoutMs?: number;
  /** A `breaker` block for the upstream `u`. */
  readonly breaker?: { threshold: number; cooldown: number };
  /** A second upstream `v` (not in the group `g`), at this URL. */
  readonly spareUrl?: string;
}

/** The configuration of one fleet member. */
export function fleetConfig(
  mock: RunningMock,
  ports: { main: number; burst: number; admin: number },
  options: FleetOptions = {},
): string {
  return `
http_server:
  forwards:
    - name: main
      port: ${ports.main}
      address: 127.0.0.1
      default_group: g
      client_auth: optional
      ratelimit: { per_second: 10000, burst: 20000 }
    - name: burst
      port: ${ports.burst}
      address: 127.0.0.1
      default_group: g
      ratelimit: { per_second: 1, burst: 3 }
  admin: { port: ${ports.admin}, address: 127.0.0.1 }
upstreams:
  - { name: u, url: "${mock.url}"${
    options.breaker
      ? `, breaker: { threshold: ${options.breaker.threshold}, cooldown: ${options.breaker.cooldown} }`
      : ""
  } }
${options.spareUrl ? `  - { name: v, url: "${options.spareUrl}" }\n` : ""}upstream_groups:
  - { name: g, upstreams: [{ name: u }] }
clients:
  - name: team-a
    key: ${TEAM_KEY}
    limits: { tokens_per_minute: ${options.tokensPerMinute ?? 1_000_000} }
  - name: load
    key: ${LOAD_KEY}
    limits: { requests_per_minute: 1000000, tokens_per_minute: 1000000000, tokens_per_day: 1000000000000 }
state:
  store: redis
  redis:
    url: "\${REDIS_URL}"
    prefix: "${options.prefix ?? "fleet:"}"
    timeout: ${options.timeoutMs ?? 250}
`;
}

/** Starts one daemon of the fleet (the Redis URL comes from the environment). */
export async function startMember(
  cmd: DaemonCommand,
  redis: RedisServer,
  mock: RunningMock,
  options: FleetOptions = {},
): Promise<Member> {
  for (let attempt = 1;; attempt++) {
    const ports = { main: freePort(), burst: freePort(), admin: freePort() };
    let daemon: Daemon;
    try {
      daemon = await startDaemon(cmd, fleetConfig(mock, ports, options), ports.admin, {
        env: { REDIS_URL: redis.url },
      });
    } catch (e) {
      // A free port is released before the daemon binds it; meanwhile another process
      // (the other test file, which runs in parallel with handed-out ports of its own, or
      // any other program) may bind it. The daemon then exits at once: new ports, at most
      // twice more.
      if (attempt < 3 && ADDRESS_IN_USE.test(String(e))) {
        console.log(`  ${cmd.name} daemon: a port was taken before it bound it; new ports`);
        continue;
      }
      throw e;
    }
    return {
      daemon,
      name: cmd.name,
      main: `http://127.0.0.1:${ports.main}`,
      burst: `http://127.0.0.1:${ports.burst}`,
      admin: `http://127.0.0.1:${ports.admin}`,
    };
  }
}

/** How Deno ("Address already in use (os error 98)") and Node (EADDRINUSE) say it. */
const ADDRESS_IN_USE = /daemon exited early:[^]*(address already in use|EADDRINUSE)/i;

/**
 * Starts one member per command at once; each that starts is added to `into` (which the
 * caller stops in `finally`) even when another fails, which then fails the call.
 */
export async function startMembers(
  commands: readonly DaemonCommand[],
  redis: RedisServer,
  mock: RunningMock,
  options: FleetOptions,
  into: (Member | undefined)[],
): Promise<Member[]> {
  const settled = await Promise.allSettled(
    commands.map((cmd) => startMember(cmd, redis, mock, options)),
  );
  const started: Member[] = [];
  for (const s of settled) if (s.status === "fulfilled") started.push(s.value);
  into.push(...started);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return started;
}

/** Stops every member by PID (bounded) and removes its configuration directory. */
export async function stopAll(members: readonly (Member | undefined)[]): Promise<void> {
  await Promise.all(members.map(async (m) => {
    if (m === undefined) return;
    await m.daemon.stop().catch(() => {});
    const path = m.daemon.configPath;
    await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true }).catch(() => {});
  }));
}

/** A chat body of exactly `bytes` bytes (its estimate is `ceil(bytes / 4)` tokens). */
export function chatBody(bytes: number): string {
  const base = JSON.stringify({ model: "m", messages: [{ role: "user", content: "" }] });
  const pad = bytes - base.length;
  if (pad < 0) throw new Error(`a chat body needs at least ${base.length} bytes`);
  return JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(pad) }] });
}

/** POSTs a chat completion (within 15 s); status and the proxy's error code, if any. */
export async function post(
  base: string,
  options: { key?: string; body?: string; deadlineMs?: number; headers?: Record<string, string> } =
    {},
): Promise<{ status: number; error: string | null; retryAfter: string | null }> {
  const r = await fetchAll(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...options.headers,
    },
    body: options.body ?? chatBody(100),
    deadlineMs: options.deadlineMs ?? 15_000,
  });
  return {
    status: r.status,
    error: r.headers.get("x-llmproxy-error"),
    retryAfter: r.headers.get("retry-after"),
  };
}

/** `GET /ready` of a member (within 2 s). */
export async function ready(m: Member): Promise<number> {
  return (await fetchAll(`${m.admin}/ready`, { deadlineMs: 2_000 })).status;
}

/** The sum of `llmproxy_state_store_errors_total` over its ops (within 5 s). */
export async function storeErrors(m: Member): Promise<number> {
  const text = (await fetchAll(`${m.admin}/metrics`, { deadlineMs: 5_000 })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("llmproxy_state_store_errors_total{")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** Sends `n` requests at once, alternating over `bases`; the statuses in order. */
export async function burst(bases: readonly string[], n: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => post(bases[i % bases.length]!)),
  );
  return answers.map((a) => a.status);
}

/**
 * How many of a burst the `burst` forward (3, refilled at 1 a second) may admit: 3, plus
 * a token per whole second the burst took (only on a machine too loaded to send ten
 * requests within a second).
 */
export async function burstOf3(bases: readonly string[], n = 10): Promise<
  { admitted: number; allowed: number; statuses: number[] }
> {
  const start = performance.now();
  const statuses = await burst(bases, n);
  const took = performance.now() - start;
  return {
    admitted: statuses.filter((s) => s === 200).length,
    allowed: 3 + Math.floor(took / 1000),
    statuses,
  };
}

/** Every line a member printed (stdout and stderr). */
export function output(m: Member): string {
  return [...m.daemon.lines, ...m.daemon.errLines].join("\n");
}

/** Builds the Node bundle into a directory of the test's own (not dist/, which others use). */
export async function buildNodeBundle(): Promise<string> {
  const root = new URL("../../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-fleet-node-" });
  const out = `${dir}/llmproxyd.mjs`;
  try {
    const r = await runWithDeadline(
      Deno.execPath(),
      {
        args: ["bundle", "--platform=node", `--output=${out}`, `${root}src/adapters/node/main.ts`],
        cwd: root,
        env: { NO_COLOR: "1" },
      },
      120_000,
      "deno bundle (node)",
    );
    if (!r.success) throw new Error(`deno bundle failed:\n${r.stdout}\n${r.stderr}`);
    return out;
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Every runtime pairing of a two-instance fleet case: on Deno, mixed, on Node. */
export const PAIRINGS = ["deno + deno", "deno + node", "node + node"] as const;

/** The daemon commands of a pairing such as `"deno + node"` (in that order). */
export async function daemons(pairing: string): Promise<DaemonCommand[]> {
  return await Promise.all(
    pairing.split(" + ").map((name) => {
      if (name === "deno") return DENO_DAEMON;
      if (name === "node") return nodeDaemon();
      throw new Error(`no daemon "${name}" (deno or node)`);
    }),
  );
}

let nodeBundle: Promise<string> | undefined;

/**
 * The Node daemon (`node` running the bundle). The bundle is built on first use, once per
 * test file (each runs in an isolate of its own), and removed when the file's tests end
 * (the `unload` event, which `deno test` dispatches after the last test, failed or
 * filtered out ones too). A failed build fails every Node case with its error.
 */
export async function nodeDaemon(): Promise<DaemonCommand> {
  nodeBundle ??= buildNodeBundle().then((out) => {
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(out.slice(0, out.lastIndexOf("/")), { recursive: true });
      } catch { /* already gone */ }
    });
    return out;
  });
  return { name: "node", argv: ["node", await nodeBundle] };
}
