/**
 * Deadlines for tests: every request, child process and polling loop a test starts
 * ends within a stated time, so a test that runs past its deadline fails with a message
 * naming what it was waiting for, instead of hanging the test run.
 *
 * Timers are always cleared, so Deno's sanitizers stay on.
 *
 * @module
 */

/** Thrown when a bounded wait runs past its deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** Deadline of one request (headers and body) unless a test says otherwise. */
export const REQUEST_DEADLINE_MS = 10_000;

/**
 * Resolves with `work`, or rejects with a {@linkcode DeadlineError} naming `what` once
 * `ms` have passed. `work` may be a function: it then gets a signal that fires at the
 * deadline, to release what it waits on. `onTimeout` runs at the deadline too (errors
 * and rejections are ignored): close sockets, kill processes, dispose servers.
 *
 * @example
 * ```ts ignore
 * await withDeadline(server.finished, 5_000, "server shutdown", () => server.close());
 * ```
 */
export async function withDeadline<T>(
  work: Promise<T> | ((signal: AbortSignal) => Promise<T>),
  ms: number,
  what: string,
  onTimeout?: () => unknown,
): Promise<T> {
  const expired = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineError(`${what}: no result within its ${ms} ms deadline`);
      expired.abort(error);
      try {
        Promise.resolve(onTimeout?.()).catch(() => {});
      } catch { /* best effort */ }
      reject(error);
    }, ms);
  });
  const running = typeof work === "function" ? work(expired.signal) : work;
  // A result that arrives after the deadline is dropped quietly.
  running.catch(() => {});
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A `fetch`-shaped function: the global one, or a test driver's (e.g. miniflare's). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Request options plus the deadline. */
export interface DeadlineInit extends RequestInit {
  /** Deadline in ms (default {@linkcode REQUEST_DEADLINE_MS}). */
  deadlineMs?: number;
  /** What the error message calls the request (default: method and URL). */
  what?: string;
  /** The fetch to use (default: the global `fetch`). */
  fetch?: FetchLike;
}

/**
 * `fetch` until the response head, within a deadline. The request carries an
 * `AbortSignal.timeout` of the same length (so a fetch that honours signals also ends
 * the body read), and the wait itself is bounded as well, for drivers that lose the
 * signal on the way. A response that arrives after the deadline has its body cancelled.
 * Callers that read the body should bound that too (or use {@linkcode fetchAll}).
 */
export function fetchWithDeadline(url: string, init: DeadlineInit = {}): Promise<Response> {
  const { deadlineMs = REQUEST_DEADLINE_MS, what, fetch: f = fetch, ...rest } = init;
  const timeout = AbortSignal.timeout(deadlineMs);
  const signal = rest.signal ? AbortSignal.any([rest.signal, timeout]) : timeout;
  const pending = f(url, { ...rest, signal });
  return withDeadline(
    pending,
    deadlineMs,
    what ?? `${rest.method ?? "GET"} ${url}`,
    () => pending.then((r) => r.body?.cancel()).catch(() => {}),
  );
}

/** A response read to its end. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
  text(): string;
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/**
 * `fetch` and read the whole body, both within one deadline; at the deadline the body
 * read is cancelled and the promise rejects with a {@linkcode DeadlineError}.
 */
