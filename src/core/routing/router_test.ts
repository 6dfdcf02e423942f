import assert from "node:assert/strict";
import {
  comparePatterns,
  compilePattern,
  matchPattern,
  MAX_REGEX_SEGMENT,
  type RouteMatch,
  RoutePatternError,
  Router,
} from "./mod.ts";

/** A router whose values are the rule's pattern, so tests read which rule won. */
function router(...paths: string[]): Router<string> {
  return new Router(paths.map((path) => ({ path, value: path })));
}

function winner(r: Router<string>, path: string): string | undefined {
  return r.match(path)?.value;
}

Deno.test("Router: every form of the docs/behaviour.md#patterns table", () => {
  const r = router(
    "/api/users/admin",
    "/api/users/:id",
    "/api/items/{id:[0-9]+}",
    "/api/*/docs",
    "/files/*",
  );
  assert.deepEqual(r.match("/api/users/admin"), {
    pattern: "/api/users/admin",
    value: "/api/users/admin",
    params: {},
  });
  assert.deepEqual(r.match("/api/users/42"), {
    pattern: "/api/users/:id",
    value: "/api/users/:id",
    params: { id: "42" },
  });
  assert.deepEqual(r.match("/api/items/42")?.params, { id: "42" });
  assert.equal(winner(r, "/api/items/4x"), undefined);
  assert.equal(winner(r, "/api/v1/docs"), "/api/*/docs");
  assert.deepEqual(r.match("/api/v1/docs")?.params, {});
  assert.equal(winner(r, "/files/a"), "/files/*");
  assert.equal(winner(r, "/files/a/b/c.txt"), "/files/*");
  assert.equal(winner(r, "/nothing"), undefined);
});

Deno.test("Router: backtracks from a static prefix to a parameter", () => {
  const r = router("/api/users/admin", "/api/users/:id");
  assert.equal(winner(r, "/api/users/admins"), "/api/users/:id");
  assert.deepEqual(r.match("/api/users/admins")?.params, { id: "admins" });
  assert.equal(winner(r, "/api/users/admin"), "/api/users/admin");

  // The same when the static branch goes deeper before it fails.
  const deep = router("/api/users/admin/settings", "/api/users/:id/settings", "/api/:x/:y/:z");
  assert.equal(winner(deep, "/api/users/admin/settings"), "/api/users/admin/settings");
  assert.equal(winner(deep, "/api/users/bob/settings"), "/api/users/:id/settings");
  assert.equal(winner(deep, "/api/users/admin/profile"), "/api/:x/:y/:z");
});

Deno.test("Router: '*' in the middle is exactly one segment", () => {
  const r = router("/api/*/docs");
  assert.equal(winner(r, "/api/v1/docs"), "/api/*/docs");
  assert.equal(winner(r, "/api/v1/v2/docs"), undefined);
  assert.equal(winner(r, "/api//docs"), undefined);
  assert.equal(winner(r, "/api/docs"), undefined);
});

Deno.test("Router: a regex parameter beats a plain one only where the regex matches", () => {
  const r = router("/api/items/:id", "/api/items/{id:[0-9]+}");
  assert.equal(winner(r, "/api/items/42"), "/api/items/{id:[0-9]+}");
  assert.equal(winner(r, "/api/items/abc"), "/api/items/:id");
  assert.deepEqual(r.match("/api/items/abc")?.params, { id: "abc" });
  // The regex must match the whole segment, not a part of it.
  assert.equal(winner(r, "/api/items/42abc"), "/api/items/:id");
  assert.equal(winner(r, "/api/items/"), undefined);
});

Deno.test("Router: the query string is ignored", () => {
  const r = router("/v1/chat/completions", "/api/users/:id", "/files/*");
  assert.equal(winner(r, "/v1/chat/completions?stream=true"), "/v1/chat/completions");
  assert.deepEqual(r.match("/api/users/7?x=/y/z")?.params, { id: "7" });
  assert.equal(winner(r, "/files/a?b"), "/files/*");
  assert.equal(winner(r, "/files/?b"), undefined);
  assert.equal(winner(r, "/files?x=1"), undefined);
});

