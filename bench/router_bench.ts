/**
 * Lookup cost with 1,000 rules (run with `deno bench bench/router_bench.ts`). A mix of
 * static, `:name`, `{name:regex}` and trailing `*` rules under distinct prefixes, as
 * a large multi-tenant gateway would have.
 */
import { Router } from "../src/core/routing/mod.ts";

const rules: { path: string; value: number }[] = [];
for (let i = 0; i < 1000; i++) {
  const forms = [
    `/t${i}/v1/chat/completions`,
    `/t${i}/v1/models/:model`,
    `/t${i}/v1/items/{id:[0-9]+}`,
    `/t${i}/files/*`,
  ];
  rules.push({ path: forms[i % forms.length]!, value: i });
}
// Shared-prefix rules, so some lookups have to backtrack.
rules.push({ path: "/api/users/admin", value: -1 }, { path: "/api/users/:id", value: -2 });
const router = new Router(rules);

Deno.bench("compile 1,000 rules", { group: "compile" }, () => {
  new Router(rules);
});

Deno.bench("static hit", { group: "lookup", baseline: true }, () => {
  router.match("/t500/v1/chat/completions");
});

Deno.bench(":name hit", { group: "lookup" }, () => {
  router.match("/t501/v1/models/gpt-4o");
});

Deno.bench("{name:regex} hit", { group: "lookup" }, () => {
  router.match("/t502/v1/items/12345");
});

Deno.bench("trailing * hit", { group: "lookup" }, () => {
  router.match("/t503/files/a/b/c.txt");
});

Deno.bench("backtracking hit", { group: "lookup" }, () => {
  router.match("/api/users/admins");
});

Deno.bench("miss", { group: "lookup" }, () => {
  router.match("/v1/chat/completions?stream=true");
});
