/**
 * The worker's request handling: configuration from the `LLMPROXY_CONFIG` binding,
 * forward selection by host name, the admin API under a path prefix, and the live
 * configuration kept in step with the {@linkcode ConfigObject} across isolates.
 *
 * Everything here is plain web-platform code; `worker.ts` adds the Durable Object
 * classes (which need `cloudflare:workers`).
 *
 * @module
 */

import type { ClientLimiterObject } from "./client_object.ts";
import { createAdminApp } from "../../core/admin/app.ts";
import { bearerToken, tokenChecker } from "../../core/admin/auth.ts";
import { AdminError, errorResponse as adminErrorResponse } from "../../core/admin/envelope.ts";
import { adminSubpath, normalizeAdminPrefix } from "../../core/admin/prefix.ts";
import { isUiShell } from "../../core/admin/ui/mod.ts";
import { formatDiagnostic, loadConfig, validateConfig } from "../../core/config/mod.ts";
import type { Config } from "../../core/config/types.ts";
import { JsonLogger, type Logger, type LogLevel } from "../../core/log/logger.ts";
import { errorResponse } from "../../core/proxy/errors.ts";
import { Gateway } from "../../core/proxy/gateway.ts";
import { ForwardsByHost } from "../../core/proxy/host_forward.ts";
import { fetchTransport } from "../../core/proxy/transport.ts";
import type { ConfigObject, GroupStateObject, RateLimiterObject } from "./durable_objects.ts";
import { DurableStateStore } from "./state_store.ts";

/**
 * Nothing listens on ports on Workers (forwards are told apart by `hosts`), so forwards
 * may share a port, e.g. all keep the default. State is always in Durable Objects
 * there, so `state.store: redis` is refused (docs/behaviour.md#durable-objects).
 */
const WORKERS_VALIDATION = { checkListeners: false, redisStore: false } as const;
import type { DurableObjectNamespace, ExecutionContext } from "./types.ts";
import { fnv1a, rpc } from "./wire.ts";

/** The worker's bindings (wrangler.toml `[vars]`, secrets, Durable Objects). */
export interface WorkerEnv {
  /** The YAML configuration (a var, or better a secret). Required. */
  readonly LLMPROXY_CONFIG?: string;
  /** The forward that answers host names no forward claims (default: the first). */
  readonly LLMPROXY_FORWARD?: string;
  /** Enables the admin API; every admin call but health and ready must carry it. */
  readonly LLMPROXY_ADMIN_AUTH_TOKEN?: string;
  /** Where the admin API lives (default `/_llmproxy`). */
  readonly LLMPROXY_ADMIN_PREFIX?: string;
  /** How often an isolate asks for a newer live configuration, in ms (default 1000). */
  readonly LLMPROXY_CONFIG_REFRESH_MS?: string;
  /** `durable` (default when bound) or `memory` (per isolate, nothing shared). */
  readonly LLMPROXY_STATE?: string;
  /** `debug`, `info` (default), `warn` or `error`. */
  readonly LLMPROXY_LOG_LEVEL?: string;
  /** `true`: debug logs and the interactive API docs. */
  readonly LLMPROXY_DEBUG?: string;
  readonly RATE_LIMITER?: DurableObjectNamespace<RateLimiterObject>;
  /**
   * One object per client: client request and token limits
   * (docs/behaviour.md#client-keys-and-limits).
   */
  readonly CLIENT_LIMITS?: DurableObjectNamespace<ClientLimiterObject>;
  readonly GROUP_STATE?: DurableObjectNamespace<GroupStateObject>;
  readonly CONFIG_STORE?: DurableObjectNamespace<ConfigObject>;
  readonly [name: string]: unknown;
}

const DEFAULT_REFRESH_MS = 1000;
const CONFIG_OBJECT = "live-config";
const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** Everything an isolate builds once from its bindings and keeps across requests. */
class Isolate {
  readonly text: string;
  readonly base: string;
  readonly gateway: Gateway;
  readonly admin: { fetch(request: Request): Response | Promise<Response> };
  readonly logger: Logger;
  readonly prefix: string;
  readonly refreshMs: number;
  readonly authToken: string | undefined;
  readonly checkToken: ((offered: string) => Promise<boolean>) | undefined;
  readonly #env: WorkerEnv;
  readonly #baseConfig: Config;
  /** Version of the live configuration in force here (0: the deployed text as is). */
  version = 0;
  #checkedAt = Number.NEGATIVE_INFINITY;
  readonly #hosts: ForwardsByHost;
  #warnedPreferred = false;

