/**
 * The things measured: the upstream itself (direct), llmproxy on Deno and Node (each with
 * the production config, usage accounting off, and client keys and limits on; on Deno
 * also with its state on Redis vs in memory), the minimal passthrough ceilings on each
 * runtime, nginx, and the Portkey gateway. Each starts on its own 127.0.0.1 port; one
 * that cannot start says why.
 *
 * @module
 */
import { answers, freePort, type Proc, run, spawn, waitFor } from "./proc.ts";
import { NoRedis, type RedisServer, startRedis } from "./redis.ts";

/** Where the benchmark runs and what it talks to. */
export interface Context {
  /** The repository root. */
  readonly repo: string;
  /** A temporary directory for configs, scripts and logs of this run. */
  readonly tmp: string;
  /** Where slow installs (Portkey) are kept between runs. */
  readonly cache: string;
  readonly upstreamPort: number;
  /** Extra `deno run` flags for the Deno targets (profiling). */
  readonly denoFlags?: readonly string[];
  /** `http` or `undici`: how the Node ceiling calls the upstream. */
  readonly nodeCeiling: "http" | "undici";
  readonly nginxWorkers: number;
  readonly log: (line: string) => void;
}

/** What a target is. */
export type Kind = "direct" | "llmproxy" | "ceiling" | "nginx" | "portkey";

/** A started target. */
export interface Running {
  readonly port: number;
  /** Headers every request to it needs (Portkey's routing headers). */
  readonly headers: Record<string, string>;
  /** Its process; absent for direct. */
  readonly proc?: Proc;
  /** llmproxy's admin port (`/metrics`), for the llmproxy targets. */
  readonly adminPort?: number;
  /** What was run, for the report. */
  readonly detail: string;
  /** llmproxy's access log file. */
  readonly accessLog?: string;
  /** The port of the Redis it shares state on (the fleet rows). */
  readonly redisPort?: number;
  /** Processes it needs besides its own (redis-server): their CPU is not "other load". */
  readonly helpers?: readonly Proc[];
}

/** One row of the benchmark. */
export interface Target {
  readonly id: string;
  readonly label: string;
  readonly kind: Kind;
  readonly runtime: "deno" | "node" | "c" | "-";
  start(ctx: Context): Promise<Running>;
}

/** Thrown when a target cannot run here; the message is the reason shown. */
export class Unavailable extends Error {}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) newest = Math.max(newest, newestMtime(p));
    else if (e.isFile) newest = Math.max(newest, Deno.statSync(p).mtime?.getTime() ?? 0);
  }
  return newest;
}

/** The key of the one client of the `-clients` targets (sent by every request to them). */
export const BENCH_CLIENT_KEY = "sk-bench-0123456789abcdef0123456789abcdef";

/**
 * The client of the `-clients` targets: all three limits on, sized never to refuse a
 * benchmark run (1,000,000 requests per minute is the largest the schema allows).
 */
const BENCH_CLIENT = `clients:
  - name: bench
    key: ${BENCH_CLIENT_KEY}
    limits:
      requests_per_minute: 1000000
      tokens_per_minute: 1000000000
      tokens_per_day: 1000000000000
`;

/**
 * The per-IP rate limit of every llmproxy target: the largest the schema allows
 * (per_second ≤ 10,000, burst ≤ 20,000). wrk's connections all come from 127.0.0.1,
 * a trusted proxy, and name CLIENTS clients in `X-Forwarded-For` (lib/wrk.ts), so each
 * bucket sees a CLIENTS-th of the load: it binds only above CLIENTS × 10,000 req/s,
 * and the run counts 429s (`llmproxy_ratelimit_total`) so that it shows if it ever does.
 */
export const BENCH_RATE_LIMIT = { per_second: 10000, burst: 20000 } as const;

