/**
 * HTTP syntax checks for configured header operations and URLs.
 *
 * @module
 */

import { describeCharacter } from "./text.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `name` is an HTTP field name (an RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * Whether `value` can be sent as an HTTP field value (RFC 9110 §5.5): tab, visible
 * ASCII, space and Latin-1 only. CR, LF and NUL would split or end the header; other
 * control characters are refused by some runtimes (Node's `http`) and not others, so a
 * value holding one would fail only on some; anything wider than Latin-1 is refused by
 * `Headers` everywhere.
 */
export function isHeaderValue(value: string): boolean {
  return headerValueProblem(value) === undefined;
}

/**
 * Describes the first character that keeps `value` from being an HTTP field value
 * (`a line break`, `the control character U+0001`, `the character "€" (U+20AC)`), or
 * `undefined` when it is one. Names the character only, so it serves for secrets too.
 */
export function headerValueProblem(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 9 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff)) continue;
    return describeCharacter(String.fromCodePoint(value.codePointAt(i)!));
  }
  return undefined;
}

/** Whether `text` is an absolute `http:` or `https:` URL with a host. */
export function isHttpUrl(text: string): boolean {
  // The URL parser forgives `http:host` and surrounding blanks; a config should not.
  if (!/^https?:\/\/\S+$/i.test(text)) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}
