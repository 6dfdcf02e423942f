/** The conformance suite against the Deno daemon. */
import { DENO_DAEMON } from "./harness.ts";
import { adminSuite } from "./suite_admin.ts";
import { mainSuite } from "./suite_main.ts";
import { processSuite } from "./suite_process.ts";

mainSuite(DENO_DAEMON);
processSuite(DENO_DAEMON);
adminSuite(DENO_DAEMON);