  constructor(env: WorkerEnv, text: string, config: Config, logger: Logger) {
    this.#env = env;
    this.text = text;
    this.base = fnv1a(text);
    this.#baseConfig = config;
    this.logger = logger;
    this.prefix = normalizeAdminPrefix(env.LLMPROXY_ADMIN_PREFIX);
    this.#hosts = new ForwardsByHost(env.LLMPROXY_FORWARD);
    const refresh = Number(env.LLMPROXY_CONFIG_REFRESH_MS ?? DEFAULT_REFRESH_MS);
    this.refreshMs = Number.isFinite(refresh) && refresh >= 0 ? refresh : DEFAULT_REFRESH_MS;
    const token = env.LLMPROXY_ADMIN_AUTH_TOKEN;
    this.authToken = token === undefined || token === "" ? undefined : token;
    if (this.authToken !== undefined) {
      const checker = tokenChecker(this.authToken);
      this.checkToken = (offered) => checker.matches(offered);
    } else {
      this.checkToken = undefined;
    }
    const durable = env.LLMPROXY_STATE !== "memory" && env.RATE_LIMITER !== undefined &&
      env.GROUP_STATE !== undefined;
    if (env.LLMPROXY_STATE !== "memory" && !durable) {
      logger.log(
        "warn",
        "Durable Object bindings RATE_LIMITER/GROUP_STATE missing: state is per isolate",
        {},
      );
    }
    this.gateway = new Gateway({
      config,
      transports: () => fetchTransport((input, init) => fetch(input, init)),
      logger,
      ...(durable
        ? {
          store: new DurableStateStore(
            {
              rateLimiter: env.RATE_LIMITER!,
              groups: env.GROUP_STATE!,
              ...(env.CLIENT_LIMITS ? { clients: env.CLIENT_LIMITS } : {}),
            },
            logger,
          ),
        }
        : {}),
    });
    this.admin = createAdminApp({
      gateway: this.gateway,
      ready: () => true,
      debug: isTrue(env.LLMPROXY_DEBUG),
      authToken: this.authToken,
      logger,
      validate: WORKERS_VALIDATION,
      statsScope: { figures: "isolate", sharedState: durable ? "durable_objects" : "memory" },
    });
  }

  /** The forward for a host name: its `hosts`, else `LLMPROXY_FORWARD`, else the first. */
  forwardFor(hostname: string): string {
    const match = this.#hosts.forwardFor(this.gateway.config, hostname);
    if (match.preferredMissing && !this.#warnedPreferred) {
      this.#warnedPreferred = true;
      this.logger.log("warn", "LLMPROXY_FORWARD names no forward; using the first", {
        forward: this.#env.LLMPROXY_FORWARD,
      });
    }
    return match.forward;
  }

  /**
   * Brings the live configuration up to date with the config object: at most once per
   * `refreshMs` (always when `force`). A failure keeps the configuration in force.
   */
  async refresh(force = false): Promise<void> {
    const ns = this.#env.CONFIG_STORE;
    if (ns === undefined) return;
    const now = Date.now();
    if (!force && now - this.#checkedAt < this.refreshMs) return;
    this.#checkedAt = now;
    let read;
    try {
      read = await rpc(ns.get(ns.idFromName(CONFIG_OBJECT)).read(this.base, this.version));
    } catch (e) {
      this.logger.log("warn", "live configuration check failed; keeping the one in force", {
        error: errorText(e),
      });
      return;
    }
    if (read.version === this.version) return;
    if (read.version === 0) {
      this.gateway.apply(this.#baseConfig);
      this.version = 0;
      return;
    }
    const v = validateConfig(read.config, WORKERS_VALIDATION);
    this.version = read.version;
    if (!v.ok) {
      this.logger.log("error", "stored live configuration is invalid; keeping the one in force", {
        version: read.version,
        errors: v.errors.map((d) => `${d.path}: ${d.message}`),
      });
      return;
    }
    this.gateway.apply(v.config);
    this.logger.log("info", "live configuration reloaded", { version: read.version });
  }

  /** Stores the configuration in force as the next version; false when another won. */
  async persist(expected: number): Promise<boolean> {
    const ns = this.#env.CONFIG_STORE;
    if (ns === undefined) {
      this.logger.log(
        "warn",
        "no CONFIG_STORE binding: the admin change stays in this isolate",
        {},
      );
      return true;
    }
    const w = await rpc(
      ns.get(ns.idFromName(CONFIG_OBJECT)).write(this.base, expected, this.gateway.config),
    );
    if (w.ok) this.version = w.version;
    return w.ok;
  }
}

let isolate: Isolate | undefined;
let failedText: string | undefined;

/** The module worker's `fetch`. */
export async function handleRequest(
  request: Request,
  env: WorkerEnv,
  ctx: ExecutionContext,
): Promise<Response> {
  const iso = isolateFor(env);
  if (iso instanceof Response) return iso;
  const url = new URL(request.url);
  const sub = adminSubpath(url.pathname, iso.prefix);
  if (sub !== undefined) return await handleAdmin(iso, request, url, sub);

  // request.signal (enable_request_signal) fires when the client goes away, also
  // mid-stream: the pipeline then aborts the upstream fetch, and the end of the body
  // hands the release of the member's slot to ctx.waitUntil. workerd runs that clean-up
  // only while something keeps the request alive, hence the wait registered on abort
  // (until the pipeline has seen the end, at most 10 s).
  let cleanedUp!: () => void;
  const cleanup = new Promise<void>((resolve) => cleanedUp = resolve);
  const onAbort = () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => timer = setTimeout(resolve, 10_000));
    ctx.waitUntil(Promise.race([cleanup, cap]).finally(() => clearTimeout(timer)));
  };
  request.signal.addEventListener("abort", onAbort, { once: true });
  await iso.refresh();
  const forward = iso.forwardFor(url.hostname);
  try {
    const response = await iso.gateway.handle(forward, request, {
      remoteAddr: request.headers.get("cf-connecting-ip") ?? "0.0.0.0",
      signal: request.signal,
      proto: url.protocol.slice(0, -1),
      waitUntil: (p) => {
        ctx.waitUntil(p);
        cleanedUp();
      },
    });
    // A client gone before the answer: the pipeline has cleaned up already.
    if (request.signal.aborted) cleanedUp();
    return response;
  } catch (e) {
    cleanedUp();
    iso.logger.log("error", "request failed", { forward, error: errorText(e) });
    return errorResponse("state_unavailable", "the proxy's shared state did not answer; retry");
  }
}

