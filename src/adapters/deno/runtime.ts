import type { DaemonRuntime, Listener, ServeOptions } from "../../daemon/runtime.ts";
import { LineBuffer } from "../../daemon/line_buffer.ts";
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
  serve,
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

function serve(options: ServeOptions): Promise<Listener> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        // A new process can bind the port before this one has drained (warm restart).
        reusePort: Deno.build.os === "linux",
        onListen(addr) {
          resolve({
            hostname: addr.hostname,
            port: addr.port,
            shutdown: () => server.shutdown(),
            close: () => server.shutdown(),
          });
        },
        onError(error) {
          console.error(
            JSON.stringify({ level: "error", msg: "unhandled error", error: String(error) }),
          );
          return new Response(
            JSON.stringify({
              error: { message: "internal error", type: "llmproxy_error", code: "internal" },
            }),
            { status: 500, headers: { "content-type": "application/json" } },
          );
        },
      }, (req, info) => {
        const remote = info.remoteAddr as Deno.NetAddr;
        // With the no-legacy-abort flag (deno.json "unstable"), req.signal fires only
        // when the client goes away, never after a successful response.
        return options.handler(req, {
          remoteAddr: remote.hostname,
          signal: req.signal,
          completed: info.completed,
        });
      });
    } catch (e) {
      reject(e);
    }
  });
}
