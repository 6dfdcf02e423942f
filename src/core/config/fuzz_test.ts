/**
 * Seeded mutations of every example configuration: whatever a file holds, loading it
 * answers with diagnostics (docs/behaviour.md#diagnostics-format) and never throws or hangs
 * (docs/behaviour.md#hostile-input).
 *
 * Deterministic: a failure names its seed, and `FUZZ_SEED=<n>` replays that one case
 * (`FUZZ_CASES=<n>` runs more of them).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Document,
  isCollection,
  isMap,
  isPair,
  isSeq,
  type Node,
  Pair,
  parseDocument,
  Scalar,
  visit,
  type YAMLMap,
  YAMLSeq,
} from "yaml";
import { formatDiagnostic, loadConfig, type LoadResult, validateConfig } from "./mod.ts";
import { withProtoAccessor } from "./_test_helpers.ts";
import { isPrintable } from "./text.ts";
import { seededRandom as prng } from "../seeded_random.ts";

const examples = new URL("../../../examples/", import.meta.url);

type Rng = () => number;
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

const PROTO_NAMES = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "isPrototypeOf",
  "toLocaleString",
];

const NASTY_STRINGS = [
  "a\rb",
  "a\nb",
  "a\r\nX-Injected: 1",
  "nul\0byte",
  "\u0001\u001b[31m",
  "tab\there",
  "\u2028line\u2029",
  "é",
  "€uro",
  "emoji 🚀",
  "\u202eevil",
  "${MISSING}",
  "${",
  "$${x}",
  "${EVIL}",
  "",
  " ",
  "x".repeat(10_000),
  "/api/{id:(a+)+$}",
  "/api/{id:[0-9]+}",
  "/x/{id:(?=a)a}",
  "http://user:pa\rss@host/",
  "http://[::1]:99999/",
  "a:b",
  "10MiB",
  "-1KiB",
  "0x10",
  "1e400",
];

const NASTY_NUMBERS = [
  0,
  -1,
  -0,
  1.5,
  65536,
  2 ** 53 + 1,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  Infinity,
  -Infinity,
  NaN,
  1e-300,
];

function nastyValue(doc: Document, rng: Rng, depth = 0): unknown {
  switch (int(rng, depth > 2 ? 5 : 8)) {
    case 0:
      return pick(rng, NASTY_STRINGS);
    case 1:
      return pick(rng, NASTY_NUMBERS);
    case 2:
      return null;
    case 3:
      return rng() < 0.5;
    case 4:
      return pick(rng, ["name", "url", "http://127.0.0.1:1", "bearer", "basic", "g", "u"]);
    case 5:
      return Array.from({ length: int(rng, 4) }, () => nastyValue(doc, rng, depth + 1));
    case 6: {
      const out: Record<string, unknown> = {};
      for (let i = int(rng, 4); i > 0; i--) {
        const key = pick(rng, [...PROTO_NAMES, "name", "url", "x", "a\rb"]);
        Object.defineProperty(out, key, {
          value: nastyValue(doc, rng, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    default: {
      // Nested far deeper than any configuration, on either side of the depth limit.
      let v: unknown = "leaf";
      for (let i = 10 + int(rng, 40); i > 0; i--) v = rng() < 0.5 ? [v] : { n: v };
      return v;
    }
  }
}

interface Spot {
  readonly parent: YAMLMap | YAMLSeq;
  readonly index: number;
  readonly ancestors: readonly Node[];
}

/** Every place a value sits: a pair of a mapping or an item of a list. */
function spots(doc: Document): Spot[] {
  const out: Spot[] = [];
  visit(doc, {
    Node(_, node, path) {
      if (!isCollection(node)) return;
      const ancestors = [...path.filter((p): p is Node => isCollection(p)), node];
      node.items.forEach((_item, index) => out.push({ parent: node, index, ancestors }));
    },
  });
  return out;
}

let anchorCount = 0;

// Each operation's weight is how often it appears: the ones that stop loading at the
// YAML stage (a duplicate key, an alias bomb) are rarer, so that most cases reach the
// schema and the cross checks.
type Operation =
  | "proto-key"
  | "delete"
  | "swap"
  | "alias-loop"
  | "self-merge"
  | "duplicate-key"
  | "alias-bomb"
  | "alias-reuse"
  | "reshape";

const OPERATIONS: readonly Operation[] = [
  ...times(3, "proto-key"),
  ...times(2, "delete"),
  ...times(4, "swap"),
  "alias-loop",
  "self-merge",
  "duplicate-key",
  "alias-bomb",
  "alias-reuse",
  ...times(2, "reshape"),
];

function times(n: number, value: Operation): Operation[] {
  return Array.from({ length: n }, () => value);
}

