/**
 * Route pattern parsing (docs/behaviour.md#patterns). A pattern is compiled once, when a
 * configuration is loaded, so this file favours exact error messages over speed.
 *
 * @module
 */

import { checkRegexSafety, RegexHazard } from "./regex_safety.ts";

/** One segment of a compiled pattern. */
export type PatternSegment =
  /** Matches exactly `value` (which may be empty: `/a/` ends in an empty segment). */
  | { readonly kind: "static"; readonly value: string }
  /** `:name` or `{name}`: one non-empty segment. */
  | { readonly kind: "param"; readonly name: string }
  /** `{name:regex}`: one non-empty segment that the whole regex matches. */
  | {
    readonly kind: "regex";
    readonly name: string;
    /** The regex as written, without the anchors added for matching. */
    readonly source: string;
    /** The anchored regex: `^(?:source)$`. */
    readonly regex: RegExp;
  }
  /** `*` before the last segment: exactly one non-empty segment. */
  | { readonly kind: "wildcard" }
  /** `*` as the last segment: the rest of the path, one or more non-empty segments. */
  | { readonly kind: "rest" };

/** A validated route pattern. */
export interface CompiledPattern {
  /** The pattern exactly as written in the configuration. */
  readonly source: string;
  /**
   * Equal for two patterns that match exactly the same paths by construction:
   * parameter names are left out (`/x/:a` and `/x/:b` share a key), regexes are
   * compared as written (`{a:\d+}` and `{b:\d+}` share one, `{a:\d+}` and
   * `{a:[0-9]+}` do not). Configuration loading uses it to reject duplicate routes.
   */
  readonly shapeKey: string;
  /** The segments after the leading `/`; `/` itself is one empty static segment. */
  readonly segments: readonly PatternSegment[];
  /** Parameter names in the order they appear. */
  readonly paramNames: readonly string[];
  /** True when every segment is static, so the pattern matches one path only. */
  readonly isStatic: boolean;
  /** How many segments are static (priority rule 2). */
  readonly staticCount: number;
}

/**
 * A route pattern that cannot be compiled. The message names the problem and what
 * is allowed instead, and is meant to be shown to an operator as is.
 */
export class RoutePatternError extends Error {
  /** The pattern as written. */
  readonly pattern: string;
  /** Zero-based character offset in `pattern` where the problem starts. */
  readonly offset: number;

  /**
   * Builds the error; the message reads `invalid route pattern "<pattern>": <problem>`.
   *
   * @param pattern the pattern as written
   * @param offset where the problem starts in `pattern`
   * @param problem what is wrong and what is allowed instead
   */
  constructor(pattern: string, offset: number, problem: string) {
    super(`invalid route pattern ${JSON.stringify(pattern)}: ${problem}`);
    this.name = "RoutePatternError";
    this.pattern = pattern;
    this.offset = offset;
  }
}

// Letters first so that a name never looks like a number or a regex fragment; no "."
// so that "/:file.json" is rejected rather than capturing "file.json" as the name.
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const PARAM_NAME_RULE =
  'a parameter name starts with a letter or "_" and continues with letters, digits, "_" or "-"';

/**
 * Compiles a route pattern (docs/behaviour.md#patterns).
 *
 * Segment forms: static text; `:name`; `{name:regex}` (JavaScript regex syntax, no
 * flags, anchored to the whole segment); `{name}` as a synonym of `:name`; `*` for
 * exactly one segment, or, as the last segment, for the rest of the path. Static
 * text is compared with the request path as sent (percent-encoded, not decoded).
 *
 * Request paths come from anyone, so a regex must be cheap on every input: one that
 * could backtrack catastrophically (`(a+)+`, backreferences, lookarounds; see
 * `regex_safety.ts`) is refused here, and a regex is never run on a segment longer
 * than `MAX_REGEX_SEGMENT` (1 KiB): such a segment does not match it.
 *
 * @example
 * ```ts
 * const p = compilePattern("/api/items/{id:[0-9]+}");
 * p.paramNames; // ["id"]
 * compilePattern("/x/:a").shapeKey === compilePattern("/x/:b").shapeKey; // true
 * ```
 *
 * @throws {RoutePatternError} when the pattern is malformed.
 */
