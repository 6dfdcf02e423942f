/** The conformance suite against the Deno daemon. */
import { DENO_DAEMON } from "./harness.ts";
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
// Deno cannot bound a connect directly: the probe runs once headers are 1 s late and
// gives up after another 1 s (docs/runtimes.md#what-each-timeout-means-on-deno).
connectSuite(DENO_DAEMON, 3000);
connectionSuite(DENO_DAEMON);
llmSuite(DENO_DAEMON);
clientsSuite(DENO_DAEMON);
