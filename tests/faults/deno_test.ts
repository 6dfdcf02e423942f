/** The fault suite against the Deno daemon (`deno run … src/adapters/deno/main.ts`). */
import { DENO_DAEMON } from "../conformance/harness.ts";
import { faultSuite } from "./suite.ts";

faultSuite(DENO_DAEMON);
