/**
 * The Cloudflare Workers entry point of llmproxy (`main` in wrangler.toml): a module
 * worker serving the forwards and the admin API, plus the Durable Object classes that
 * hold the state every isolate shares. See the README, "Cloudflare Workers".
 *
 * @module
 */

import { handleRequest, type WorkerEnv } from "./handler.ts";
import type { ExecutionContext } from "./types.ts";

export { ConfigObject, GroupStateObject, RateLimiterObject } from "./durable_objects.ts";
export type { WorkerEnv } from "./handler.ts";

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    return handleRequest(request, env, ctx);
  },
};
