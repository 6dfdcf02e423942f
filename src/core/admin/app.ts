import { Hono } from "hono";
import { CONTENT_TYPE } from "../metrics/mod.ts";
import type { Gateway } from "../proxy/gateway.ts";

/** What the admin listener needs from the process around it. */
export interface AdminOptions {
  readonly gateway: Gateway;
  /** True once every listener is bound and the configuration loaded; false while draining. */
  readonly ready: () => boolean;
}

/** The admin listener's app: `/health`, `/ready`, `/metrics`. */
export function createAdminApp(options: AdminOptions): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get(
    "/ready",
    (c) => options.ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
  );
  app.get(
    "/metrics",
    () =>
      new Response(options.gateway.metrics.encode(), { headers: { "content-type": CONTENT_TYPE } }),
  );
  return app;
}
