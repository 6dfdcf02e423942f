/**
 * Processes the benchmark starts, and what /proc says about them.
 *
 * @module
 */

/** A process the benchmark started; `stop` ends it by its PID. */
export class Proc {
  readonly name: string;
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: string[] = [];
  #exited: Deno.CommandStatus | undefined;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.pid = child.pid;
    this.status = child.status.then((s) => (this.#exited = s));
    void this.#drain();
  }

  /** Whether the process has ended. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /** The last few KiB it wrote to stderr (start-up failures). */
  get stderr(): string {
    return this.#stderr.join("").slice(-4000);
  }

  async #drain(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.#child.stderr) {
        this.#stderr.push(dec.decode(chunk, { stream: true }));
        if (this.#stderr.length > 64) this.#stderr.splice(0, this.#stderr.length - 64);
      }
    } catch {
      // the process is gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    try {
      Deno.kill(this.pid, "SIGTERM");
    } catch {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = await Promise.race([
      this.status.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), graceMs)),
    ]);
    clearTimeout(timer);
    if (killed && !this.exited) {
      try {
        Deno.kill(this.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await this.status;
    }
  }
}

/** Everything started so far, so a failure or Ctrl-C can stop it all by PID. */
export const started: Proc[] = [];

let refusing = false;

/**
 * From now on {@link spawn} throws: on Ctrl-C the measuring goes on while everything is
 * being stopped, and must not start a process (a restart, the fleet's Redis) after the
 * list of what to stop was taken.
 */
export function refuseNewProcesses(): void {
  refusing = true;
}

/**
 * Starts `cmd args` with stdout discarded (or appended to `stdoutFile`) and stderr kept
 * for diagnostics.
 */
export function spawn(
  name: string,
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdoutFile?: string } = {},
): Proc {
  if (refusing) throw new Error(`${name}: not started, the run is being stopped`);
  // Deno.Command cannot hand a file to a child as its stdout, so a shell opens it and
  // execs the command: the PID stays the command's own, to stop and to measure.
  const [c, a] = options.stdoutFile === undefined
    ? [cmd, args]
    : ["sh", ["-c", 'f=$1; shift; exec "$@" >>"$f"', "sh", options.stdoutFile, cmd, ...args]];
  const child = new Deno.Command(c, {
    args: a,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const p = new Proc(name, child);
  started.push(p);
  return p;
}

/** Stops every started process, newest first. */
export async function stopAll(): Promise<void> {
  for (const p of [...started].reverse()) await p.stop();
}

/** Runs a command to completion and returns its exit code and output. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: 127, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until `check` resolves true, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  proc?: Proc,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc?.exited) throw new Error(`${what}: process exited during start-up\n${proc.stderr}`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms${proc ? `\n${proc.stderr}` : ""}`);
}

/** True once `url` answers with `status` (any status when omitted). */
export async function answers(url: string, status?: number): Promise<boolean> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 1000);
  try {
    const res = await fetch(url, { signal: ac.signal });
    await res.body?.cancel();
    return status === undefined || res.status === status;
  } finally {
    clearTimeout(t);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The PIDs of `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = readStat(Number(e.name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e.name));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

interface Stat {
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** cutime + cstime: waited-for children, in clock ticks. */
  childTicks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // Fields after the command name, which may hold spaces and parentheses.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state); field n is f[n - 3].
  return {
    ppid: Number(f[1]),
    ticks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
  };
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
export const TICKS_PER_S = 100;

/** CPU seconds used so far by the processes of `pids` (and the children they reaped). */
export function cpuSeconds(pids: readonly number[]): number {
  let t = 0;
  for (const p of pids) {
    const st = readStat(p);
    if (st) t += st.ticks;
  }
  return t / TICKS_PER_S;
}

/** VmRSS in KiB of `pid`. */
export function rssKiB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Summed VmRSS in KiB of a process and its descendants (nginx master + worker). */
export function treeRssKiB(pid: number): number {
  return processTree(pid).reduce((s, p) => s + rssKiB(p), 0);
}

/** Busy and total CPU seconds of the whole machine so far (from /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_S, total: total / TICKS_PER_S };
}

/** Starts `bench/upstream.ts` in its own process on `port` and waits until it answers. */
export async function startUpstream(repo: string, port: number): Promise<Proc> {
  const upstream = spawn("upstream", Deno.execPath(), [
    "run",
    "--allow-net",
    `${repo}/bench/upstream.ts`,
    String(port),
  ], { cwd: repo });
  await waitFor(
    "upstream",
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.body?.cancel();
      return true;
    },
    30_000,
    upstream,
  );
  return upstream;
}