/** What differs between the llmproxy targets' configurations. */
export interface ConfigVariant {
  /** `client_auth: required` and {@link BENCH_CLIENT}. */
  readonly clients?: boolean;
  /** An explicit `state` block; absent means the default (memory). */
  readonly state?: { readonly store: "memory" } | {
    readonly store: "redis";
    readonly url: string;
  };
}

/**
 * The configuration every llmproxy target runs: the default settings of a production
 * config (retries on, a breaker on the upstream, a per-IP rate limit, usage accounting
 * on, the access log on) plus the variant's one difference. Ports may be placeholders
 * (the copy shown in RESULTS.md).
 */
export function configText(
  port: number | string,
  adminPort: number | string,
  upstreamPort: number | string,
  variant: ConfigVariant = {},
): string {
  const state = variant.state === undefined
    ? ""
    : variant.state.store === "memory"
    ? "state:\n  store: memory\n"
    : `state:\n  store: redis\n  redis:\n    url: ${variant.state.url}\n`;
  return `# llmproxy benchmark: a production config's defaults; one forward, one upstream.
http_server:
  forwards:
    - name: bench
      port: ${port}
      address: 127.0.0.1
      default_group: bench
      trusted_proxies: [127.0.0.1/32]
      ratelimit:
        per_second: ${BENCH_RATE_LIMIT.per_second}
        burst: ${BENCH_RATE_LIMIT.burst}${variant.clients ? "\n      client_auth: required" : ""}
  admin:
    port: ${adminPort}
    address: 127.0.0.1
upstreams:
  - name: upstream
    url: http://127.0.0.1:${upstreamPort}
    breaker:
      threshold: 0.5
      cooldown: 30
upstream_groups:
  - name: bench
    upstreams:
      - name: upstream
    http_client:
      retry:
        attempts: 2
${variant.clients ? BENCH_CLIENT : ""}${state}`;
}

function llmproxyConfig(
  ctx: Context,
  name: string,
  port: number,
  adminPort: number,
  variant: ConfigVariant,
): string {
  const path = `${ctx.tmp}/${name}.yaml`;
  Deno.writeTextFileSync(path, configText(port, adminPort, ctx.upstreamPort, variant));
  return path;
}

/** The `deno run …` command of deno.json's `start` task, with `deno` made absolute. */
function denoStartCommand(ctx: Context): string[] {
  const json = JSON.parse(Deno.readTextFileSync(`${ctx.repo}/deno.json`));
  const task: string = json.tasks?.start ?? "deno run -A src/adapters/deno/main.ts";
  const argv = task.trim().split(/\s+/);
  if (argv[0] === "deno") argv[0] = Deno.execPath();
  const runAt = argv.indexOf("run");
  if (ctx.denoFlags?.length) argv.splice(runAt + 1, 0, ...ctx.denoFlags);
  return argv;
}

/**
 * Token usage accounting in the daemon: `on` is the default; `off` starts it with
 * `LLMPROXY_USAGE_ACCOUNTING=off` (a switch that exists only to measure its cost).
 */
export type UsageAccounting = "on" | "off";

/** How one llmproxy target differs from the production config (at most one thing). */
interface LlmproxyVariant extends ConfigVariant {
  readonly usage?: UsageAccounting;
  /** The Redis the daemon shares state on (`state.store: redis`). */
  readonly redis?: RedisServer;
}

