/**
 * `llmproxyd` on Deno: `deno run` daemon and `deno compile` binary entry point.
 *
 * @module
 */
import { runDaemon } from "../../daemon/daemon.ts";
import { denoRuntime } from "./runtime.ts";

if (import.meta.main) {
  denoRuntime.exit(await runDaemon(Deno.args, denoRuntime));
}
