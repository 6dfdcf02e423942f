import type { DaemonRuntime, Listener, ServeOptions } from "../../daemon/runtime.ts";
import { denoTransports } from "./transport.ts";

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
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  exit: (code) => Deno.exit(code),
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
        return options.handler(req, { remoteAddr: remote.hostname, signal: req.signal });
      });
    } catch (e) {
      reject(e);
    }
  });
}