Deno.test("Router: a trailing '*' needs one or more non-empty segments", () => {
  const r = router("/files/*");
  assert.equal(winner(r, "/files/"), undefined);
  assert.equal(winner(r, "/files"), undefined);
  assert.equal(winner(r, "/files/a"), "/files/*");
  assert.equal(winner(r, "/files/a/b"), "/files/*");
  assert.equal(winner(r, "/files/a/"), undefined);
  assert.equal(winner(r, "/files/a//b"), undefined);
  assert.equal(winner(r, "/files//a"), undefined);
  assert.equal(winner(r, "/filesx/a"), undefined);
  assert.equal(winner(router("/*"), "/"), undefined);
  assert.equal(winner(router("/*"), "/a/b"), "/*");
});

Deno.test("Router: a trailing slash is significant", () => {
  const r = router("/a", "/b/", "/u/:id", "/v/:id/");
  assert.equal(winner(r, "/a"), "/a");
  assert.equal(winner(r, "/a/"), undefined);
  assert.equal(winner(r, "/b/"), "/b/");
  assert.equal(winner(r, "/b"), undefined);
  assert.equal(winner(r, "/u/1"), "/u/:id");
  assert.equal(winner(r, "/u/1/"), undefined);
  assert.equal(winner(r, "/v/1/"), "/v/:id/");
  assert.equal(winner(r, "/v/1"), undefined);
  // An empty segment never fills a parameter.
  assert.equal(winner(r, "/u/"), undefined);
  assert.equal(winner(router("/", "/:x"), "/"), "/");
  assert.equal(winner(router("/:x"), "/"), undefined);
});

Deno.test("Router: matching is case-sensitive", () => {
  const r = router("/API/Users", "/api/:x/{v:v[0-9]}");
  assert.equal(winner(r, "/API/Users"), "/API/Users");
  assert.equal(winner(r, "/api/users"), undefined);
  assert.equal(winner(r, "/api/a/v1"), "/api/:x/{v:v[0-9]}");
  assert.equal(winner(r, "/api/a/V1"), undefined);
  assert.equal(winner(r, "/Api/a/v1"), undefined);
});

Deno.test("Router: paths are matched as sent, not percent-decoded", () => {
  const r = router("/a%20b", "/u/:id");
  assert.equal(winner(r, "/a%20b"), "/a%20b");
  assert.equal(winner(r, "/a b"), undefined);
  assert.deepEqual(r.match("/u/x%2Fy")?.params, { id: "x%2Fy" });
});

Deno.test("Router: priority rule 1, a fully static rule wins", () => {
  const r = router("/a/{x:b}", "/a/:x", "/a/*", "/a/b");
  assert.equal(winner(r, "/a/b"), "/a/b");
  assert.equal(winner(r, "/a/c"), "/a/:x");
});

Deno.test("Router: priority rule 2, more static segments win", () => {
  // The first rule commits to literal text later, but has more of it.
  const r = router("/a/b/:y/:z", "/a/:x/c/d");
  assert.equal(winner(r, "/a/b/c/d"), "/a/:x/c/d");
  assert.equal(winner(r, "/a/b/c/e"), "/a/b/:y/:z");
  // More static segments beat a regex too.
  const r2 = router("/x/{a:\\d+}/{b:\\d+}/c", "/x/:a/2/c");
  assert.equal(winner(r2, "/x/1/2/c"), "/x/:a/2/c");
});

Deno.test("Router: priority rule 3, first differing position decides", () => {
  const r = router("/x/*/y", "/x/:a/y", "/x/{a:[a-z]+}/y");
  assert.equal(winner(r, "/x/abc/y"), "/x/{a:[a-z]+}/y");
  assert.equal(winner(r, "/x/123/y"), "/x/:a/y");
  assert.equal(winner(router("/x/*/y", "/x/:a/y"), "/x/1/y"), "/x/:a/y");
  // Decided at the first difference, even if a later position favours the other rule.
  const r2 = router("/x/:a/{b:\\d+}", "/x/{a:\\d+}/:b");
  assert.equal(winner(r2, "/x/1/2"), "/x/{a:\\d+}/:b");
  // With equal static counts, static text earlier wins.
  assert.equal(winner(router("/a/:x/b", "/a/b/:x"), "/a/b/b"), "/a/b/:x");
});

