/**
 * The Cloudflare Workers entry point of llmproxy (`main` in wrangler.toml): a module
 * worker serving the forwards and the admin API, plus the Durable Object classes that
 * hold the state every isolate shares. See the README, "Cloudflare Workers".
 *
 * @module
 */

import { handleRequest, type WorkerEnv } from "./handler.ts";
import { guardRequestBody } from "./request_body.ts";
import type { ExecutionContext } from "./types.ts";

export { ClientLimiterObject } from "./client_object.ts";
export { ConfigObject, GroupStateObject, RateLimiterObject } from "./durable_objects.ts";
export type { WorkerEnv } from "./handler.ts";

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    // A body left unread (a refusal) is read before answering: workerd loses the
    // connection of a request answered before its body was read (request_body.ts).
    const guarded = guardRequestBody(request);
    try {
      return await handleRequest(guarded.request, env, ctx);
    } finally {
      await guarded.finish();
    }
  },
};
