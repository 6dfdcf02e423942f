import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { connectionBudget, openFileLimit } from "./connection_budget.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  4096                 files
`;

Deno.test("openFileLimit: the soft limit from /proc/self/limits", () => {
  assertEquals(openFileLimit(LIMITS), 256);
  assertEquals(openFileLimit("Max open files  unlimited  unlimited  files\n"), undefined);
  assertEquals(openFileLimit("nothing here"), undefined);
});

Deno.test("connectionBudget: a quarter of the descriptors stays free for upstreams", () => {
  assertEquals(connectionBudget(LIMITS), 176);
  assertEquals(connectionBudget("Max open files 20 20 files\n"), 8);
});
