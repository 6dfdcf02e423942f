import { createAdminApp, isLoopbackAddress } from "../core/admin/mod.ts";
import { formatDiagnostic, loadConfig } from "../core/config/mod.ts";
import type { Config, ForwardConfig } from "../core/config/types.ts";
import { JsonLogger, type Logger } from "../core/log/logger.ts";
import { ProxyMetrics } from "../core/metrics/proxy_metrics.ts";
import { Gateway } from "../core/proxy/gateway.ts";
import { MockLlm } from "../mock/mock_llm.ts";
import { VERSION } from "../version.ts";
import { HELP, parseArgs, USAGE, UsageError } from "./args.ts";
import type { DaemonRuntime, Listener, ServeHandler } from "./runtime.ts";
import { describeState, openStateStore, sameState, shareAdminChanges } from "./state_store.ts";

/**
 * The `llmproxyd` process, shared by the Deno and Node adapters. Resolves with the exit
 * code once the process should end.
 */
export async function runDaemon(args: readonly string[], rt: DaemonRuntime): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    rt.stderr(`llmproxyd: ${e.message}`);
    rt.stderr(USAGE);
    return 2;
  }
  switch (cmd.kind) {
    case "help":
      rt.stdout(HELP);
      return 0;
    case "version":
      rt.stdout(`llmproxyd ${VERSION} (${rt.name})`);
      return 0;
    case "mock":
      return await runMock(rt, cmd.address, cmd.port, new MockLlm(cmd.mock));
    case "run":
      break;
  }

  const loaded = await readConfig(rt, cmd.config);
  if (cmd.test) {
    rt.stdout(
      loaded
        ? `llmproxyd: configuration ${cmd.config} is valid`
        : `llmproxyd: configuration ${cmd.config} is invalid`,
    );
    return loaded ? 0 : 1;
  }
  if (!loaded) return 1;
  const logger = new JsonLogger({
    level: cmd.debug ? "debug" : "info",
    write: (l) => rt.stdout(l),
  });
  return await serveConfig(rt, loaded, logger, {
    configPath: cmd.config,
    debug: cmd.debug,
    shutdownTimeout: cmd.shutdownTimeout,
  });
}

/** Reads and validates a config file; prints every diagnostic; undefined when invalid. */
export async function readConfig(rt: DaemonRuntime, path: string): Promise<Config | undefined> {
  let text: string;
  try {
    text = await rt.readTextFile(path);
  } catch (e) {
    rt.stderr(`${path}: cannot read configuration: ${e instanceof Error ? e.message : e}`);
    return undefined;
  }
  const result = loadConfig(text, { file: path, env: (n) => rt.env(n) });
  for (const w of result.warnings) rt.stderr(formatDiagnostic(path, w));
  if (!result.ok) {
    for (const e of result.errors) rt.stderr(formatDiagnostic(path, e));
    return undefined;
  }
  return result.config;
}

interface ServeSettings {
  readonly configPath: string;
  readonly debug: boolean;
  readonly shutdownTimeout: number;
}

const listenKey = (f: ForwardConfig) => `${f.name}\u0000${f.address}\u0000${f.port}`;

