/**
 * A walk over data and schema together, before zod sees the data. It does what zod's
 * own parse cannot, because each needs to know where the schema stands at that spot:
 *
 * - strings that are whole numbers become numbers where a number is wanted, and
 *   `true`/`false` become booleans where a boolean is wanted (a `${PORT:-3000}` in YAML
 *   is a string until it is expanded);
 * - an empty value (`ratelimit:` with nothing after it) on an optional key means the key
 *   is absent;
 * - keys the schema does not know become warnings, with a "did you mean" when a known
 *   key is close.
 *
 * Reading the key lists from the schema keeps one source of truth for what is known.
 *
 * @module
 */

import type { z } from "zod";
import type { ConfigPath, Finding } from "./diagnostics.ts";
import { suggest } from "./did_you_mean.ts";

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly element?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
}

const WRAPPERS = new Set(["optional", "default", "prefault", "nullable", "readonly", "catch"]);
const OPTIONAL = new Set(["optional", "default", "prefault"]);

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Peels wrappers (optional, default, …) off a schema to reach what it validates. */
function core(schema: z.ZodType): Def {
  let def = defOf(schema);
  for (;;) {
    if (WRAPPERS.has(def.type) && def.innerType) def = defOf(def.innerType);
    else if (def.type === "pipe" && def.in) def = defOf(def.in);
    else return def;
  }
}

function isOptional(schema: z.ZodType): boolean {
  return OPTIONAL.has(defOf(schema).type);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const NUMBER = /^[+-]?\d+(\.\d+)?$/;

/**
 * Returns a coerced copy of `value` (the input is never changed) and reports unknown
 * keys into `findings`.
 */
export function walkShape(
  schema: z.ZodType,
  value: unknown,
  findings: Finding[],
  path: ConfigPath = [],
): unknown {
  const def = core(schema);
  switch (def.type) {
    case "number":
      return typeof value === "string" && NUMBER.test(value) ? Number(value) : value;
    case "boolean":
      if (typeof value === "string" && /^(true|false)$/i.test(value)) {
        return value.toLowerCase() === "true";
      }
      return value;
    case "array":
      if (!Array.isArray(value) || !def.element) return value;
      return value.map((item, i) => walkShape(def.element!, item, findings, [...path, i]));
    case "object":
      return isRecord(value) && def.shape ? walkObject(def.shape, value, findings, path) : value;
    default:
      return value;
  }
}

function walkObject(
  shape: Readonly<Record<string, z.ZodType>>,
  value: Record<string, unknown>,
  findings: Finding[],
  path: ConfigPath,
): Record<string, unknown> {
  const known = Object.keys(shape);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // Own keys only: `shape.toString` or `shape.constructor` is Object.prototype's, not a
    // schema, and a key of that name in the file is simply unknown.
    const child = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (child === undefined) {
      findings.push({
        severity: "warning",
        path: [...path, key],
        message: unknownKeyMessage(key, known),
        at: "key",
      });
      continue;
    }
    if (item === null && isOptional(child)) continue;
    out[key] = walkShape(child, item, findings, [...path, key]);
  }
  return out;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hit = suggest(key, known);
  // Quoted as JSON: a key may hold quotes, backslashes or control characters.
  const quoted = JSON.stringify(key);
  if (hit !== undefined) return `unknown key ${quoted} is ignored; did you mean "${hit}"?`;
  return `unknown key ${quoted} is ignored; keys allowed here: ${known.join(", ")}`;
}
