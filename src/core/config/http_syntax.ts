/**
 * HTTP syntax checks for configured header operations and URLs.
 *
 * @module
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `name` is an HTTP field name (an RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * Whether `value` can be sent as an HTTP field value: no CR, LF or NUL (they would split
 * or end the header), and only Latin-1 characters (`Headers` refuses anything wider).
 */
export function isHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13 || c > 255) return false;
  }
  return true;
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
