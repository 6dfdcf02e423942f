import assert from "node:assert/strict";
import { compilePattern, RoutePatternError } from "./mod.ts";

function kinds(path: string): string[] {
  return compilePattern(path).segments.map((s) => s.kind);
}

function compileError(path: string): RoutePatternError {
  try {
    compilePattern(path);
  } catch (e) {
    assert.ok(e instanceof RoutePatternError, `expected RoutePatternError, got ${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "RoutePatternError");
    assert.equal(e.pattern, path);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(path)} to be rejected`);
}

Deno.test("compilePattern: every segment form of the docs/behaviour.md#patterns table", () => {
  assert.deepEqual(kinds("/api/users/admin"), ["static", "static", "static"]);
  assert.deepEqual(kinds("/api/users/:id"), ["static", "static", "param"]);
  assert.deepEqual(kinds("/api/items/{id:[0-9]+}"), ["static", "static", "regex"]);
  assert.deepEqual(kinds("/api/*/docs"), ["static", "wildcard", "static"]);
  assert.deepEqual(kinds("/files/*"), ["static", "rest"]);
});

Deno.test("compilePattern: source, params and static counts", () => {
  const p = compilePattern("/api/{v:v[12]}/users/:id/*");
  assert.equal(p.source, "/api/{v:v[12]}/users/:id/*");
  assert.deepEqual(p.paramNames, ["v", "id"]);
  assert.equal(p.staticCount, 2);
  assert.equal(p.isStatic, false);
  assert.equal(compilePattern("/a/b").isStatic, true);
});

Deno.test("compilePattern: root, trailing slash and empty segments are static", () => {
  assert.deepEqual(compilePattern("/").segments, [{ kind: "static", value: "" }]);
  assert.deepEqual(compilePattern("/a/").segments, [
    { kind: "static", value: "a" },
    { kind: "static", value: "" },
  ]);
  assert.equal(compilePattern("/a//b").segments.length, 3);
  assert.notEqual(compilePattern("/a/").shapeKey, compilePattern("/a").shapeKey);
});

Deno.test("compilePattern: regex may hold braces, classes, escapes and slashes", () => {
  const re = (p: string) => {
    const s = compilePattern(p).segments[1]!;
    assert.equal(s.kind, "regex");
    return s;
  };
  assert.equal(re("/x/{id:[0-9]{2,4}}").source, "[0-9]{2,4}");
  assert.equal(re("/x/{id:[}{]+}").source, "[}{]+");
  assert.equal(re("/x/{id:a\\}}").source, "a\\}");
  assert.equal(re("/x/{id:[^/]+}/y").source, "[^/]+");
  assert.equal(re("/x/{id:\\d+}").regex.test("12"), true);
  // Anchored to the whole segment, including across an alternation.
  const alt = re("/x/{v:v1|v2}").regex;
  assert.equal(alt.test("v1"), true);
  assert.equal(alt.test("v10"), false);
  assert.equal(alt.test("xv2"), false);
});

Deno.test("compilePattern: {name} is a plain parameter", () => {
  const p = compilePattern("/x/{id}");
  assert.deepEqual(p.segments[1], { kind: "param", name: "id" });
  assert.equal(p.shapeKey, compilePattern("/x/:other").shapeKey);
});

Deno.test("compilePattern: ':' inside a static segment is literal", () => {
  const p = compilePattern("/v1beta/models/gemini:generateContent");
  assert.equal(p.isStatic, true);
  assert.equal(p.segments[2]?.kind, "static");
});

Deno.test("shapeKey: same shape means duplicate, different shape does not", () => {
  const key = (p: string) => compilePattern(p).shapeKey;
  assert.equal(key("/x/:a"), key("/x/:b"));
  assert.equal(key("/x/{id:[0-9]+}"), key("/x/{n:[0-9]+}"));
  assert.equal(key("/x/*/y/*"), key("/x/*/y/*"));
  assert.equal(key("/a/b"), key("/a/b"));
  assert.notEqual(key("/x/:a"), key("/x/{a:\\d+}"));
  assert.notEqual(key("/x/{a:\\d+}"), key("/x/{a:[0-9]+}"));
  assert.notEqual(key("/x/:a"), key("/x/*"));
  assert.notEqual(key("/x/*/y"), key("/x/:a/y"));
  assert.notEqual(key("/x/:a"), key("/x/:a/"));
  assert.notEqual(key("/x/:a"), key("/x/a"));
  assert.notEqual(key("/A"), key("/a"));
  // A static segment that looks like a key fragment must not collide with a kind.
  assert.notEqual(key("/*"), key("/x"));
  assert.notEqual(key('/x/{a:"]}'), key('/x/{a:"}/x'));
});

Deno.test("compile error: must start with '/'", () => {
  for (const p of ["", "api/users", " /x", "*"]) {
    const e = compileError(p);
    assert.match(e.message, /must start with "\/"/);
    assert.equal(e.offset, 0);
  }
});

Deno.test("compile error: empty ':' name", () => {
  const e = compileError("/users/:");
  assert.match(e.message, /empty parameter name after ":"/);
  assert.match(e.message, /starts with a letter/);
  assert.equal(e.offset, 7);
  assert.match(compileError("/users/:/x").message, /empty parameter name/);
  assert.match(compileError("/users/{:\\d+}").message, /empty parameter name in "\{\.\.\.\}"/);
  assert.match(compileError("/users/{}").message, /empty parameter name/);
});

Deno.test("compile error: invalid parameter names", () => {
  for (const p of ["/:1st", "/:file.json", "/{a b:x}", "/:a:b", "/{a/b:x}"]) {
    assert.match(compileError(p).message, /invalid parameter name .*letters, digits/);
  }
});

Deno.test("compile error: unbalanced braces", () => {
  for (const p of ["/x/{id:[0-9]+", "/x/{id", "/x/{id:[0-9]{2}", "/x/{id:\\}", "/x/{id:[}]"]) {
    const e = compileError(p);
    assert.match(e.message, /unbalanced "\{"/, p);
    assert.equal(e.offset, 3, p);
  }
  assert.match(compileError("/x/a}").message, /unbalanced "\}"/);
  assert.match(compileError("/x/}").message, /unbalanced "\}"/);
});

Deno.test("compile error: braces must fill the whole segment", () => {
  assert.match(compileError("/x/a{id:\\d+}").message, /"\{" may only open .* whole segment/);
  assert.match(compileError("/x/{id:\\d+}.json").message, /must fill the whole segment/);
  assert.equal(compileError("/x/{id:\\d+}.json").offset, 11);
});

Deno.test("compile error: regex that does not compile quotes the engine", () => {
  const e = compileError("/x/{id:[0-9}");
  // "[0-9}" never closes its class, so the parser reports the brace first.
  assert.match(e.message, /unbalanced/);

  const bad = compileError("/x/{id:(ab}");
  assert.match(bad.message, /regex "\(ab" does not compile \(/);
  let engine = "";
  try {
    new RegExp("(ab");
  } catch (err) {
    engine = (err as Error).message;
  }
  assert.ok(engine !== "" && bad.message.includes(engine), bad.message);
  assert.equal(bad.offset, 7);

  // Would compile once wrapped in ^(?:...)$, but means something else there.
  assert.match(compileError("/x/{id:a)|(b}").message, /does not compile/);
  assert.match(compileError("/x/{id:*}").message, /does not compile/);
});

Deno.test("compile error: empty regex", () => {
  assert.match(compileError("/x/{id:}").message, /empty regex .* "\{id:\[0-9\]\+\}".* ":id"/);
});

Deno.test("compile error: '*' only as a whole segment", () => {
  for (const p of ["/files/*.txt", "/files/a*", "/files/*path", "/**"]) {
    const e = compileError(p);
    assert.match(e.message, /"\*" is allowed only as a whole segment/, p);
  }
  assert.equal(compileError("/files/a*").offset, 8);
});

Deno.test("compile error: duplicate parameter names", () => {
  for (const p of ["/x/:a/:a", "/x/:a/{a:\\d+}", "/x/{id}/{id:[0-9]+}"]) {
    assert.match(compileError(p).message, /parameter name "(a|id)" is used twice/, p);
  }
});

Deno.test("compile error: characters a request path never holds", () => {
  assert.match(compileError("/a?b=1").message, /query string/);
  assert.match(compileError("/a#top").message, /fragment/);
  assert.match(compileError("/a b").message, /contains " ".*write "%20" instead/);
  assert.match(compileError("/café").message, /contains "é".*"%C3%A9"/);
  assert.match(compileError("/a\\b").message, /"%5C"/);
  // Percent-encoded text is how such characters are written.
  assert.equal(compilePattern("/caf%C3%A9").isStatic, true);
});

Deno.test("compile error: the message names the pattern", () => {
  const e = compileError("/x/:");
  assert.ok(e.message.startsWith('invalid route pattern "/x/:": '), e.message);
});

Deno.test("compile error: a regex that could backtrack catastrophically", () => {
  const e = compileError("/x/{id:(a+)+$}");
  assert.match(
    e.message,
    /^invalid route pattern "\/x\/\{id:\(a\+\)\+\$\}": regex "\(a\+\)\+\$" may backtrack catastrophically: nested quantifier/,
  );
  assert.equal(e.offset, 7); // the repeated group
  const refused: [string, RegExp][] = [
    ["/x/{id:(a*)*}", /nested quantifier/],
    ["/x/{id:(\\w+\\s?)+}", /nested quantifier/],
    ["/x/{id:(a|ab)+}", /branches that can match the same text/],
    ["/x/{id:\\d*\\d*\\d*}", /quantifiers that can match the same characters/],
    ["/x/{id:(a)\\1}", /backreferences \(\\1\)/],
    ["/x/{id:(?=a)a}", /lookaheads and lookbehinds/],
    ["/x/{id:(?<!a)b}", /lookaheads and lookbehinds/],
  ];
  for (const [pattern, why] of refused) {
    assert.match(compileError(pattern).message, why, pattern);
    assert.match(compileError(pattern).message, /may backtrack catastrophically/, pattern);
  }
});

Deno.test("compilePattern: everyday regexes pass the backtracking check", () => {
  for (
    const regex of [
      "[0-9]+",
      "[a-z0-9.-]+",
      "[A-Z][A-Z][A-Z][0-9][0-9][0-9]",
      "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
      "[a-z0-9]+(-[a-z0-9]+)*",
      "(gpt|claude)-.+",
      "[0-9]+(\\.[0-9]+)?",
      "v1|v2",
      ".*",
      "[^/]+\\.json",
      "(?<n>[0-9]+)",
    ]
  ) {
    assert.equal(compilePattern(`/x/{id:${regex}}`).segments[1]!.kind, "regex", regex);
  }
});

Deno.test("compile error: a control character in a regex", () => {
  const e = compileError("/x/{id:a\rb}");
  assert.match(e.message, /regex "a\\rb" contains the control character "\\r"/);
  assert.equal(e.offset, 8);
});