async function startLlmproxy(
  ctx: Context,
  name: string,
  argv: string[],
  detail: string,
  v: LlmproxyVariant = {},
): Promise<Running> {
  const usage = v.usage ?? "on";
  const port = freePort();
  const adminPort = freePort();
  const cfg = llmproxyConfig(ctx, name, port, adminPort, v);
  // The access log (one JSON line per request on stdout, always on in the daemon) goes
  // to a file, as a production log would, rather than through a pipe to this process.
  const accessLog = `${ctx.tmp}/${name}.access.log`;
  const proc = spawn(name, argv[0]!, [...argv.slice(1), "-c", cfg, "--shutdown-timeout", "2"], {
    cwd: ctx.repo,
    // Set either way, so an `off` in the runner's own environment cannot leak into `on`.
    env: { LLMPROXY_USAGE_ACCOUNTING: usage },
    stdoutFile: accessLog,
  });
  await waitFor(name, () => answers(`http://127.0.0.1:${adminPort}/ready`, 200), 30_000, proc);
  const state = v.state === undefined
    ? ""
    : v.state.store === "memory"
    ? "; state: store memory (explicit)"
    : `; state: store redis (${v.redis?.version ?? "redis-server"} started by the benchmark, ` +
      "--save '' --appendonly no)";
  return {
    port,
    headers: v.clients ? { authorization: `Bearer ${BENCH_CLIENT_KEY}` } : {},
    proc,
    adminPort,
    accessLog,
    ...(v.redis ? { redisPort: v.redis.port, helpers: [v.redis.proc] } : {}),
    detail: `${usage === "off" ? "LLMPROXY_USAGE_ACCOUNTING=off " : ""}${detail} -c <config>` +
      " (the production config; access log to a file in the temp dir)" +
      (v.clients
        ? "; client_auth: required, one client with requests_per_minute, tokens_per_minute" +
          " and tokens_per_day (never reached), Bearer key on every request"
        : "") +
      state,
  };
}

/** No proxy: the load goes straight to the upstream. */
export const direct: Target = {
  id: "direct",
  label: "direct (no proxy)",
  kind: "direct",
  runtime: "-",
  start: (ctx) =>
    Promise.resolve({ port: ctx.upstreamPort, headers: {}, detail: "bench/upstream.ts" }),
};

/** The target id of llmproxy on `runtime` with usage accounting `usage`. */
export function llmproxyId(runtime: "deno" | "node", usage: UsageAccounting): string {
  return `llmproxy-${runtime}${usage === "off" ? "-nousage" : ""}`;
}

/** llmproxy on Deno, started like `deno task start`, with `variant`. */
function denoTarget(
  id: string,
  label: string,
  variant: (ctx: Context) => Promise<LlmproxyVariant> | LlmproxyVariant,
): Target {
  return {
    id,
    label,
    kind: "llmproxy",
    runtime: "deno",
    async start(ctx) {
      const argv = denoStartCommand(ctx);
      const detail = ["deno", ...argv.slice(1)].join(" ");
      return await startLlmproxy(ctx, id, argv, detail, await variant(ctx));
    },
  };
}

/** llmproxy on Deno, started like `deno task start`. */
export const llmproxyDeno: Target = denoTarget("llmproxy-deno", "llmproxy (Deno)", () => ({}));

/** Where `baseline-deno` runs from: another checkout, e.g. `git worktree add /tmp/base HEAD~1`. */
const BASELINE = Deno.env.get("LLMPROXY_BENCH_BASELINE");

/**
 * `llmproxy-deno` as another checkout has it (`LLMPROXY_BENCH_BASELINE`), with the same
 * configuration: the before/after of a hot-path change in one run, interleaved with
 * the rest (listed only when the variable is set).
 */
export const baselineDeno: Target = {
  id: "baseline-deno",
  label: "llmproxy (Deno, baseline checkout)",
  kind: "llmproxy",
  runtime: "deno",
  async start(ctx) {
    const at = { ...ctx, repo: BASELINE! };
    const argv = denoStartCommand(at);
    const detail = `${BASELINE}: deno ${argv.slice(1).join(" ")}`;
    return await startLlmproxy(at, "baseline-deno", argv, detail, {});
  },
};

/** The target id of llmproxy on `runtime` with client keys and limits on. */
export function llmproxyClientsId(runtime: "deno" | "node"): string {
  return `llmproxy-${runtime}-clients`;
}

/** llmproxy on Deno as `llmproxy-deno`, with `client_auth: required` and a limited client. */
export const llmproxyDenoClients: Target = denoTarget(
  llmproxyClientsId("deno"),
  "llmproxy (Deno, client keys + limits)",
  () => ({ clients: true }),
);
/** The same with usage accounting off (`LLMPROXY_USAGE_ACCOUNTING=off`). */
export const llmproxyDenoNoUsage: Target = denoTarget(
  llmproxyId("deno", "off"),
  "llmproxy (Deno, usage off)",
  () => ({ usage: "off" }),
);

