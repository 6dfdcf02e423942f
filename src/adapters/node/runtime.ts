import { readFile } from "node:fs/promises";
import process from "node:process";
import type { DaemonRuntime } from "../../daemon/runtime.ts";
import { nodeServe } from "./serve.ts";
import { nodeTransports } from "./transport.ts";
import { LineBuffer } from "../../daemon/line_buffer.ts";

const out = new LineBuffer((t) => void process.stdout.write(t));

/** The daemon's view of Node. */
export const nodeRuntime: DaemonRuntime = {
  name: `node ${process.versions.node}`,
  env: (name) => process.env[name],
  readTextFile: (path) => readFile(path, "utf8"),
  serve: nodeServe,
  transports: nodeTransports,
  onSignal(signal, fn) {
    // Windows delivers only SIGINT (Ctrl+C) in a way worth listening to.
    if (process.platform === "win32" && signal !== "SIGINT") return false;
    process.on(signal, fn);
    return true;
  },
  // Writes to pipes and files are synchronous on Linux, so nothing is lost at exit once
  // the batch is flushed.
  stdout: (line) => out.push(line),
  stderr: (line) => {
    out.flush();
    process.stderr.write(`${line}\n`);
  },
  exit: (code) => {
    out.flush();
    return process.exit(code);
  },
};