/** Binds the forwards and the admin listener and runs until SIGINT/SIGTERM. */
export async function serveConfig(
  rt: DaemonRuntime,
  config: Config,
  logger: Logger,
  settings: ServeSettings,
): Promise<number> {
  // `state.store: redis` shares limits with the fleet (docs/behaviour.md#redis); memory otherwise.
  const metrics = new ProxyMetrics();
  const built: { gateway?: Gateway } = {};
  const store = await openStateStore(config.state, logger, metrics, () => built.gateway);
  const gateway = new Gateway({
    config,
    transports: rt.transports(logger),
    logger,
    metrics,
    ...(store !== undefined ? { store } : {}),
    // Only for measuring its cost (bench/run.ts): budgets and token metrics need it.
    usageAccounting: rt.env("LLMPROXY_USAGE_ACCOUNTING") !== "off",
  });
  built.gateway = gateway;
  // Admin changes shared over the fleet; a stored live configuration wins over the file.
  const sharing = store !== undefined ? await shareAdminChanges(store, gateway, logger) : undefined;
  let ready = false;
  const forwards = new Map<string, Listener>();

  // The forward as the running configuration has it (a reload may change its limits).
  const forwardConfig = (name: string): ForwardConfig =>
    gateway.config.http_server.forwards.find((f) => f.name === name) ??
      config.http_server.forwards.find((f) => f.name === name)!;

  const handlerFor = (name: string): ServeHandler => (req, conn) =>
    gateway.handle(name, req, {
      remoteAddr: conn.remoteAddr,
      signal: conn.signal,
      ...(conn.completed ? { completed: conn.completed } : {}),
    });

  const bindForward = async (f: ForwardConfig): Promise<void> => {
    const l = await rt.serve({
      hostname: f.address,
      port: f.port,
      timeouts: () => ({ headMs: forwardConfig(f.name).timeout.connect * 1000 }),
      handler: handlerFor(f.name),
    });
    forwards.set(listenKey(f), l);
    logger.log("info", "forward listening", { forward: f.name, address: l.hostname, port: l.port });
  };

  const authToken = rt.env("LLMPROXY_ADMIN_AUTH_TOKEN");
  const admin = createAdminApp({
    gateway,
    ready: () => ready,
    debug: settings.debug,
    authToken,
    logger,
  });
  let adminListener: Listener;
  try {
    for (const f of config.http_server.forwards) await bindForward(f);
    const a = config.http_server.admin;
    adminListener = await rt.serve({
      hostname: a.address,
      port: a.port,
      timeouts: () => ({ headMs: gateway.config.http_server.admin.timeout.connect * 1000 }),
      handler: (req, conn) => admin.fetch(req, { remoteAddr: conn.remoteAddr }),
    });
    logger.log("info", "admin listening", {
      address: adminListener.hostname,
      port: adminListener.port,
    });
    if (!authToken?.trim() && !isLoopbackAddress(a.address)) {
      logger.log(
        "warn",
        "admin API listens beyond loopback without a token: set LLMPROXY_ADMIN_AUTH_TOKEN, " +
          "or bind http_server.admin.address to 127.0.0.1",
        { address: a.address, port: adminListener.port },
      );
    }
  } catch (e) {
    logger.log("error", "cannot start listeners", {
      error: e instanceof Error ? e.message : String(e),
    });
    await Promise.all([...forwards.values()].map((l) => l.close()));
    gateway.close();
    await store?.close();
    return 1;
  }
  ready = true;
  logger.log("info", "llmproxyd started", { version: VERSION, runtime: rt.name });

  // Listener set changes on SIGHUP: bind new forwards first so a failure keeps the old.
  const reload = async () => {
    const next = await readConfig(rt, settings.configPath);
    if (!next) {
      logger.log("error", "reload rejected: configuration invalid, keeping the running one", {
        file: settings.configPath,
      });
      return;
    }
    const wanted = new Map(next.http_server.forwards.map((f) => [listenKey(f), f]));
    const added: string[] = [];
    try {
      for (const [key, f] of wanted) {
        if (!forwards.has(key)) {
          await bindForward(f);
          added.push(key);
        }
      }
    } catch (e) {
      for (const key of added) {
        await forwards.get(key)?.close();
        forwards.delete(key);
      }
      logger.log("error", "reload rejected: cannot bind a new forward", {
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    // With a shared store, the file applies to this instance only (until the next admin change).
    if (sharing !== undefined) sharing.applyFromFile(next);
    else gateway.apply(next);
    if (!sameState(next.state, config.state)) {
      // The store (and its connection) is built once, at start.
      logger.log("warn", "state store settings change needs a restart; the running store stays", {
        running: describeState(config.state),
        configured: describeState(next.state),
      });
    }
    for (const [key, l] of forwards) {
      if (!wanted.has(key)) {
        forwards.delete(key);
        void l.shutdown();
      }
    }
    const a = next.http_server.admin;
    if (
      a.address !== config.http_server.admin.address || a.port !== config.http_server.admin.port
    ) {
      logger.log("warn", "admin listener address changes need a restart", {});
    }
    logger.log("info", "configuration reloaded", { file: settings.configPath });
  };

  const exitCode = await new Promise<number>((resolve) => {
    let draining = false;
    const drain = async (signal: string) => {
      if (draining) return;
      draining = true;
      ready = false;
      logger.log("info", "draining", { signal, timeout_s: settings.shutdownTimeout });
      const all = [...forwards.values()];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        Promise.all(all.map((l) => l.shutdown())).then(() => false),
        new Promise<boolean>((r) =>
          timer = setTimeout(() => r(true), settings.shutdownTimeout * 1000)
        ),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.log("warn", "shutdown timeout reached, aborting what remains", {});
        gateway.abortAll(new Error("shutting down"));
        await Promise.all(all.map((l) => l.close()));
      }
      await adminListener.shutdown();
      gateway.close();
      await store?.close();
      logger.log("info", "stopped", {});
      resolve(0);
    };
    rt.onSignal("SIGINT", () => void drain("SIGINT"));
    rt.onSignal("SIGTERM", () => void drain("SIGTERM"));
    rt.onSignal("SIGHUP", () => void reload());
  });
  return exitCode;
}

async function runMock(
  rt: DaemonRuntime,
  address: string,
  port: number,
  mock: MockLlm,
): Promise<number> {
  const l = await rt.serve({ hostname: address, port, handler: (req) => mock.fetch(req) });
  rt.stdout(
    JSON.stringify({
      msg: "mock upstream listening",
      name: mock.options.name,
      address: l.hostname,
      port: l.port,
    }),
  );
  await new Promise<void>((resolve) => {
    rt.onSignal("SIGINT", resolve);
    rt.onSignal("SIGTERM", resolve);
  });
  await l.close();
  return 0;
}