/** The benchmark's redis-server, started once per run when a fleet row first needs it. */
const redisServers = new Map<string, Promise<RedisServer>>();

async function redisFor(ctx: Context): Promise<RedisServer> {
  let p = redisServers.get(ctx.tmp);
  if (!p) {
    p = startRedis().then((r) => {
      ctx.log(`  redis-server on 127.0.0.1:${r.port} (pid ${r.proc.pid})`);
      return r;
    });
    redisServers.set(ctx.tmp, p);
  }
  try {
    return await p;
  } catch (e) {
    throw e instanceof NoRedis ? new Unavailable(e.message) : e;
  }
}

/** The fleet pair's target ids: Redis state store vs memory, otherwise `llmproxy-deno`. */
export const FLEET_IDS = { redis: "llmproxy-deno-redis", memory: "llmproxy-deno-memory" } as const;

/** llmproxy on Deno as `llmproxy-deno`, sharing its state on the benchmark's Redis. */
export const llmproxyDenoRedis: Target = denoTarget(
  FLEET_IDS.redis,
  "llmproxy (Deno, state on Redis)",
  async (ctx) => {
    const redis = await redisFor(ctx);
    return { redis, state: { store: "redis", url: `redis://127.0.0.1:${redis.port}` } };
  },
);

/**
 * The other half of the pair: `state.store: memory` spelt out. Without redis-server the
 * pair means nothing, so it is skipped too.
 */
export const llmproxyDenoMemory: Target = denoTarget(
  FLEET_IDS.memory,
  "llmproxy (Deno, state in memory)",
  async () => {
    const v = await run("redis-server", ["--version"]);
    if (v.code !== 0) {
      throw new Unavailable(
        "its pair needs redis-server, which is not installed (apt-get install -y redis-server)",
      );
    }
    return { state: { store: "memory" } };
  },
);

/**
 * The Node bundle, (re)built once per run when missing or older than `src/`: the targets
 * with usage accounting on and off (and their restarts) then run the same bundle.
 */
const nodeBundles = new Map<string, Promise<string>>();

function nodeBundle(ctx: Context): Promise<string> {
  const key = `${ctx.repo}\0${ctx.tmp}`;
  let p = nodeBundles.get(key);
  if (!p) {
    p = buildNodeBundle(ctx);
    nodeBundles.set(key, p);
  }
  return p;
}

/** Builds the bundle when needed; resolves to a note for the report ("" when fresh). */
async function buildNodeBundle(ctx: Context): Promise<string> {
  const bundle = `${ctx.repo}/dist/llmproxyd.mjs`;
  const entry = `${ctx.repo}/src/adapters/node/main.ts`;
  if (!exists(entry)) {
    if (!exists(bundle)) {
      throw new Unavailable(
        "src/adapters/node/main.ts does not exist yet and there is no dist/llmproxyd.mjs",
      );
    }
    return " (prebuilt bundle; no src/adapters/node/main.ts to rebuild from)";
  }
  const stale = exists(bundle) &&
    (Deno.statSync(bundle).mtime?.getTime() ?? 0) < newestMtime(`${ctx.repo}/src`);
  if (exists(bundle) && !stale) return "";
  ctx.log(`  building the Node bundle (deno task build:node)${stale ? ", it is stale" : ""}`);
  const b = await run(Deno.execPath(), ["task", "build:node"], { cwd: ctx.repo });
  if (b.code === 0) return "";
  const why = (b.stderr || b.stdout).trim().split("\n").slice(-6).join(" | ");
  if (!exists(bundle)) throw new Unavailable(`deno task build:node failed: ${why}`);
  return ` (STALE bundle: the rebuild failed: ${why})`;
}