/** The isolate for these bindings, built on first use and when the text changes. */
function isolateFor(env: WorkerEnv): Isolate | Response {
  const text = env.LLMPROXY_CONFIG;
  if (isolate !== undefined && isolate.text === text) return isolate;
  const logger = new JsonLogger({ level: logLevel(env) });
  if (typeof text !== "string" || text.trim() === "") {
    return errorResponse(
      "config_missing",
      "LLMPROXY_CONFIG is not set: wrangler secret put LLMPROXY_CONFIG < config.yaml",
    );
  }
  const result = loadConfig(text, {
    ...WORKERS_VALIDATION,
    file: "LLMPROXY_CONFIG",
    env: (name) => typeof env[name] === "string" ? env[name] as string : undefined,
  });
  // Diagnostics go to the log once per text (they may quote values; never to clients).
  const report = failedText !== text && (isolate === undefined || isolate.text !== text);
  if (report) {
    for (const w of result.warnings) console.warn(formatDiagnostic("LLMPROXY_CONFIG", w));
  }
  if (!result.ok) {
    if (failedText !== text) {
      for (const e of result.errors) console.error(formatDiagnostic("LLMPROXY_CONFIG", e));
      failedText = text;
    }
    return errorResponse(
      "config_invalid",
      `LLMPROXY_CONFIG is invalid (${result.errors.length} error(s)); see the worker's logs`,
    );
  }
  isolate = new Isolate(env, text, result.config, logger);
  logger.log("info", "llmproxy worker configured", {
    forwards: result.config.http_server.forwards.length,
    groups: result.config.upstream_groups.length,
  });
  return isolate;
}

/** Admin calls: refused unless a token is set; changes are stored before answering. */
async function handleAdmin(
  iso: Isolate,
  request: Request,
  url: URL,
  sub: string,
): Promise<Response> {
  if (iso.authToken === undefined) {
    return adminError(
      404,
      "the admin API is disabled on this worker: set the LLMPROXY_ADMIN_AUTH_TOKEN secret " +
        "(wrangler secret put LLMPROXY_ADMIN_AUTH_TOKEN) to enable it",
    );
  }
  // Health and readiness stay open for probes; everything else needs the token, also
  // outside /api/v1 (metrics), since a worker's admin shares the public host name. The
  // check comes first so that unauthenticated calls cost no Durable Object round trip.
  // The dashboard's static page and assets are open too: the page asks for the token.
  if (sub !== "/health" && sub !== "/ready" && !isUiShell(request.method, sub)) {
    const offered = bearerToken(request.headers.get("authorization"));
    if (offered === undefined || !(await iso.checkToken!(offered))) {
      return adminError(401, "missing or wrong bearer token", {
        "www-authenticate": "Bearer",
      });
    }
  }
  const mutates = request.method !== "GET" && request.method !== "HEAD";
  if (mutates) await iso.refresh(true);
  else await iso.refresh();
  const before = iso.gateway.config;
  const expected = iso.version;
  const inner = new Request(new URL(sub + url.search, url), request);
  const response = await iso.admin.fetch(inner);
  if (iso.gateway.config === before) return response;
  let stored = false;
  try {
    stored = await iso.persist(expected);
  } catch (e) {
    iso.logger.log("error", "storing the live configuration failed", { error: errorText(e) });
  }
  if (stored) return response;
  // Another isolate changed the configuration first: take its version, refuse ours.
  await iso.refresh(true);
  await response.body?.cancel();
  return adminError(
    409,
    "the configuration was changed concurrently (or could not be stored); read it again and retry",
  );
}

function logLevel(env: WorkerEnv): LogLevel {
  const l = env.LLMPROXY_LOG_LEVEL?.toLowerCase();
  if (l !== undefined && LEVELS.has(l)) return l as LogLevel;
  return isTrue(env.LLMPROXY_DEBUG) ? "debug" : "info";
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function adminError(status: 401 | 404 | 409, message: string, headers?: HeadersInit): Response {
  return adminErrorResponse(new AdminError(status, message), headers);
}
