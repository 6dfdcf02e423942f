import * as nodeStream from "node:stream";
import type { Readable } from "node:stream";
import { markHasBody } from "../../core/proxy/native_body.ts";
import { readableToWeb } from "./streams.ts";

/**
 * The client's `Request` and the upstream's `Response`, made without running the
 * `Request`/`Response` constructors, and with bodies that stay Node streams until
 * someone asks for a web stream (src/core/proxy/native_body.ts).
 *
 * On Node 20 a web `ReadableStream` costs about 11 µs to create, and the `Request`
 * constructor about 12 µs under load (it parses the URL, copies the headers and makes an
 * `AbortController` and its signal), the `Response` one about 6. The proxy's common path
 * needs none of that: it reads the method, URL, headers and status, reads a request body
 * of declared length whole, and hands an answer to the writer untouched, which pipes the
 * upstream's `Readable` to the client.
 *
 * So these are objects of classes whose prototype chain leads to `Request.prototype` and
 * `Response.prototype` (`instanceof` holds), answering what the proxy uses themselves
 * (`method`, `url`, `headers`, `body`, `arrayBuffer()`; `status`, `statusText`, `ok`,
 * `headers`, `body`) and everything else (`signal`, `clone()`, `json()`, `type`…)
 * through a real `Request`/`Response`, made on first such use around the same headers
 * and the same (web) body. What the constructors check is checked here too, with the
 * same errors: a URL that does not parse or has credentials, a forbidden or malformed
 * method, a status outside 200–599, a reason phrase that is not one.
 */
const SOURCE: unique symbol = Symbol("llmproxy.nodeBody");

interface Source {
  readonly readable: Readable;
  readonly onCancel: (reason: unknown) => void;
  web: ReadableStream<Uint8Array> | undefined;
  /** Read whole natively (`arrayBuffer()`). */
  used: boolean;
}

function sourceOf(readable: Readable, onCancel: (reason: unknown) => void): Source {
  return { readable, onCancel, web: undefined, used: false };
}

function webOf(source: Source): ReadableStream<Uint8Array<ArrayBuffer>> {
  return (source.web ??= readableToWeb(source.readable, source.onCancel)) as ReadableStream<
    Uint8Array<ArrayBuffer>
  >;
}

/** `stream.isDisturbed` (Node 16.8+, Deno), missing from the type definitions. */
const isDisturbed = (nodeStream as unknown as { isDisturbed(s: ReadableStream): boolean })
  .isDisturbed;

function bodyUsedOf(source: Source | undefined, real: Request | Response | undefined): boolean {
  if (source === undefined) return false;
  return source.used || (real !== undefined && real.bodyUsed) ||
    (source.web !== undefined && isDisturbed(source.web));
}

/** What the fallback builds on: the real object, made once. */
const REAL: unique symbol = Symbol("llmproxy.real");

/**
 * Gives `cls` every member of `base.prototype` it does not define itself, each
 * answered by `this[REAL]()`: the same getters and methods as a real object, for the
 * rare callers that need more than the proxy's path.
 */
// deno-lint-ignore no-explicit-any
function delegateTheRest(cls: { prototype: any }, base: { prototype: object }): void {
  Object.setPrototypeOf(cls.prototype, base.prototype);
  for (const key of Reflect.ownKeys(base.prototype)) {
    if (key === "constructor" || key === Symbol.toStringTag) continue;
    if (Object.prototype.hasOwnProperty.call(cls.prototype, key)) continue;
    const d = Object.getOwnPropertyDescriptor(base.prototype, key)!;
    if (typeof d.value === "function") {
      const name = key;
      Object.defineProperty(cls.prototype, key, {
        // deno-lint-ignore no-explicit-any
        value: function (this: any, ...args: unknown[]) {
          const real = this[REAL]();
          return real[name](...args);
        },
        writable: true,
        configurable: true,
      });
    } else if (d.get !== undefined) {
      const name = key;
      Object.defineProperty(cls.prototype, key, {
        // deno-lint-ignore no-explicit-any
        get(this: any) {
          return this[REAL]()[name];
        },
        configurable: true,
      });
    }
  }
}

/** Methods the `Request` constructor upper-cases (Fetch: normalize a method). */
const NORMALIZED = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
/** Methods the `Request` constructor refuses. */
const FORBIDDEN = new Set(["CONNECT", "TRACE", "TRACK"]);
/** An HTTP token (RFC 9110 §5.6.2), what a method must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A client's request. `readable` is its body (absent: none), `onCancel` as for
 * {@linkcode readableToWeb}; `body` is a web stream made on first use, `arrayBuffer()`
 * reads the Node stream natively while no web stream was made. Throws a `TypeError`
 * where `new Request(url, { method, headers })` would.
 */
export class NodeBodyRequest {
  readonly #url: string;
  readonly #method: string;
  readonly #headers: Headers;
  readonly [SOURCE]: Source | undefined;
  #real: Request | undefined;