export function compilePattern(path: string): CompiledPattern {
  if (typeof path !== "string") {
    throw new RoutePatternError(String(path), 0, "a route pattern must be a string");
  }
  if (!path.startsWith("/")) {
    throw new RoutePatternError(
      path,
      0,
      'must start with "/" (for example "/v1/chat/completions" or "/api/users/:id")',
    );
  }
  const segments: PatternSegment[] = [];
  const names = new Set<string>();
  let pos = 1;
  for (;;) {
    const { segment, end } = readSegment(path, pos);
    if (segment.kind === "param" || segment.kind === "regex") {
      if (names.has(segment.name)) {
        throw new RoutePatternError(
          path,
          pos,
          `parameter name "${segment.name}" is used twice; each parameter needs its own name`,
        );
      }
      names.add(segment.name);
    }
    segments.push(segment);
    if (end >= path.length) break;
    pos = end + 1; // path[end] is "/"
  }
  const last = segments.length - 1;
  if (segments[last]?.kind === "wildcard") segments[last] = { kind: "rest" };

  let staticCount = 0;
  for (const s of segments) if (s.kind === "static") staticCount++;
  return {
    source: path,
    shapeKey: shapeKeyOf(segments),
    segments,
    paramNames: [...names],
    isStatic: staticCount === segments.length,
    staticCount,
  };
}

function shapeKeyOf(segments: readonly PatternSegment[]): string {
  // JSON keeps the key unambiguous even though regexes and static text may hold any
  // character; the one-character prefixes keep kinds apart.
  return JSON.stringify(segments.map((s) => {
    switch (s.kind) {
      case "static":
        return "=" + s.value;
      case "param":
        return ":";
      case "regex":
        return "{" + s.source;
      case "wildcard":
        return "*";
      case "rest":
        return "**";
    }
  }));
}

function readSegment(path: string, start: number): { segment: PatternSegment; end: number } {
  if (path[start] === "{") {
    const { segment, end } = readBraceParam(path, start);
    if (end < path.length && path[end] !== "/") {
      throw new RoutePatternError(
        path,
        end,
        'a "{name:regex}" parameter must fill the whole segment; text after its closing "}" ' +
          "is not allowed",
      );
    }
    return { segment, end };
  }
  const slash = path.indexOf("/", start);
  const end = slash < 0 ? path.length : slash;
  const raw = path.slice(start, end);

  if (raw === "*") return { segment: { kind: "wildcard" }, end };
  const star = raw.indexOf("*");
  if (star >= 0) {
    throw new RoutePatternError(
      path,
      start + star,
      `"*" is allowed only as a whole segment ("/api/*/docs", "/files/*"), not in "${raw}"`,
    );
  }
  const open = raw.indexOf("{");
  if (open >= 0) {
    throw new RoutePatternError(
      path,
      start + open,
      `"{" may only open a "{name:regex}" parameter that fills the whole segment, ` +
        `not appear inside "${raw}"`,
    );
  }
  const close = raw.indexOf("}");
  if (close >= 0) {
    throw new RoutePatternError(
      path,
      start + close,
      `unbalanced "}" in "${raw}"; braces are allowed only around a whole-segment ` +
        '"{name:regex}" parameter',
    );
  }
  if (raw.startsWith(":")) {
    const name = raw.slice(1);
    if (name === "") {
      throw new RoutePatternError(
        path,
        start,
        `empty parameter name after ":"; write ":name" where ${PARAM_NAME_RULE}`,
      );
    }
    checkName(path, start + 1, name);
    return { segment: { kind: "param", name }, end };
  }
  checkStaticText(path, start, raw);
  return { segment: { kind: "static", value: raw }, end };
}

