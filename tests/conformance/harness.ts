/**
 * Black-box harness: starts a daemon (any runtime) from a config file, real mock
 * upstreams on 127.0.0.1, and helpers to drive them.
 */
import { MockLlm, type MockOptions } from "../../src/mock/mock_llm.ts";

/** How to start the daemon under test: argv before `-c FILE`. */
export interface DaemonCommand {
  readonly name: string;
  readonly argv: readonly string[];
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

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

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
    close: () => server.shutdown(),
  };
}

/** A running daemon. */
export class Daemon {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  readonly configPath: string;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<void>[];

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
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#pumps = [pump(this.child.stdout, this.lines), pump(this.child.stderr, this.errLines)];
    this.status = this.child.status;
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

  /** Stops the daemon by its PID and waits for it and its output. */
  async stop(): Promise<Deno.CommandStatus> {
    this.signal("SIGKILL");
    const s = await this.status;
    await Promise.all(this.#pumps);
    return s;
  }

  /** Waits for exit (after a signal) and the end of output. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.status;
    await Promise.all(this.#pumps);
    return s;
  }
}

async function pump(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  const dec = new TextDecoder();
  for await (const chunk of stream) {
    rest += dec.decode(chunk, { stream: true });
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      into.push(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  }
  if (rest) into.push(rest);
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
  const end = Date.now() + 20_000;
  let exited = false;
  d.status.then(() => exited = true);
  while (Date.now() < end) {
    if (exited) {
      await d.exited();
      throw new Error(`daemon exited early:\n${d.lines.join("\n")}\n${d.errLines.join("\n")}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      await r.body?.cancel();
      if (r.status === 200) return d;
    } catch { /* not yet */ }
    await delay(50);
  }
  await d.stop();
  throw new Error(`daemon not ready in time:\n${d.lines.join("\n")}\n${d.errLines.join("\n")}`);
}

/** Runs the daemon command to completion (for -t, bad usage, bad config). */
export async function runDaemonOnce(
  cmd: DaemonCommand,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = cmd.argv;
  const out = await new Deno.Command(exe!, {
    args: [...rest, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
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

/** POSTs a chat completion through the proxy. */
export function postChat(
  base: string,
  init: {
    stream?: boolean;
    headers?: Record<string, string>;
    path?: string;
    signal?: AbortSignal;
  } = {},
): Promise<Response> {
  return fetch(`${base}${init.path ?? "/v1/chat/completions"}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body: chat(init.stream ?? false),
    signal: init.signal,
  });
}

/** Reads a mock's stats through its own endpoint. */
export async function mockStats(m: RunningMock): Promise<Record<string, number>> {
  return await (await fetch(`${m.url}/__mock/stats`)).json();
}