export function fetchAll(url: string, init: DeadlineInit = {}): Promise<Answer> {
  const { deadlineMs = REQUEST_DEADLINE_MS, what, fetch: f = fetch, ...rest } = init;
  const name = what ?? `${rest.method ?? "GET"} ${url}`;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let expired = false;
  return withDeadline(
    async (deadline) => {
      const signal = rest.signal ? AbortSignal.any([rest.signal, deadline]) : deadline;
      const r = await f(url, { ...rest, signal });
      if (expired) {
        await r.body?.cancel().catch(() => {});
        throw new DeadlineError(`${name}: answered after its deadline`);
      }
      const body = r.body === null ? new Uint8Array() : await readAll(reader = r.body.getReader());
      return answer(r.status, r.headers, body);
    },
    deadlineMs,
    name,
    () => {
      expired = true;
      return reader?.cancel().catch(() => {});
    },
  );
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function answer(status: number, headers: Headers, body: Uint8Array): Answer {
  return {
    status,
    headers,
    body,
    text: () => new TextDecoder().decode(body),
    json: () => JSON.parse(new TextDecoder().decode(body)),
  };
}

/**
 * Polls `check` until it returns true, for at most `ms`; each check is bounded by what
 * is left of the deadline. Fails with a {@linkcode DeadlineError} that says what was
 * last seen (`describe`, or the last error a check threw).
 */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms: number,
  describe?: () => string | Promise<string>,
  intervalMs = 20,
): Promise<void> {
  const end = performance.now() + ms;
  let lastError: unknown;
  for (;;) {
    const left = Math.max(1, end - performance.now());
    try {
      if (await withDeadline(Promise.resolve().then(check), left, what)) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() >= end) {
      let seen = "";
      if (describe) seen = await Promise.resolve().then(describe).catch((e) => String(e));
      else if (lastError !== undefined) seen = String(lastError);
      throw new DeadlineError(`${what}: not true within ${ms} ms${seen ? `; saw ${seen}` : ""}`);
    }
    await new Promise((r) =>
      setTimeout(r, Math.min(intervalMs, Math.max(1, end - performance.now())))
    );
  }
}

/**
 * Kills a child process by its PID (through its handle, so a PID reused after the
 * child was reaped is never hit); an already-gone process is not an error.
 */
export function killChild(child: Deno.ChildProcess, signal: Deno.Signal = "SIGKILL"): void {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
}

/**
 * Waits for a child process to exit, at most `ms`; on expiry kills it by PID (SIGKILL),
 * waits a little for the exit to be reaped, and rejects with a {@linkcode DeadlineError}.
 */
export async function waitChild(
  child: Deno.ChildProcess,
  ms: number,
  what: string,
): Promise<Deno.CommandStatus> {
  try {
    return await withDeadline(child.status, ms, what, () => killChild(child));
  } catch (e) {
    // Reap the killed process, so no resource is left behind.
    await withDeadline(child.status, 5_000, `${what} (killed)`).catch(() => {});
    throw e;
  }
}

/** Output of a finished child process. */
export interface ChildOutput {
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end within `ms`, collecting its output; past the deadline it is
 * killed by PID and the promise rejects (with what it printed so far).
 */
export async function runWithDeadline(
  command: string,
  options: Omit<Deno.CommandOptions, "stdout" | "stderr" | "stdin"> & { stdin?: "null" },
  ms: number,
  what = command,
): Promise<ChildOutput> {
  const child = new Deno.Command(command, {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const output = () => Promise.all([stdout.text, stderr.text]);
  const cancelOutput = () => Promise.all([stdout.cancel(), stderr.cancel()]);
  let status: Deno.CommandStatus;
  try {
    status = await waitChild(child, ms, what);
  } catch (e) {
    const [out, err] = await withDeadline(output(), 2_000, `${what} output`, cancelOutput)
      .catch(() => ["", ""]);
    throw new DeadlineError(`${(e as Error).message}\nstdout:\n${out}\nstderr:\n${err}`);
  }
  // A grandchild holding the pipes open must not keep the test waiting either.
  const [out, err] = await withDeadline(output(), 5_000, `${what} output`, cancelOutput);
  return { code: status.code, success: status.success, stdout: out, stderr: err };
}

/** Reads a stream to its end as text; `cancel` ends the read early (keeping what came). */
export function collect(
  stream: ReadableStream<Uint8Array>,
): { text: Promise<string>; cancel(): Promise<void> } {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
    } catch { /* cancelled or broken: keep what came */ }
    return text + dec.decode();
  })();
  return { text: done, cancel: () => reader.cancel().catch(() => {}) };
}