/** One structural mutation, in place; returns its name for failure messages. */
function mutateDocument(doc: Document, rng: Rng): string {
  const all = spots(doc);
  if (all.length === 0) return "none";
  const spot = pick(rng, all);
  const { parent, index } = spot;
  const item = parent.items[index];
  switch (pick(rng, OPERATIONS)) {
    case "proto-key": { // rename a key to a prototype name
      if (!isMap(parent) || !isPair(item)) return "none";
      item.key = new Scalar(pick(rng, PROTO_NAMES));
      return "proto-key";
    }
    case "delete":
      parent.items.splice(index, 1);
      return "delete";
    case "swap": { // swap the value's type
      const value = doc.createNode(nastyValue(doc, rng));
      if (isPair(item)) item.value = value;
      else (parent.items as unknown[])[index] = value;
      return "swap";
    }
    case "alias-loop": { // an alias loop: an alias inside the node its anchor names
      const target = pick(rng, spot.ancestors) as YAMLMap | YAMLSeq;
      const alias = doc.createAlias(target, `a${anchorCount++}`);
      if (isMap(parent)) parent.items.push(new Pair(new Scalar(pick(rng, ["loop", "<<"])), alias));
      else (parent.items as unknown[]).push(alias);
      return "alias-loop";
    }
    case "self-merge": { // a self-merge: `<<: *a` inside `&a`
      if (!isMap(parent)) return "none";
      const alias = doc.createAlias(parent, `m${anchorCount++}`);
      parent.items.push(new Pair(new Scalar("<<"), alias));
      return "self-merge";
    }
    case "duplicate-key": { // a duplicate key
      if (!isMap(parent) || !isPair(item)) return "none";
      parent.items.push(
        new Pair(
          doc.createNode(String((item.key as Scalar).value)),
          doc.createNode(nastyValue(doc, rng)),
        ),
      );
      return "duplicate-key";
    }
    case "alias-bomb": { // a billion-laughs alias bomb under a prototype-named key
      const root = doc.contents;
      if (!isMap(root)) return "none";
      let prev: YAMLSeq = doc.createNode(["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]);
      prev.anchor = `l${anchorCount++}`;
      const levels = new YAMLSeq();
      levels.items.push(prev);
      for (let i = 0; i < 8; i++) {
        const next = new YAMLSeq();
        for (let j = 0; j < 8; j++) next.items.push(doc.createAlias(prev));
        next.anchor = `l${anchorCount++}`;
        levels.items.push(next);
        prev = next;
      }
      root.items.push(new Pair(new Scalar(pick(rng, ["lols", ...PROTO_NAMES])), levels));
      return "alias-bomb";
    }
    case "alias-reuse": { // a reused anchor: the same node twice, legal, shared in the data
      const value = isPair(item) ? item.value : item;
      if (!isCollection(value)) return "none";
      const alias = doc.createAlias(value as YAMLMap, `r${anchorCount++}`);
      if (isMap(parent)) parent.items.push(new Pair(new Scalar("again"), alias));
      else (parent.items as unknown[]).push(alias);
      return "alias-reuse";
    }
    case "reshape": { // a sequence turned mapping or back
      const value = isPair(item) ? item.value : item;
      if (isSeq(value) && isPair(item)) item.value = doc.createNode({ ...value.toJSON() });
      else if (isMap(value) && isPair(item)) {
        item.value = doc.createNode(Object.values(value.toJSON()));
      }
      return "reshape";
    }
  }
}

/** One text mutation; returns its name. */
function mutateText(text: string, rng: Rng): { text: string; what: string } {
  const at = int(rng, text.length + 1);
  switch (int(rng, 6)) {
    case 0: { // truncated at a byte, maybe inside a UTF-8 sequence, as a short read would
      const bytes = new TextEncoder().encode(text);
      const cut = int(rng, bytes.length + 1);
      return { text: new TextDecoder().decode(bytes.subarray(0, cut)), what: `truncate@${cut}` };
    }
    case 1:
      return {
        text: text.slice(0, at) + pick(rng, ["\r", "\n", "\0", "\r\n", "\t", "\u2028"]) +
          text.slice(at),
        what: `control@${at}`,
      };
    case 2: { // duplicate a line: duplicate keys, or a list entry twice
      const lines = text.split("\n");
      const i = int(rng, lines.length);
      lines.splice(i, 0, lines[i] ?? "");
      return { text: lines.join("\n"), what: `dup-line@${i}` };
    }
    case 3:
      return {
        text: text.slice(0, at) + pick(rng, ["🚀", "\uD800", "\uFEFF", "é", "\u0085"]) +
          text.slice(at),
        what: `unicode@${at}`,
      };
    case 4: // indentation slip
      return { text: text.slice(0, at) + "  " + text.slice(at), what: `indent@${at}` };
    default:
      return {
        text: text.slice(0, at) +
          pick(rng, ["[", "{", "&x ", "*x", "<<: *x\n", "? ", "!!binary ", "%YAML 1.1\n---\n"]) +
          text.slice(at),
        what: `syntax@${at}`,
      };
  }
}

const LINE = /^fuzz\.yaml:[1-9]\d*:[1-9]\d*: \S/;
const MAX_MS = 3_000; // a hang detector, far above the few milliseconds a load takes

function checkResult(result: LoadResult, positioned: boolean, where: string): void {
  assert.equal(typeof result.ok, "boolean", where);
  const all = [...(result.ok ? [] : result.errors), ...result.warnings];
  if (!result.ok) assert.ok(result.errors.length > 0, `${where}: failed without an error`);
  for (const d of all) {
    assert.ok(d.severity === "error" || d.severity === "warning", where);
    assert.equal(typeof d.path, "string", where);
    assert.ok(typeof d.message === "string" && d.message.trim() !== "", `${where}: empty message`);
    assert.ok(!d.message.startsWith("internal error"), `${where}: ${d.message}`);
    const line = formatDiagnostic("fuzz.yaml", d);
    assert.ok(isPrintable(line), `${where}: unprintable diagnostic ${JSON.stringify(line)}`);
    if (positioned) {
      assert.ok(Number.isInteger(d.line) && d.line >= 1, `${where}: line ${d.line}`);
      assert.ok(Number.isInteger(d.column) && d.column >= 1, `${where}: column ${d.column}`);
      assert.match(line, LINE, where);
      if (d.path !== "") {
        assert.ok(line.startsWith(`fuzz.yaml:${d.line}:${d.column}: ${d.path}: `), where);
      }
    } else {
      assert.equal(d.line, 0, where);
      assert.equal(d.column, 0, where);
    }
  }
  if (result.ok) {
    assert.ok(Object.isFrozen(result.config), where);
    // What the admin API returns must be accepted back (docs/behaviour.md#admin-shapes).
    const again = validateConfig(JSON.parse(JSON.stringify(result.config)));
    assert.ok(again.ok, `${where}: the snapshot does not validate back`);
  }
}

const ENV: Record<string, string> = {
  OPENAI_API_KEY: "sk-test",
  EVIL: "line\r\nX-Injected: 1",
  INTERNAL_PORT: "99999",
};

function runCase(name: string, source: string, seed: number): void {
  const rng = prng(seed);
  const doc = parseDocument(source);
  const done: string[] = [];
  for (let n = 1 + int(rng, 3); n > 0; n--) done.push(mutateDocument(doc, rng));
  let text: string;
  try {
    text = doc.toString({ lineWidth: 0 });
  } catch {
    text = source; // yaml cannot write every mutation out; the text mutations still run
  }
  if (rng() < 0.5) {
    const m = mutateText(text, rng);
    text = m.text;
    done.push(m.what);
  }
  // Every other case runs as on Node and Workers, where `obj.__proto__ = v` sets the
  // prototype (Deno disables that setter).
  const proto = seed % 2 === 1;
  const where = `${name} seed ${seed}${proto ? " with __proto__" : ""} (${done.join(", ")})`;
  const load = () => loadConfig(text, { file: "fuzz.yaml", env: (v) => ENV[v] });
  const started = performance.now();
  let result: LoadResult;
  try {
    result = proto ? withProtoAccessor(load) : load();
  } catch (e) {
    assert.fail(`${where}: loadConfig threw ${e instanceof Error ? e.stack : e}\n${text}`);
  }
  const took = performance.now() - started;
  assert.ok(took < MAX_MS, `${where}: took ${took.toFixed(0)} ms`);
  checkResult(result, true, where);

  // The admin API's entry point, on the same data as a plain object.
  let data: unknown;
  try {
    data = parseDocument(text, { logLevel: "error" }).toJS({ maxAliasCount: 100 });
  } catch {
    return; // not data (an alias bomb, a loop): the admin API only sees parsed JSON
  }
  if (hasCycle(data)) return; // JSON cannot hold a loop either
  let plain: LoadResult;
  try {
    plain = proto ? withProtoAccessor(() => validateConfig(data)) : validateConfig(data);
  } catch (e) {
    assert.fail(`${where}: validateConfig threw ${e instanceof Error ? e.stack : e}`);
  }
  checkResult(plain, false, `${where} (validateConfig)`);
}

function hasCycle(value: unknown, stack = new Set<unknown>()): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (stack.has(value)) return true;
  stack.add(value);
  const cyclic = Object.values(value).some((v) => hasCycle(v, stack));
  stack.delete(value);
  return cyclic;
}

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the defaults
  }
}

const CASES = Number(envVar("FUZZ_CASES") ?? 150);
const ONLY = envVar("FUZZ_SEED");

Deno.test("fuzz: mutated example configurations only ever produce diagnostics", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(examples)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
  }
  assert.ok(names.length >= 4);
  names.sort();
  let runs = 0;
  for (const [i, name] of names.entries()) {
    const source = await Deno.readTextFile(new URL(name, examples));
    if (ONLY !== undefined) {
      runCase(name, source, Number(ONLY));
      continue;
    }
    for (let c = 0; c < CASES; c++) {
      runCase(name, source, 1000 * (i + 1) + c);
      runs++;
    }
  }
  assert.ok(ONLY !== undefined || runs >= 4 * CASES);
});
