/**
 * `llmproxyd` on Node: the entry point of the `dist/llmproxyd.mjs` bundle
 * (`deno task build:node`; run with `node dist/llmproxyd.mjs -c config.yaml`).
 *
 * @module
 */
import process from "node:process";
import { runDaemon } from "../../daemon/daemon.ts";
import { nodeRuntime } from "./runtime.ts";

// The core needs AbortSignal.any (Node 20.3+); undici 7 asks for Node 20.18.1+.
if (typeof AbortSignal.any !== "function") {
  process.stderr.write(
    `llmproxyd: Node ${process.versions.node} is too old, Node >= 20.18.1 is needed\n`,
  );
  process.exit(1);
}

nodeRuntime.exit(await runDaemon(process.argv.slice(2), nodeRuntime));
