/**
 * Black-box harness: starts a daemon (any runtime) from a config file, real mock
 * upstreams on 127.0.0.1, and helpers to drive them.
 *
 * Every wait here has a deadline (tests/deadline.ts): requests carry a timeout, waits
 * on the daemon kill it by PID when they expire, polling loops stop.
 */
import { MockLlm, type MockOptions } from "../../src/mock/mock_llm.ts";
import {
  DeadlineError,
  fetchAll,
  killChild,
  runWithDeadline,
  waitChild,
  withDeadline,
} from "../deadline.ts";

/** How long a daemon may take to become ready. */
const START_DEADLINE_MS = 20_000;
/** How long a daemon may take to exit after a signal, unless the test says otherwise. */
const EXIT_DEADLINE_MS = 20_000;
/** How long a one-shot daemon command (`-t`, bad usage) may run. */
const RUN_ONCE_DEADLINE_MS = 30_000;
/** Deadline of a chat request (head and body), unless the test passes a signal. */
const CHAT_DEADLINE_MS = 30_000;

/** How to start the daemon under test: argv before `-c FILE`. */
export interface DaemonCommand {
  readonly name: string;
  readonly argv: readonly string[];
  /** Environment every daemon of this command gets (before a test's own). */
  readonly env?: Readonly<Record<string, string>>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** The Deno daemon, as `deno task start` runs it. */
export const DENO_DAEMON: DaemonCommand = {
  name: "deno",
  argv: [
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    `--config=${ROOT}deno.json`,
    `${ROOT}src/adapters/deno/main.ts`,
  ],
};

/**
 * The Deno daemon with every upstream request sent through `fetch` (what `https:`
 * upstreams and outbound proxies use), so that path is tested against local `http:` mocks.
 */
export const DENO_FETCH_DAEMON: DaemonCommand = {
  ...DENO_DAEMON,
  name: "deno-fetch",
  env: { LLMPROXY_DENO_HTTP1: "off" },
};

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freePort(): number {
  // The kernel may hand the same ephemeral port out again once it was closed: never
  // return one this process already handed out (two forwards on one port fail to start).
  for (let i = 0; i < 100; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free loopback port that was not handed out before, after 100 tries");
}

const handedOut = new Set<number>();

/** A mock upstream served in this process. */
export interface RunningMock {
  readonly mock: MockLlm;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a mock LLM upstream on 127.0.0.1. */
export function startMock(options: Partial<MockOptions> = {}): RunningMock {
  const mock = new MockLlm(options);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => mock.fetch(req),
  );
  const port = server.addr.port;
  return {
    mock,
    port,
    url: `http://127.0.0.1:${port}`,
    // Shutdown waits for requests still being answered: bounded, so a stream that never
    // ends fails the test instead of hanging it.
    close: () =>
      withDeadline(server.shutdown(), 10_000, `shutdown of mock ${options.name ?? port}`),
  };
}

/** A running daemon. */
export class Daemon {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  readonly configPath: string;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pumps: Pump[];

  constructor(
    cmd: DaemonCommand,
    configPath: string,
    extraArgs: string[],
    env: Record<string, string>,
  ) {
    this.configPath = configPath;
    const [exe, ...args] = cmd.argv;
    this.child = new Deno.Command(exe!, {
      args: [...args, "-c", configPath, ...extraArgs],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1", ...cmd.env, ...env },
    }).spawn();
    this.#pumps = [pump(this.child.stdout, this.lines), pump(this.child.stderr, this.errLines)];
    this.status = this.child.status;
  }

  /** The daemon's process id (it is stopped by it). */
  get pid(): number {
    return this.child.pid;
  }

  /** Parsed JSON log records. */
  records(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.lines) {
      try {
        out.push(JSON.parse(l));
      } catch { /* not a log record */ }
    }
    return out;
  }

  /** Access log records so far. */
  access(): Record<string, unknown>[] {
    return this.records().filter((r) => r.msg === "access");
  }

  /** Waits until a log line matches. */
  async waitFor(pred: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      await delay(20);
    }
    throw new Error(
      `timed out waiting for a log line; stdout:\n${this.lines.join("\n")}\nstderr:\n${
        this.errLines.join("\n")
      }`,
    );
  }

  signal(sig: Deno.Signal): void {
    try {
      this.child.kill(sig);
    } catch { /* already gone */ }
  }

  /** Stops the daemon by its PID (SIGKILL) and waits (bounded) for it and its output. */
  async stop(): Promise<Deno.CommandStatus> {
    killChild(this.child);
    const s = await waitChild(this.child, 10_000, `daemon ${this.pid} after SIGKILL`);
    await this.#drain();
    return s;
  }