  constructor(
    url: string,
    init: { method: string; headers: Headers },
    readable?: Readable,
    onCancel?: (reason: unknown) => void,
  ) {
    const parsed = new URL(url);
    if (parsed.username !== "" || parsed.password !== "") {
      throw new TypeError(`Request cannot be constructed from a URL that includes credentials`);
    }
    let method = init.method;
    if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
    const upper = method.toUpperCase();
    if (FORBIDDEN.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
    if (NORMALIZED.has(upper)) method = upper;
    this.#url = parsed.href;
    this.#method = method;
    this.#headers = init.headers;
    this.#real = undefined;
    this[SOURCE] = readable === undefined ? undefined : sourceOf(readable, onCancel!);
    markHasBody(this as unknown as Request, readable !== undefined);
  }

  get url(): string {
    return this.#url;
  }

  get method(): string {
    return this.#method;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    const source = this[SOURCE];
    return source === undefined ? null : webOf(source);
  }

  get bodyUsed(): boolean {
    return bodyUsedOf(this[SOURCE], this.#real);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const source = this[SOURCE];
    if (source === undefined) return Promise.resolve(new ArrayBuffer(0));
    if (source.web !== undefined) return new Response(source.web).arrayBuffer();
    if (source.used) {
      return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    }
    source.used = true;
    return collect(source.readable);
  }

  /** A real `Request` with the same method, URL, headers and body (made once). */
  [REAL](): Request {
    if (this.#real === undefined) {
      const source = this[SOURCE];
      this.#real = new Request(this.#url, {
        method: this.#method,
        headers: this.#headers,
        ...(source === undefined ? {} : { body: webOf(source), duplex: "half" }),
      } as RequestInit);
    }
    return this.#real;
  }
}
delegateTheRest(NodeBodyRequest, Request);

/** `new NodeBodyRequest(…)` as the `Request` it stands for. */
export function nodeRequest(
  url: string,
  init: { method: string; headers: Headers },
  readable?: Readable,
  onCancel?: (reason: unknown) => void,
): Request {
  return new NodeBodyRequest(url, init, readable, onCancel) as unknown as Request;
}

/** A reason phrase (RFC 9112 §4): HTAB, SP, VCHAR, obs-text. */
function isReasonPhrase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return false;
  }
  return true;
}

/**
 * An upstream answer whose body is a Node stream: `body` is made on first use. Throws
 * a `RangeError` or `TypeError` where `new Response(body, init)` would.
 */
export class NodeBodyResponse {
  readonly #status: number;
  readonly #statusText: string;
  readonly #headers: Headers;
  readonly [SOURCE]: Source;
  #real: Response | undefined;

  constructor(
    init: { status?: number; statusText?: string; headers?: Headers },
    readable: Readable,
    onCancel: (reason: unknown) => void,
  ) {
    const status = init.status ?? 200;
    if (status < 200 || status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
    }
    const statusText = init.statusText ?? "";
    if (!isReasonPhrase(statusText)) throw new TypeError("Invalid statusText");
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = init.headers ?? new Headers();
    this.#real = undefined;
    this[SOURCE] = sourceOf(readable, onCancel);
    markHasBody(this as unknown as Response, true);
  }

  get status(): number {
    return this.#status;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return webOf(this[SOURCE]);
  }

  get bodyUsed(): boolean {
    return bodyUsedOf(this[SOURCE], this.#real);
  }

  /** A real `Response` with the same status, headers and body (made once). */
  [REAL](): Response {
    return this.#real ??= new Response(webOf(this[SOURCE]), {
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
    });
  }
}
delegateTheRest(NodeBodyResponse, Response);

/** `new NodeBodyResponse(…)` as the `Response` it stands for. */
export function nodeResponse(
  init: { status?: number; statusText?: string; headers?: Headers },
  readable: Readable,
  onCancel: (reason: unknown) => void,
): Response {
  return new NodeBodyResponse(init, readable, onCancel) as unknown as Response;
}

/** The Node stream behind `response`'s body while nothing made it a web stream. */
export function untouchedNodeBody(response: Response): Readable | undefined {
  if (!((response as unknown) instanceof NodeBodyResponse)) return undefined;
  const source = (response as unknown as NodeBodyResponse)[SOURCE];
  return source.web === undefined ? source.readable : undefined;
}

/**
 * All of `src`, as the core's read of a request body of declared length. Rejects when
 * it fails or closes before its end (the client left), never resolves with a part.
 */
function collect(src: Readable): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    const onData = (chunk: Uint8Array) => {
      parts.push(chunk);
      size += chunk.byteLength;
    };
    const cleanup = () => {
      src.off("data", onData);
      src.off("end", onEnd);
      src.off("error", onError);
      src.off("close", onClose);
    };
    const onEnd = () => {
      cleanup();
      const out = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.byteLength;
      }
      resolve(out.buffer);
    };
    const onError = (e: unknown) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the request body closed before its end"));
    };
    src.on("data", onData);
    src.once("end", onEnd);
    src.once("error", onError);
    src.once("close", onClose);
    src.resume();
  });
}