/** llmproxy on Node (the `deno task build:node` bundle), with `variant`. */
function nodeTarget(id: string, label: string, variant: LlmproxyVariant): Target {
  return {
    id,
    label,
    kind: "llmproxy",
    runtime: "node",
    async start(ctx) {
      const note = await nodeBundle(ctx);
      return await startLlmproxy(
        ctx,
        id,
        ["node", `${ctx.repo}/dist/llmproxyd.mjs`],
        `node dist/llmproxyd.mjs${note}`,
        variant,
      );
    },
  };
}

/** llmproxy on Node: the `deno task build:node` bundle. */
export const llmproxyNode: Target = nodeTarget("llmproxy-node", "llmproxy (Node)", {});

/** `llmproxy-node` as the `LLMPROXY_BENCH_BASELINE` checkout has it (its own bundle). */
export const baselineNode: Target = {
  ...nodeTarget("baseline-node", "llmproxy (Node, baseline checkout)", {}),
  start: (ctx) => nodeTarget("baseline-node", "", {}).start({ ...ctx, repo: BASELINE! }),
};

/** llmproxy on Node as `llmproxy-node`, with `client_auth: required` and a limited client. */
export const llmproxyNodeClients: Target = nodeTarget(
  llmproxyClientsId("node"),
  "llmproxy (Node, client keys + limits)",
  { clients: true },
);
/** The same with usage accounting off (`LLMPROXY_USAGE_ACCOUNTING=off`). */
export const llmproxyNodeNoUsage: Target = nodeTarget(
  llmproxyId("node", "off"),
  "llmproxy (Node, usage off)",
  { usage: "off" },
);

/** `Deno.serve` + `fetch`, nothing else. */
export const ceilingDeno: Target = {
  id: "ceiling-deno",
  label: "ceiling (Deno.serve+fetch)",
  kind: "ceiling",
  runtime: "deno",
  async start(ctx) {
    const port = freePort();
    const proc = spawn("ceiling-deno", Deno.execPath(), [
      "run",
      ...(ctx.denoFlags ?? []),
      "--allow-net",
      `${ctx.repo}/bench/ceiling_deno.ts`,
      String(port),
      `http://127.0.0.1:${ctx.upstreamPort}`,
    ], { cwd: ctx.repo });
    await waitFor("ceiling-deno", () => answers(`http://127.0.0.1:${port}/`), 30_000, proc);
    return { port, headers: {}, proc, detail: "deno run --allow-net bench/ceiling_deno.ts" };
  },
};

/** `node:http` + `http.request` (or `undici.request`) piping, nothing else. */
export const ceilingNode: Target = {
  id: "ceiling-node",
  label: "ceiling (node:http)",
  kind: "ceiling",
  runtime: "node",
  async start(ctx) {
    const port = freePort();
    const proc = spawn("ceiling-node", "node", [
      `${ctx.repo}/bench/ceiling_node.mjs`,
      String(port),
      `http://127.0.0.1:${ctx.upstreamPort}`,
      ctx.nodeCeiling,
    ], { cwd: ctx.repo });
    await waitFor("ceiling-node", () => answers(`http://127.0.0.1:${port}/`), 30_000, proc);
    return {
      port,
      headers: {},
      proc,
      detail: `node bench/ceiling_node.mjs (${
        ctx.nodeCeiling === "http" ? "http.request piping" : "undici.request"
      }, keep-alive agent)`,
    };
  },
};

