/**
 * `${VAR}` expansion in configuration strings, so that keys stay out of the file.
 *
 * Rules (every string value, at any depth; keys are never expanded):
 * - `${NAME}` is the variable's value; unset is an error naming the variable. A variable
 *   set to the empty string expands to the empty string.
 * - `${NAME:-default}` is the value, or `default` when the variable is unset or empty
 *   (the shell's meaning of `:-`). The default runs to the first `}` and is not itself
 *   expanded.
 * - `$${` is a literal `${` (so a value can contain `${` without being expanded).
 * - Any other `${` is an error: it is almost always a typo, and passing it through would
 *   send a placeholder to the provider as a key.
 * - `NAME` is letters, digits and `_`, not starting with a digit.
 *
 * @module
 */

import type { ConfigPath, Finding } from "./diagnostics.ts";

/** Looks a variable up; `undefined` means unset. */
export type EnvLookup = (name: string) => string | undefined;

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/**
 * Expands one string. Problems are reported into `findings` at `path`; the result is
 * still a string (with the faulty reference left as written) so validation can go on.
 *
 * @example
 * ```ts
 * const env = (n: string) => ({ PORT: "8080" } as Record<string, string>)[n];
 * expandString("${PORT}", env, [], []); // "8080"
 * expandString("${HOST:-0.0.0.0}", env, [], []); // "0.0.0.0"
 * expandString("$${PORT}", env, [], []); // "${PORT}"
 * ```
 */
export function expandString(
  text: string,
  env: EnvLookup,
  findings: Finding[],
  path: ConfigPath,
): string {
  if (!text.includes("${")) return text;
  return text.replace(REFERENCE, (match, name: string | undefined, fallback?: string) => {
    if (match === "$${") return "${";
    if (name === undefined) {
      findings.push({
        severity: "error",
        path,
        message: `invalid variable reference in ${JSON.stringify(text)}: ` +
          "write ${NAME} or ${NAME:-default} (NAME of letters, digits and _), " +
          "or $${ for a literal ${",
      });
      return match;
    }
    const value = env(name);
    if (fallback !== undefined) return value === undefined || value === "" ? fallback : value;
    if (value !== undefined) return value;
    findings.push({
      severity: "error",
      path,
      message: `environment variable "${name}" is not set and has no default ` +
        `(write \${${name}:-value} to give one)`,
    });
    return match;
  });
}

/** Returns a copy of `value` with every string expanded (see the module rules). */
export function expandEnv(
  value: unknown,
  env: EnvLookup,
  findings: Finding[],
  path: ConfigPath = [],
): unknown {
  if (typeof value === "string") return expandString(value, env, findings, path);
  if (Array.isArray(value)) {
    return value.map((item, i) => expandEnv(item, env, findings, [...path, i]));
  }
  if (typeof value === "object" && value !== null) {
    // fromEntries defines own properties: `out[key] = …` with the key "__proto__" would
    // replace the copy's prototype instead (outside Deno), and the key would vanish.
    const out: [string, unknown][] = [];
    for (const [key, item] of Object.entries(value)) {
      out.push([key, expandEnv(item, env, findings, [...path, key])]);
    }
    return Object.fromEntries(out);
  }
  return value;
}