Deno.test("Router: priority rule 4, the longer pattern wins", () => {
  const r = router("/api/*", "/api/*/*");
  assert.equal(winner(r, "/api/a/b"), "/api/*/*");
  assert.equal(winner(r, "/api/a/b/c"), "/api/*/*");
  assert.equal(winner(r, "/api/a"), "/api/*");
  const r2 = router("/m/:a/*", "/m/:a/*/*/*");
  assert.equal(winner(r2, "/m/1/2/3/4"), "/m/:a/*/*/*");
  assert.equal(winner(r2, "/m/1/2/3"), "/m/:a/*");
});

Deno.test("Router: priority rule 5, the earlier rule wins", () => {
  const first = new Router([{ path: "/x/:a", value: 1 }, { path: "/x/:b", value: 2 }]);
  assert.deepEqual(first.match("/x/7"), { pattern: "/x/:a", value: 1, params: { a: "7" } });
  const second = new Router([{ path: "/x/:b", value: 2 }, { path: "/x/:a", value: 1 }]);
  assert.deepEqual(second.match("/x/7"), { pattern: "/x/:b", value: 2, params: { b: "7" } });
  const statics = new Router([{ path: "/s", value: "one" }, { path: "/s", value: "two" }]);
  assert.equal(statics.match("/s")?.value, "one");
});

Deno.test("Router: parameters of the winning rule are returned", () => {
  const r = router("/o/:org/p/{proj:[a-z-]+}/*");
  assert.deepEqual(r.match("/o/acme/p/web-app/a/b")?.params, { org: "acme", proj: "web-app" });
  const proto = router("/p/:__proto__");
  const params = proto.match("/p/x")!.params;
  assert.equal(Object.getPrototypeOf(params), Object.prototype);
  assert.deepEqual(Object.entries(params), [["__proto__", "x"]]);
});

Deno.test("Router: empty router, odd paths", () => {
  const empty = new Router<string>([]);
  assert.equal(empty.size, 0);
  assert.equal(empty.match("/"), undefined);
  const r = router("/a", "/:x", "/*");
  assert.equal(r.size, 3);
  assert.equal(r.match(""), undefined);
  assert.equal(r.match("*"), undefined);
  assert.equal(r.match("a"), undefined);
  assert.equal(r.match("?x"), undefined);
});

Deno.test("Router: a bad pattern throws at construction", () => {
  assert.throws(
    () => router("/ok", "/bad/{id"),
    (e: unknown) => e instanceof RoutePatternError && e.pattern === "/bad/{id",
  );
});

Deno.test("Router: 1,000 rules answer hits and a miss correctly", () => {
  const rules: { path: string; value: number }[] = [];
  for (let i = 0; i < 1000; i++) {
    switch (i % 4) {
      case 0:
        rules.push({ path: `/svc${i}/v1/chat/completions`, value: i });
        break;
      case 1:
        rules.push({ path: `/svc${i}/v1/models/:model`, value: i });
        break;
      case 2:
        rules.push({ path: `/svc${i}/items/{id:[0-9]+}`, value: i });
        break;
      default:
        rules.push({ path: `/svc${i}/files/*`, value: i });
    }
  }
  const r = new Router(rules);
  assert.equal(r.size, 1000);
  assert.equal(r.match("/nope/v1/chat/completions"), undefined);
  assert.equal(r.match("/svc2/items/abc"), undefined);
  assert.equal(r.match("/svc3/files/"), undefined);
  assert.equal(r.match("/svc1000/v1/models/x"), undefined);
  assert.equal(r.match("/svc996/v1/chat/completions")?.value, 996);
  assert.deepEqual(r.match("/svc997/v1/models/gpt")?.params, { model: "gpt" });
  assert.equal(r.match("/svc998/items/5")?.value, 998);
  assert.equal(r.match("/svc999/files/a/b")?.value, 999);
});

// A deterministic generator so a failure replays the same way.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

/** The obvious algorithm: try every rule, keep the best by docs/behaviour.md#priority. */
function bruteForce<T>(
  rules: { path: string; value: T }[],
  path: string,
): RouteMatch<T> | undefined {
  let best: { i: number; params: Record<string, string> } | undefined;
  const compiled = rules.map((r) => compilePattern(r.path));
  compiled.forEach((p, i) => {
    const params = matchPattern(p, path);
    if (params === undefined) return;
    if (best === undefined || comparePatterns(p, compiled[best.i]!) < 0) best = { i, params };
  });
  if (best === undefined) return undefined;
  return { pattern: rules[best.i]!.path, value: rules[best.i]!.value, params: best.params };
}