/** nginx as a reverse proxy with upstream keep-alive and no buffering. */
export const nginx: Target = {
  id: "nginx",
  label: "nginx",
  kind: "nginx",
  runtime: "c",
  async start(ctx) {
    const v = await run("nginx", ["-v"]);
    if (v.code !== 0) {
      throw new Unavailable("nginx is not installed (apt-get install -y nginx)");
    }
    const port = freePort();
    const prefix = `${ctx.tmp}/nginx`;
    Deno.mkdirSync(prefix, { recursive: true });
    const root = Deno.uid() === 0 ? "user root root;\n" : "";
    Deno.writeTextFileSync(
      `${prefix}/nginx.conf`,
      `${root}worker_processes ${ctx.nginxWorkers};
worker_rlimit_nofile 16384;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream llm {
    server 127.0.0.1:${ctx.upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://llm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }
  }
}
`,
    );
    const proc = spawn("nginx", "nginx", [
      "-p",
      `${prefix}/`,
      "-c",
      `${prefix}/nginx.conf`,
      "-e",
      `${prefix}/error.log`,
    ]);
    await waitFor("nginx", () => answers(`http://127.0.0.1:${port}/`), 15_000, proc);
    return {
      port,
      headers: {},
      proc,
      detail: `${
        v.stderr.trim().replace("nginx version: ", "")
      }, worker_processes ${ctx.nginxWorkers}, upstream keepalive 128, proxy_buffering off`,
    };
  },
};

/** The Portkey version the benchmark installs. */
export const PORTKEY_VERSION = "1.15.2";

/** The Portkey AI gateway from npm, bound to 127.0.0.1, forwarding to the upstream. */
export const portkey: Target = {
  id: "portkey",
  label: `Portkey gateway ${PORTKEY_VERSION}`,
  kind: "portkey",
  runtime: "node",
  async start(ctx) {
    const dir = `${ctx.cache}/portkey-${PORTKEY_VERSION}`;
    const server = `${dir}/node_modules/@portkey-ai/gateway/build/start-server.js`;
    if (!exists(server)) {
      ctx.log(`  installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir} (npm)`);
      Deno.mkdirSync(dir, { recursive: true });
      Deno.writeTextFileSync(
        `${dir}/package.json`,
        JSON.stringify(
          {
            name: "llmproxy-bench-portkey",
            private: true,
            type: "module",
            dependencies: { "@portkey-ai/gateway": PORTKEY_VERSION },
            // Later @hono/node-server releases buffer Portkey's streamed answers.
            overrides: { "@hono/node-server": "1.13.5" },
          },
          null,
          2,
        ),
      );
      const npm = await run("timeout", [
        "300",
        "npm",
        "install",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
      ], { cwd: dir });
      if (npm.code !== 0 || !exists(server)) {
        const why = (npm.stderr || npm.stdout).trim().split("\n").slice(-4).join(" | ");
        throw new Unavailable(`npm install @portkey-ai/gateway failed: ${why}`);
      }
    }
    const port = freePort();
    // start-server.js listens on every interface; the preload pins it to 127.0.0.1.
    const proc = spawn("portkey", "node", [
      "--import",
      `${ctx.repo}/bench/portkey_loopback.mjs`,
      server,
      `--port=${port}`,
      "--headless",
    ], { cwd: dir, env: { NODE_ENV: "production" } });
    await waitFor("portkey", () => answers(`http://127.0.0.1:${port}/`), 30_000, proc);
    return {
      port,
      headers: {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `http://127.0.0.1:${ctx.upstreamPort}/v1`,
        "authorization": "Bearer sk-bench",
      },
      proc,
      detail:
        `node build/start-server.js --headless (NODE_ENV=production, @hono/node-server 1.13.5, ` +
        `bound to 127.0.0.1 by bench/portkey_loopback.mjs; x-portkey-provider: openai + ` +
        `x-portkey-custom-host)`,
    };
  },
};

/** Every target, in the order of the report. */
export const ALL_TARGETS: readonly Target[] = [
  direct,
  llmproxyDeno,
  ...(BASELINE ? [baselineDeno] : []),
  llmproxyDenoNoUsage,
  llmproxyDenoClients,
  llmproxyDenoRedis,
  llmproxyDenoMemory,
  ceilingDeno,
  llmproxyNode,
  ...(BASELINE ? [baselineNode] : []),
  llmproxyNodeNoUsage,
  llmproxyNodeClients,
  ceilingNode,
  nginx,
  portkey,
];
