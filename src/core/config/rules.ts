/**
 * zod building blocks whose messages say what is wrong and what is allowed
 * (`must be an integer from 1 to 65535, got 70000`).
 *
 * A message for a key that is missing altogether is written by the loader instead
 * (`required key "url" is missing`), because only it knows the key was absent rather
 * than wrong.
 *
 * @module
 */

import { z } from "zod";
import { describeValue } from "./diagnostics.ts";
import { didYouMean } from "./did_you_mean.ts";
import { isPrintable } from "./text.ts";

type ErrorFn = (issue: { readonly input?: unknown }) => string;

/** An error function reading `must be <what>, got <input>`. */
export function mustBe(what: string): ErrorFn {
  return (issue) => `must be ${what}, got ${describeValue(issue.input)}`;
}

/** An integer within `[min, max]`. */
export function intIn(min: number, max: number) {
  const error = mustBe(`an integer from ${min} to ${max}`);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A number within `[min, max]`; `minText`/`maxText` spell the bounds as the docs do (`1.0`). */
export function numberIn(min: number, max: number, minText = String(min), maxText = String(max)) {
  const error = mustBe(`a number from ${minText} to ${maxText}`);
  return z.number({ error }).min(min, { error }).max(max, { error });
}

/** `true` or `false`. */
export function bool() {
  return z.boolean({ error: mustBe("true or false") });
}

/**
 * Like {@linkcode mustBe} for free text: a number or boolean where text is wanted gets a
 * hint to quote it. It is not converted, because YAML has already reshaped it
 * (`0123` became 123, `1e3` became 1000) and a password would silently change.
 */
export function mustBeText(what: string): ErrorFn {
  const base = mustBe(what);
  return (issue) => {
    const t = typeof issue.input;
    const hint = t === "number" || t === "boolean"
      ? "; put it in quotes if it is meant as text"
      : "";
    return base(issue) + hint;
  };
}

/**
 * A non-empty string holding a secret (token, password): messages name the kind of
 * value that came, never the value, since they end up in logs. `problem`, when given,
 * describes what else is wrong with a non-empty string (`a line break`), or returns
 * `undefined` when nothing is; `what` says what is wanted then.
 */
export function secret(
  what = "a non-empty string",
  problem: (text: string) => string | undefined = () => undefined,
) {
  const kindOf = (v: unknown): string =>
    typeof v === "number"
      ? "a number; put it in quotes if it is meant as text"
      : typeof v === "boolean"
      ? "a boolean; put it in quotes if it is meant as text"
      : typeof v === "string"
      ? "an empty string"
      : describeValue(v);
  const error: ErrorFn = (issue) => {
    const v = issue.input;
    const wrong = typeof v === "string" && v !== "" ? problem(v) : undefined;
    // Text of the wrong kind hears the plain rule; text with a bad character, the full one.
    if (wrong === undefined) return `must be a non-empty string, got ${kindOf(v)}`;
    return `must be ${what}, got a value with ${wrong}`;
  };
  return z.string({ error }).min(1, { error }).refine((v) => problem(v) === undefined, {
    error,
  });
}

/** A string that is not empty. */
export function nonEmpty(what = "a non-empty string") {
  const error = mustBeText(what);
  return z.string({ error }).min(1, { error });
}

/**
 * A name (of a forward, upstream or group, or a reference to one): not empty, and
 * without control characters, line separators or unpaired surrogates, because names
 * become metric labels and log fields, where a CR or LF would forge a line.
 */
export function name(what = "a non-empty string") {
  const error = mustBe(`${what} without control characters (such as CR, LF, tab or NUL)`);
  return nonEmpty(what).refine(isPrintable, { error });
}

/** A string accepted by `check`, described by `what` in messages. */
export function stringThat(what: string, check: (text: string) => boolean) {
  const error = mustBe(what);
  return z.string({ error }).refine(check, { error });
}

/** One of `values`, with a "did you mean" for near misses. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue: { readonly input?: unknown }) => {
      const got = describeValue(issue.input);
      const hint = typeof issue.input === "string" ? didYouMean(issue.input, values) : "";
      return `must be one of ${values.join(", ")}, got ${got}${hint}`;
    },
  });
}

/** A mapping with the given keys; keys not in `shape` are dropped (the loader warns). */
export function mapping<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape, { error: mustBe("a mapping") });
}

/** A list of `item`. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item, { error: mustBe("a list") });
}
