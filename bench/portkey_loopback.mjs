// Preloaded into the Portkey gateway (`node --import bench/portkey_loopback.mjs …`):
// its start-server.js calls `serve({ fetch, port })` with no hostname, which listens on
// every interface and has no flag or variable to change that. This pins every
// `listen()` that names no host to 127.0.0.1, so the benchmark stays on loopback.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    if (args[1] === undefined || typeof args[1] === "function") {
      args.splice(1, args[1] === undefined ? 1 : 0, "127.0.0.1");
    }
  } else if (
    args[0] && typeof args[0] === "object" && args[0].host === undefined &&
    args[0].path === undefined
  ) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