  /**
   * Waits for exit (after a signal) and the end of output, at most `ms`; past that the
   * daemon is killed by its PID and the wait fails with what it printed.
   */
  async exited(ms = EXIT_DEADLINE_MS): Promise<Deno.CommandStatus> {
    let s: Deno.CommandStatus;
    try {
      s = await waitChild(this.child, ms, `daemon ${this.pid} exit`);
    } catch (e) {
      await this.#drain();
      throw new DeadlineError(`${(e as Error).message} (killed)\n${this.#output()}`);
    }
    await this.#drain();
    return s;
  }

  /** The end of output; a grandchild holding the pipes open is cut off after 5 s. */
  async #drain(): Promise<void> {
    await withDeadline(
      Promise.all(this.#pumps.map((p) => p.done)),
      5_000,
      `daemon ${this.pid} output`,
      () => Promise.all(this.#pumps.map((p) => p.cancel())),
    ).catch(() => {});
  }

  #output(): string {
    return `stdout:\n${this.lines.join("\n")}\nstderr:\n${this.errLines.join("\n")}`;
  }
}

/** A stream read line by line into an array, which can be cut off. */
interface Pump {
  readonly done: Promise<void>;
  cancel(): Promise<void>;
}

function pump(stream: ReadableStream<Uint8Array>, into: string[]): Pump {
  const reader = stream.getReader();
  const done = (async () => {
    let rest = "";
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += dec.decode(value, { stream: true });
        let i;
        while ((i = rest.indexOf("\n")) >= 0) {
          into.push(rest.slice(0, i));
          rest = rest.slice(i + 1);
        }
      }
    } catch { /* cut off: keep what came */ }
    if (rest) into.push(rest);
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}) };
}

/** Writes a config file and starts a daemon; resolves once `/ready` answers 200. */
export async function startDaemon(
  cmd: DaemonCommand,
  yaml: string,
  adminPort: number,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-conf-" });
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(path, yaml);
  const d = new Daemon(cmd, path, options.args ?? [], options.env ?? {});
  const end = Date.now() + START_DEADLINE_MS;
  let exited = false;
  d.status.then(() => exited = true);
  while (Date.now() < end) {
    if (exited) {
      await d.exited();
      throw new Error(`daemon exited early:\n${d.lines.join("\n")}\n${d.errLines.join("\n")}`);
    }
    try {
      const r = await fetchAll(`http://127.0.0.1:${adminPort}/ready`, {
        deadlineMs: Math.max(1, Math.min(2_000, end - Date.now())),
      });
      if (r.status === 200) return d;
    } catch { /* not yet */ }
    await delay(50);
  }
  await d.stop();
  throw new DeadlineError(
    `daemon not ready within ${START_DEADLINE_MS} ms:\n${d.lines.join("\n")}\n${
      d.errLines.join("\n")
    }`,
  );
}

/**
 * Runs the daemon command to completion (for -t, bad usage, bad config), at most `ms`;
 * past that it is killed by its PID and the call fails.
 */
export async function runDaemonOnce(
  cmd: DaemonCommand,
  args: string[],
  ms = RUN_ONCE_DEADLINE_MS,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = cmd.argv;
  const out = await runWithDeadline(
    exe!,
    {
      args: [...rest, ...args],
      env: { NO_COLOR: "1" },
    },
    ms,
    `${cmd.name} ${args.join(" ")}`,
  );
  return { code: out.code, stdout: out.stdout, stderr: out.stderr };
}

/** Sleeps (only for waiting on real processes, never for logic under test). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A chat completion request body. */
export function chat(stream = false, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: "m",
    stream,
    messages: [{ role: "user", content: "hi" }],
    ...extra,
  });
}

/**
 * POSTs a chat completion through the proxy. The request (head and body) is aborted
 * after `deadlineMs` (default 30 s), also when the test passes a signal of its own.
 */
export function postChat(
  base: string,
  init: {
    stream?: boolean;
    headers?: Record<string, string>;
    path?: string;
    signal?: AbortSignal;
    deadlineMs?: number;
  } = {},
): Promise<Response> {
  const timeout = AbortSignal.timeout(init.deadlineMs ?? CHAT_DEADLINE_MS);
  return fetch(`${base}${init.path ?? "/v1/chat/completions"}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body: chat(init.stream ?? false),
    signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
  });
}

/** Reads a mock's stats through its own endpoint (within 5 s). */
export async function mockStats(m: RunningMock): Promise<Record<string, number>> {
  const r = await fetchAll(`${m.url}/__mock/stats`, {
    deadlineMs: 5_000,
    what: `stats of mock ${m.url}`,
  });
  if (r.status !== 200) throw new Error(`stats of mock ${m.url}: status ${r.status}`);
  return r.json();
}
