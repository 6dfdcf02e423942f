import type { DaemonRuntime } from "../../daemon/runtime.ts";
import { LineBuffer } from "../../daemon/line_buffer.ts";
import { denoServe } from "./listener.ts";
import { denoTransports } from "./transport.ts";

const encoder = new TextEncoder();

function writeAll(fd: typeof Deno.stdout, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += fd.writeSync(bytes.subarray(off));
}

const out = new LineBuffer((t) => writeAll(Deno.stdout, t));

/** The daemon's view of Deno. */
export const denoRuntime: DaemonRuntime = {
  name: `deno ${Deno.version.deno}`,
  env: (name) => Deno.env.get(name),
  readTextFile: (path) => Deno.readTextFile(path),
  serve: denoServe,
  transports: denoTransports,
  onSignal(signal, fn) {
    if (Deno.build.os === "windows" && signal !== "SIGINT") return false;
    Deno.addSignalListener(signal, fn);
    return true;
  },
  stdout: (line) => out.push(line),
  // Errors are rare and must come out in order with nothing held back.
  stderr: (line) => {
    out.flush();
    writeAll(Deno.stderr, `${line}\n`);
  },
  exit: (code) => {
    out.flush();
    Deno.exit(code);
  },
};
