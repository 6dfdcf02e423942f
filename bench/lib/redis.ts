/**
 * The benchmark's own Redis for the fleet rows: started once per run, asked over a raw
 * RESP connection (no client library, no redis-cli process during a measurement) how
 * many commands it ran, so round trips per request are counted by the server.
 *
 * @module
 */
import { SCRIPTS } from "../../src/state_redis/scripts.ts";
import { freePort, type Proc, run, spawn, waitFor } from "./proc.ts";
import type { LoadSample } from "./measure.ts";

/** A started `redis-server`. */
export interface RedisServer {
  readonly port: number;
  readonly proc: Proc;
  /** `redis-server --version`, for the report. */
  readonly version: string;
}

/** Thrown when redis-server is not installed; the message is the reason shown. */
export class NoRedis extends Error {}

/**
 * Starts `redis-server` on a free 127.0.0.1 port with persistence off (a snapshot or an
 * AOF rewrite mid-run would be the disk's cost, not the store's). It is stopped by its
 * PID with everything else the benchmark started, Ctrl-C included.
 */
export async function startRedis(): Promise<RedisServer> {
  const v = await run("redis-server", ["--version"]);
  if (v.code !== 0) {
    throw new NoRedis("redis-server is not installed (apt-get install -y redis-server)");
  }
  const port = freePort();
  const proc = spawn("redis-server", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  await waitFor(
    "redis-server",
    async () => (await command(port, ["PING"])) === "PONG",
    15_000,
    proc,
  );
  const version = v.stdout.match(/v=(\S+)/)?.[1] ?? v.stdout.trim();
  return { port, proc, version: `redis-server ${version}` };
}

/**
 * Sends one command on a new connection and returns its reply (a simple string or a
 * bulk string); a Redis error reply rejects. Enough for PING and INFO.
 */
export async function command(port: number, args: readonly string[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    const enc = new TextEncoder();
    const req = `*${args.length}\r\n` +
      args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`).join("");
    await conn.write(enc.encode(req));
    return await readReply(conn);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

async function readReply(conn: Deno.Conn): Promise<string> {
  const dec = new TextDecoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Redis closed the connection before answering");
    chunks.push(buf.slice(0, n));
    size += n;
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    const text = dec.decode(all);
    const eol = text.indexOf("\r\n");
    if (eol < 0) continue;
    const head = text.slice(0, eol);
    if (head[0] === "+") return head.slice(1);
    if (head[0] === "-") throw new Error(`Redis: ${head.slice(1)}`);
    if (head[0] !== "$") throw new Error(`unexpected Redis reply: ${head.slice(0, 40)}`);
    // The length counts bytes; INFO is ASCII, so bytes and characters agree.
    const len = Number(head.slice(1));
    if (all.length >= eol + 2 + len + 2) return text.slice(eol + 2, eol + 2 + len);
  }
}

/** What `INFO` says about the commands run so far. */
export interface CommandCounts {
  /** `total_commands_processed`: commands run inside Lua scripts included. */
  total: number;
  /** `calls` per command of `INFO commandstats`, lower case (`script|load` for subcommands). */
  calls: Record<string, number>;
}

/** Reads `INFO stats` and `INFO commandstats` in one call. */
export async function commandCounts(port: number): Promise<CommandCounts> {
  const text = await command(port, ["INFO", "stats", "commandstats"]);
  const total = Number(text.match(/^total_commands_processed:(\d+)/m)?.[1] ?? NaN);
  const calls: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return { total, calls };
}

/**
 * The commands Redis ran during one load run, against a baseline of the same length with
 * the daemon idle: the daemon reads its shared breakers and the configuration version
 * every 500 ms and keeps a pub/sub connection, which is not per request.
 */
export interface RedisTally {
  idleS: number;
  loadS: number;
  /** Deltas over the idle window and over the load run (`info`, the tally's own, left out). */
  idle: CommandCounts;
  load: CommandCounts;
  /**
   * Commands called inside the store's Lua scripts (src/state_redis/scripts.ts): Redis
   * counts them as commands, but they cost no round trip. Kept with the tally so that
   * `--render` classifies as the run did.
   */
  inScripts: string[];
}

/** Commands the store's scripts call with `redis.call`, lower case. */
export function scriptCommands(): string[] {
  const names = new Set<string>();
  for (const s of SCRIPTS) {
    for (const m of s.source.matchAll(/redis\.p?call\(\s*['"]([A-Za-z]+)['"]/g)) {
      names.add(m[1]!.toLowerCase());
    }
  }
  return [...names].sort();
}

function delta(a: CommandCounts, b: CommandCounts): CommandCounts {
  const calls: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.calls)) {
    const d = v - (a.calls[k] ?? 0);
    if (k !== "info" && d !== 0) calls[k] = d;
  }
  // Each tally reads INFO once per window: not the daemon's.
  const info = (b.calls.info ?? 0) - (a.calls.info ?? 0);
  return { total: b.total - a.total - info, calls };
}

/**
 * Runs `measure` (warm-up and load run) with an idle window of `idleS` seconds before
 * it, and attaches what Redis counted to the load sample. `warmup` runs between the
 * idle window and the load so that the load run follows its warm-up as on every target.
 */
export async function tallied(
  port: number,
  idleS: number,
  warmup: () => Promise<unknown>,
  measure: () => Promise<LoadSample>,
): Promise<LoadSample> {
  const i0 = await commandCounts(port);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const i1 = await commandCounts(port);
  const idleReal = (performance.now() - t0) / 1000;
  await warmup();
  const l0 = await commandCounts(port);
  const sample = await measure();
  const l1 = await commandCounts(port);
  sample.redis = {
    idleS: idleReal,
    loadS: sample.durationS,
    idle: delta(i0, i1),
    load: delta(l0, l1),
    inScripts: scriptCommands(),
  };
  return sample;
}