Deno.test("Router: agrees with a brute-force matcher on random rules and paths", () => {
  const rand = lcg(20240601);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const words = ["a", "b", "ab", "1", "12", ""];
  const forms = ["a", "b", "ab", "1", "", ":p", "{r:[0-9]+}", "{q:a|ab}", "*"];
  let hits = 0;
  for (let round = 0; round < 200; round++) {
    const rules: { path: string; value: number }[] = [];
    const n = 1 + Math.floor(rand() * 12);
    for (let i = 0; i < n; i++) {
      const len = 1 + Math.floor(rand() * 4);
      const segs: string[] = [];
      for (let j = 0; j < len; j++) {
        // Rename parameters so that one pattern never repeats a name.
        segs.push(pick(forms).replace(/^(:p|\{r|\{q)/, (m) => `${m}${j}`));
      }
      rules.push({ path: "/" + segs.join("/"), value: i });
    }
    const r = new Router(rules);
    for (let k = 0; k < 50; k++) {
      const len = 1 + Math.floor(rand() * 5);
      const segs: string[] = [];
      for (let j = 0; j < len; j++) segs.push(pick(words));
      const path = "/" + segs.join("/");
      const got = r.match(path);
      if (got !== undefined) hits++;
      assert.deepEqual(
        got,
        bruteForce(rules, path),
        `rules ${JSON.stringify(rules.map((x) => x.path))}, path ${path}`,
      );
    }
  }
  // Guards against a generator that only ever produces misses.
  assert.ok(hits > 1000, `only ${hits} of 10000 lookups matched`);
});

Deno.test("Router: a regex is never run on a segment over 1 KiB", () => {
  const r = router("/x/{id:[a-z]+}", "/x/:any");
  assert.equal(winner(r, `/x/${"a".repeat(MAX_REGEX_SEGMENT)}`), "/x/{id:[a-z]+}");
  assert.equal(winner(r, `/x/${"a".repeat(MAX_REGEX_SEGMENT + 1)}`), "/x/:any");
  const p = compilePattern("/x/{id:[a-z]+}");
  assert.deepEqual(matchPattern(p, `/x/${"a".repeat(MAX_REGEX_SEGMENT)}`), {
    id: "a".repeat(MAX_REGEX_SEGMENT),
  });
  assert.equal(matchPattern(p, `/x/${"a".repeat(MAX_REGEX_SEGMENT + 1)}`), undefined);
});

Deno.test("Router: hostile 10 KiB paths against the regexes allowed at load", () => {
  // The slowest shapes the load-time check lets through: two quantifiers that trade
  // characters, and twenty optional characters in a row. No timing assertion: the
  // test hanging (or taking seconds, as (a+)+ did) is the failure.
  const patterns = [
    "/r/{a:\\d*\\d*}",
    "/r/{b:.*-.*x}",
    "/r/{c:[a-z]+[a-z0-9]*x}",
    `/r/{d:${"a?".repeat(20)}${"a".repeat(20)}}`,
    "/r/{e:[a-z0-9]+(-[a-z0-9]+)*}",
    "/r/{f:(ab|cd)*[a-d]*}",
  ];
  const r = router(...patterns);
  const compiled = patterns.map((p) => compilePattern(p));
  const hostile = [
    `/r/${"1".repeat(10 * 1024)}x`, // one long segment: never run
    `/r/${"1".repeat(MAX_REGEX_SEGMENT - 1)}!`, // the longest segment that is run
    `/r/${"-".repeat(MAX_REGEX_SEGMENT - 1)}!`,
    `/r/${"a".repeat(40)}!`,
    `/r/${"a-".repeat(MAX_REGEX_SEGMENT / 2 - 1)}!`,
    "/r/" + `${"a".repeat(1000)}/`.repeat(10), // ten segments of 1,000
  ];
  for (const path of hostile) {
    assert.equal(r.match(path), undefined, path.slice(0, 40));
    for (const p of compiled) assert.equal(matchPattern(p, path), undefined);
  }
});
