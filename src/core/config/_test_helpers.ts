/**
 * Shared pieces of the configuration tests. Not part of the module's API.
 *
 * @module
 */

import { formatDiagnostic, type LoadResult } from "./diagnostics.ts";
import type { RouteCompiler } from "./cross_check.ts";

/**
 * A stand-in for the routing module's compiler, so these tests do not depend on it:
 * patterns must start with "/", parameter names are left out of the shape key.
 */
export const fakeCompileRoute: RouteCompiler = (path) => {
  if (!path.startsWith("/")) {
    throw new Error(`invalid route pattern ${JSON.stringify(path)}: must start with "/"`);
  }
  const shapeKey = path
    .split("/")
    .map((s) =>
      s.startsWith(":") ? ":" : s.replace(/^\{[^:}]*(?::(.*))?\}$/, (_, re) => `{${re ?? ""}}`)
    )
    .join("/");
  return { shapeKey };
};

/** A small valid configuration as plain data, to be changed by each test. */
export function baseConfig(): Record<string, unknown> {
  return {
    http_server: { forwards: [{ name: "f", default_group: "g" }] },
    upstreams: [{ name: "u", url: "https://api.example.com" }],
    upstream_groups: [{ name: "g", upstreams: [{ name: "u" }] }],
  };
}

/** Sets `value` at a dotted path with `[i]` indexes, creating mappings on the way. */
export function setAt(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let node = target as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Every error and warning of a result, formatted, errors first. */
export function report(file: string, result: LoadResult): string[] {
  const errors = result.ok ? [] : result.errors;
  return [...errors, ...result.warnings].map((d) => formatDiagnostic(file, d));
}

/**
 * Runs `fn` with `Object.prototype.__proto__` working, as Node and Workers have it.
 * Deno disables it (reading gives `undefined`, writing does nothing), so there
 * `obj["__proto__"] = value` is harmless; elsewhere it replaces the prototype, and a
 * configuration key of that name would vanish.
 */
export function withProtoAccessor<T>(fn: () => T): T {
  const saved = Object.getOwnPropertyDescriptor(Object.prototype, "__proto__");
  Object.defineProperty(Object.prototype, "__proto__", {
    configurable: true,
    get(this: object) {
      return Object.getPrototypeOf(this);
    },
    set(this: object, proto: unknown) {
      if (typeof proto === "object" || typeof proto === "function") {
        Object.setPrototypeOf(this, proto);
      }
    },
  });
  try {
    return fn();
  } finally {
    if (saved === undefined) delete (Object.prototype as { __proto__?: unknown }).__proto__;
    else Object.defineProperty(Object.prototype, "__proto__", saved);
  }
}
