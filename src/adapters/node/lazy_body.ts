import type { Readable } from "node:stream";
import { markHasBody } from "../../core/proxy/native_body.ts";
import { readableToWeb } from "./streams.ts";

/**
 * Bodies that stay Node streams until someone asks for a web stream
 * (src/core/proxy/native_body.ts): the client's request body and the upstream's answer.
 * On Node 20 a web `ReadableStream` costs about 11 µs to create and a `Request` or
 * `Response` around one 15 µs more; the proxy's common path needs neither: it reads a
 * request body of declared length whole, and hands an answer of declared length to the
 * writer untouched, which pipes the upstream's `Readable` to the client.
 */

const SOURCE: unique symbol = Symbol("llmproxy.nodeBody");

interface Source {
  readonly readable: Readable;
  readonly onCancel: (reason: unknown) => void;
  web: ReadableStream<Uint8Array> | undefined;
}

function sourceOf(readable: Readable, onCancel: (reason: unknown) => void): Source {
  return { readable, onCancel, web: undefined };
}

function webOf(source: Source): ReadableStream<Uint8Array<ArrayBuffer>> {
  return (source.web ??= readableToWeb(source.readable, source.onCancel)) as ReadableStream<
    Uint8Array<ArrayBuffer>
  >;
}

/**
 * A client's request whose body is a Node stream (`onCancel` as for
 * {@linkcode readableToWeb}): `body` is a web stream made on first use, `arrayBuffer()`
 * reads the Node stream natively while no web stream was made. Subclasses, not
 * properties defined per object: defining them on each `Request` cost about 5 µs.
 */
export class NodeBodyRequest extends Request {
  readonly [SOURCE]: Source;

  constructor(
    url: string,
    init: { method: string; headers: Headers },
    readable: Readable,
    onCancel: (reason: unknown) => void,
  ) {
    super(url, init);
    this[SOURCE] = sourceOf(readable, onCancel);
    markHasBody(this, true);
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return webOf(this[SOURCE]);
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    const source = this[SOURCE];
    return source.web !== undefined
      ? new Response(source.web).arrayBuffer()
      : collect(source.readable);
  }
}

/** An upstream answer whose body is a Node stream: `body` is made on first use. */
export class NodeBodyResponse extends Response {
  readonly [SOURCE]: Source;

  constructor(
    init: ResponseInit,
    readable: Readable,
    onCancel: (reason: unknown) => void,
  ) {
    super(null, init);
    this[SOURCE] = sourceOf(readable, onCancel);
    markHasBody(this, true);
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return webOf(this[SOURCE]);
  }
}

/** The Node stream behind `response`'s body while nothing made it a web stream. */
export function untouchedNodeBody(response: Response): Readable | undefined {
  if (!(response instanceof NodeBodyResponse)) return undefined;
  const source = response[SOURCE];
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