function readBraceParam(path: string, start: number): { segment: PatternSegment; end: number } {
  const unbalanced = () =>
    new RoutePatternError(
      path,
      start,
      'unbalanced "{": a "{name:regex}" parameter must be closed by a matching "}"',
    );
  let i = start + 1;
  while (i < path.length && path[i] !== ":" && path[i] !== "}") i++;
  if (i >= path.length) throw unbalanced();
  const name = path.slice(start + 1, i);
  if (name === "") {
    throw new RoutePatternError(
      path,
      start,
      `empty parameter name in "{...}"; write "{name:regex}" where ${PARAM_NAME_RULE}`,
    );
  }
  checkName(path, start + 1, name);
  if (path[i] === "}") return { segment: { kind: "param", name }, end: i + 1 };

  // The regex may hold its own braces (quantifiers such as "{2,4}"), escapes and
  // character classes, so the closing "}" is found by walking the regex syntax.
  const reStart = i + 1;
  let depth = 1;
  let inClass = false;
  for (i = reStart; i < path.length; i++) {
    const c = path[i];
    if (c === "\\") {
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
    } else if (c === "{") {
      depth++;
    } else if (c === "}" && --depth === 0) {
      break;
    }
  }
  if (i >= path.length) throw unbalanced();
  const source = path.slice(reStart, i);
  if (source === "") {
    throw new RoutePatternError(
      path,
      start,
      `empty regex in "{${name}:}"; write a regex such as "{${name}:[0-9]+}", ` +
        `or ":${name}" for any segment`,
    );
  }
  return {
    segment: { kind: "regex", name, source, regex: compileRegex(path, reStart, source) },
    end: i + 1,
  };
}

function compileRegex(path: string, offset: number, source: string): RegExp {
  const control = /[\p{Cc}\u2028\u2029]/u.exec(source);
  if (control !== null) {
    // Patterns are metric labels and log fields; a request path never holds one anyway.
    throw new RoutePatternError(
      path,
      offset + control.index,
      `regex ${JSON.stringify(source)} contains the control character ` +
        `${JSON.stringify(control[0])}, which a request path never holds`,
    );
  }
  let regex: RegExp;
  try {
    // Compiled bare first: "a)|(b" would pass once wrapped in "^(?:...)$" but means
    // something else there.
    new RegExp(source);
    regex = new RegExp(`^(?:${source})$`);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new RoutePatternError(
      path,
      offset,
      `regex "${source}" does not compile (${why}); write a JavaScript regular expression ` +
        "without slashes or flags",
    );
  }
  try {
    checkRegexSafety(source);
  } catch (e) {
    if (!(e instanceof RegexHazard)) throw e;
    throw new RoutePatternError(
      path,
      offset + e.offset,
      `regex ${JSON.stringify(source)} may backtrack catastrophically: ${e.problem}`,
    );
  }
  return regex;
}

function checkName(path: string, offset: number, name: string): void {
  if (!PARAM_NAME.test(name)) {
    throw new RoutePatternError(
      path,
      offset,
      `invalid parameter name "${name}"; ${PARAM_NAME_RULE}`,
    );
  }
}

/**
 * Rejects characters that never reach the router in a request path (the URL parser
 * percent-encodes or strips them), since a rule holding one could never match.
 */
function checkStaticText(path: string, start: number, raw: string): void {
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    const c = raw[i]!;
    if (code === 0x3f) {
      throw new RoutePatternError(
        path,
        start + i,
        'contains "?"; patterns match the path without its query string, so leave the ' +
          "query out",
      );
    }
    if (code === 0x23) {
      throw new RoutePatternError(
        path,
        start + i,
        'contains "#"; a fragment is never sent to the server, so leave it out',
      );
    }
    if (code <= 0x20 || code >= 0x7f || '"<>`\\'.includes(c)) {
      const char = String.fromCodePoint(raw.codePointAt(i)!);
      let hint = "";
      try {
        hint = `; write "${encodeURIComponent(char)}" instead`;
      } catch {
        // A lone surrogate has no encoding to suggest.
      }
      throw new RoutePatternError(
        path,
        start + i,
        `contains ${JSON.stringify(char)}, which a request path never holds as is ` +
          `(paths are matched as sent, percent-encoded)${hint}`,
      );
    }
  }
}
