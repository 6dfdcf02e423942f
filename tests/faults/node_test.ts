/**
 * The fault suite against the Node daemon: the bundle `deno task build:node` makes,
 * built here into a temporary directory (so it never races the conformance suite's
 * build of `dist/llmproxyd.mjs`) and run with `node`.
 */
import { faultSuite } from "./suite.ts";
import { within } from "./lib.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Bundles src/adapters/node/main.ts as `build:node` does (≤ 180 s, killed by PID after). */
async function buildBundle(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-faults-node-" });
  const out = `${dir}/llmproxyd.mjs`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      `--config=${ROOT}deno.json`,
      "--platform=node",
      `--output=${out}`,
      `${ROOT}src/adapters/node/main.ts`,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const res = await within(180_000, "deno bundle (node)", child.output(), () => {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch { /* gone */ }
    });
    if (!res.success) {
      const dec = new TextDecoder();
      throw new Error(
        `bundling the Node daemon failed:\n${dec.decode(res.stdout)}\n${dec.decode(res.stderr)}`,
      );
    }
  } catch (e) {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch { /* gone */ }
    throw e;
  }
  return out;
}

const bundle = await buildBundle();
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(bundle.slice(0, bundle.lastIndexOf("/")), { recursive: true });
  } catch { /* already gone */ }
});
faultSuite({ name: "node", argv: ["node", bundle] });
