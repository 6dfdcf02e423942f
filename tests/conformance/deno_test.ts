/** The conformance suite against the Deno daemon. */
import { DENO_DAEMON, DENO_FETCH_DAEMON } from "./harness.ts";
import { adminSuite } from "./suite_admin.ts";
import { mainSuite } from "./suite_main.ts";
import { processSuite } from "./suite_process.ts";
import { connectSuite } from "./suite_connect.ts";
import { connectionSuite } from "./suite_connection.ts";
import { llmSuite } from "./suite_llm.ts";
import { clientsSuite } from "./suite_clients.ts";

mainSuite(DENO_DAEMON);
processSuite(DENO_DAEMON);
adminSuite(DENO_DAEMON);
// The upstreams here are `http:`: the Deno HTTP/1.1 client bounds the connect itself, as
// Node's does (docs/runtimes.md#what-each-timeout-means-on-deno; through `fetch`, for
// `https:`, a probe bounds it instead, at up to about 2.25 × connect).
connectSuite(DENO_DAEMON, 2500);
connectSuite(DENO_FETCH_DAEMON, 3000);
connectionSuite(DENO_DAEMON);
llmSuite(DENO_DAEMON);
// Usage accounting on the bodies `fetch` gives (tapped_body.ts's paths).
llmSuite(DENO_FETCH_DAEMON);
clientsSuite(DENO_DAEMON);
