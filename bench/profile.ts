/**
 * CPU profile of the llmproxy Deno daemon under the benchmark's load:
 * `deno run -A bench/profile.ts [--target=llmproxy|clients|ceiling] [--duration=S] [--connections=N]
 * [--sse] [--top=N] [--keep=DIR]`
 *
 * Starts the bench upstream and `llmproxyd` (like `deno task start`, plus `--cpu-prof`),
 * or with `--target=ceiling` the Deno ceiling (bench/ceiling_deno.ts) for comparison
 * (`--target=clients`: llmproxy with client keys and limits, as `llmproxy-deno-clients`),
 * warms up, drives wrk against it (or, with `--sse`, streams completions), stops the
 * daemon with SIGTERM so V8 writes the profile, and prints where the time went: self
 * time by function, by source file, and inclusive time of the proxy's own functions.
 * `--keep=DIR` keeps the .cpuprofile (open it in Chrome DevTools → Performance).
 *
 * @module
 */
import { freePort, startUpstream, stopAll } from "./lib/proc.ts";
import { openIdleStreams, SseClient } from "./lib/sse.ts";
import { ceilingDeno, type Context, llmproxyDeno, llmproxyDenoClients } from "./lib/targets.ts";
import { writeScript, wrk } from "./lib/wrk.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
/** The parts of a `.cpuprofile` that are used. */
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const opt = (name: string, fallback: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const duration = Number(opt("duration", "10"));
const connections = Number(opt("connections", "64"));
const top = Number(opt("top", "30"));
const keep = opt("keep", "");
const sseMode = Deno.args.includes("--sse");
const targetOpt = opt("target", "llmproxy");
const which = targetOpt === "ceiling"
  ? ceilingDeno
  : targetOpt === "clients"
  ? llmproxyDenoClients
  : llmproxyDeno;

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
let tmp = "";

function short(url: string): string {
  if (!url) return "(native/V8)";
  const i = url.indexOf("/work/main/");
  if (url.startsWith("file://") && i >= 0) return url.slice(i + "/work/main/".length);
  const nm = url.match(/node_modules\/(?:\.deno\/)?([^/]+)/);
  if (nm) return `npm:${nm[1]}`;
  return url.replace(/^ext:/, "ext:");
}

/** Where the time of a V8 CPU profile went, as Markdown tables. */
export function summarize(p: Profile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${
      n.callFrame.lineNumber + 1
    }`;
  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    selfByFn.set(key(n), (selfByFn.get(key(n)) ?? 0) + t);
    const f = n.callFrame.url ? short(n.callFrame.url) : n.callFrame.functionName;
    selfByFile.set(f, (selfByFile.get(f) ?? 0) + t);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (!seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + t);
      }
    }
  }
  const pct = (t: number) => `${((t / total) * 100).toFixed(1)}%`;
  const rows = (m: Map<string, number>, n: number, filter?: (k: string) => boolean) =>
    [...m.entries()]
      .filter(([k]) => !filter || filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) =>
        `| ${pct(t)} | ${(t / 1000).toFixed(0)} ms | \`${k.replaceAll("|", "\\|")}\` |`
      );
  const idle = [...selfByFn.entries()].filter(([k]) => k.startsWith("(idle)")).reduce(
    (s, [, t]) => s + t,
    0,
  );
  return [
    `Profile: ${(total / 1e6).toFixed(1)} s sampled, ${pct(idle)} idle.`,
    "",
    "### Self time by function",
    "",
    "| self | time | function |",
    "| --- | --- | --- |",
    ...rows(selfByFn, top),
    "",
    "### Self time by source",
    "",
    "| self | time | source |",
    "| --- | --- | --- |",
    ...rows(selfByFile, 20),
    "",
    "### Inclusive time of llmproxy's own functions (src/)",
    "",
    "| incl. | time | function |",
    "| --- | --- | --- |",
    ...rows(incl, top, (k) => k.includes(" src/")),
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  tmp = Deno.makeTempDirSync({ prefix: "llmproxy-profile-" });
  const profDir = `${tmp}/prof`;
  const upstreamPort = freePort();
  await startUpstream(repo, upstreamPort);
  const ctx: Context = {
    repo,
    tmp,
    cache: tmp,
    upstreamPort,
    nodeCeiling: "http",
    nginxWorkers: 1,
    denoFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`],
    log: console.error,
  };
  const t = await which.start(ctx);
  const url = `http://127.0.0.1:${t.port}/v1/chat/completions`;
  const script = writeScript(tmp, "profile", t.headers);
  await wrk(url, script, connections, 2);
  if (sseMode) {
    console.error(`streaming for ${duration} s (16 concurrent streams of 50 events 2 ms apart)`);
    const end = performance.now() + duration * 1000;
    const worker = async () => {
      const c = new SseClient(t.port);
      while (performance.now() < end) await c.stream(t.headers, 50, 2, 10_000);
      c.close();
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const s = await openIdleStreams(t.port, t.headers, 200, 600_000, 20_000);
    s.close();
  } else {
    console.error(`wrk -c${connections} for ${duration} s`);
    const r = await wrk(url, script, connections, duration);
    console.error(
      `${Math.round(r.rps)} req/s under the profiler, p50 ${(r.p50Us / 1000).toFixed(2)} ms`,
    );
  }
  await t.proc!.stop(15_000);
  await stopAll();
  const files = [...Deno.readDirSync(profDir)].filter((e) => e.name.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error("no .cpuprofile was written");
  const path = `${profDir}/${files[0]!.name}`;
  const profile: Profile = JSON.parse(Deno.readTextFileSync(path));
  console.log(summarize(profile));
  if (keep) {
    Deno.mkdirSync(keep, { recursive: true });
    Deno.copyFileSync(path, `${keep}/${which.id}.cpuprofile`);
    console.error(`kept ${keep}/${which.id}.cpuprofile`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } finally {
    await stopAll();
    if (tmp) Deno.removeSync(tmp, { recursive: true });
  }
}
