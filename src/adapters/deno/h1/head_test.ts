import assert from "node:assert/strict";
import {
  encodeRequestHead,
  MAX_HEADER_LINES,
  parseResponseHead,
  ProtocolError,
  type ResponseHead,
  writeLatin1,
} from "./head.ts";

/** The bytes of a Latin-1 string (one byte per char), as a socket would deliver them. */
function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  writeLatin1(s, out, 0);
  return out;
}

/** Parses a head given without its final CRLF CRLF. */
function parse(head: string, method = "GET"): ResponseHead {
  const b = bytes(head);
  return parseResponseHead(b, 0, b.length, method);
}

function rejects(head: string, method = "GET"): void {
  assert.throws(() => parse(head, method), ProtocolError, JSON.stringify(head));
}

function header(h: ResponseHead, name: string): string[] {
  return h.headers.filter(([n]) => n === name).map(([, v]) => v);
}

// ---------------------------------------------------------------------------------------
// Request head

Deno.test("request head: request line, Host from the target, caller headers in order, blank line", () => {
  const head = encodeRequestHead("GET", "/v1/models?x=1", "example.com:8080", [
    ["accept", "application/json"],
    ["x-trace", "abc"],
  ], null);
  assert.equal(
    head,
    "GET /v1/models?x=1 HTTP/1.1\r\nhost: example.com:8080\r\naccept: application/json\r\n" +
      "x-trace: abc\r\n\r\n",
  );
});

Deno.test("request head: a body's length is sent as content-length", () => {
  const head = encodeRequestHead("POST", "/", "h", [["content-type", "text/plain"]], 5);
  assert.equal(
    head,
    "POST / HTTP/1.1\r\nhost: h\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n",
  );
  assert.match(encodeRequestHead("GET", "/", "h", [], 0), /\r\ncontent-length: 0\r\n\r\n$/);
});

Deno.test("request head: POST, PUT, PATCH without a body send content-length 0; GET, HEAD, DELETE send none", () => {
  for (const m of ["POST", "PUT", "PATCH"]) {
    assert.equal(
      encodeRequestHead(m, "/", "h", [], null),
      `${m} / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n`,
    );
  }
  for (const m of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
    assert.equal(encodeRequestHead(m, "/", "h", [], null), `${m} / HTTP/1.1\r\nhost: h\r\n\r\n`);
  }
});

Deno.test("request head: hop-by-hop and client-owned headers from the caller are dropped", () => {
  const head = encodeRequestHead("POST", "/", "real.host", [
    ["connection", "close"],
    ["keep-alive", "timeout=5"],
    ["proxy-connection", "keep-alive"],
    ["transfer-encoding", "chunked"],
    ["te", "trailers"],
    ["trailer", "x"],
    ["upgrade", "websocket"],
    ["expect", "100-continue"],
    ["host", "evil.host"],
    ["content-length", "999"],
    ["x-kept", "1"],
  ], 3);
  assert.equal(
    head,
    "POST / HTTP/1.1\r\nhost: real.host\r\nx-kept: 1\r\ncontent-length: 3\r\n\r\n",
  );
});

Deno.test("request head: CR, LF, NUL or chars above U+00FF in a value are a TypeError", () => {
  for (const v of ["a\rb", "a\nb", "a\r\nx-injected: 1", "a\0b", "\u0100", "emoji 😀"]) {
    assert.throws(
      () => encodeRequestHead("GET", "/", "h", [["x-v", v]], null),
      TypeError,
      JSON.stringify(v),
    );
  }
});

Deno.test("request head: header names that are not tokens are a TypeError", () => {
  for (const n of ["", "bad name", "a:b", "x\r\ny", "é", "a\tb", "(x)", "a/b"]) {
    assert.throws(
      () => encodeRequestHead("GET", "/", "h", [[n, "v"]], null),
      TypeError,
      JSON.stringify(n),
    );
  }
});

Deno.test("request head: an invalid method or request target is a TypeError", () => {
  for (const m of ["", "GE T", "GET\r\n", "GET/"]) {
    assert.throws(() => encodeRequestHead(m, "/", "h", [], null), TypeError, JSON.stringify(m));
  }
  for (const t of ["", "/a b", "/a\r\nx: y", "/é", "/\0"]) {
    assert.throws(() => encodeRequestHead("GET", t, "h", [], null), TypeError, JSON.stringify(t));
  }
});

Deno.test("request head: Latin-1 values and tabs pass, written one byte per char", () => {
  const head = encodeRequestHead("GET", "/", "h", [["x-name", "caf\xe9\tok"]], null);
  assert.ok(head.includes("x-name: caf\xe9\tok\r\n"));
  const out = new Uint8Array(head.length + 2);
  const end = writeLatin1(head, out, 2);
  assert.equal(end, head.length + 2);
  const at = head.indexOf("\xe9") + 2;
  assert.equal(out[at], 0xe9);
});

// ---------------------------------------------------------------------------------------
// Response head: status line

Deno.test("response head: HTTP/1.1 status line with a reason", () => {
  const h = parse("HTTP/1.1 404 Not Found Here\r\ncontent-length: 0");
  assert.equal(h.status, 404);
  assert.equal(h.statusText, "Not Found Here");
  assert.equal(h.close, false);
  assert.equal(h.framing, "length");
  assert.equal(h.length, 0);
});

Deno.test("response head: a missing or empty reason phrase gives an empty statusText", () => {
  assert.equal(parse("HTTP/1.1 200\r\ncontent-length: 0").statusText, "");
  assert.equal(parse("HTTP/1.1 200 \r\ncontent-length: 0").statusText, "");
  assert.equal(parse("HTTP/1.1 200").status, 200);
});

Deno.test("response head: a reason phrase Response would refuse becomes empty, status kept", () => {
  const h = parse("HTTP/1.1 200 O\x01K\r\ncontent-length: 0");
  assert.equal(h.status, 200);
  assert.equal(h.statusText, "");
});

Deno.test("response head: HTTP/1.0 closes unless it says keep-alive", () => {
  assert.equal(parse("HTTP/1.0 200 OK\r\ncontent-length: 2").close, true);
  const kept = parse("HTTP/1.0 200 OK\r\ncontent-length: 2\r\nConnection: Keep-Alive");
  assert.equal(kept.close, false);
  assert.equal(kept.framing, "length");
});

Deno.test("response head: HTTP/1.1 with Connection: close (any case, in a list) closes", () => {
  assert.equal(parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close").close, true);
  assert.equal(parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: x-a, CLOSE").close, true);
  assert.equal(
    parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive").close,
    false,
  );
});

Deno.test("response head: status lines that are not HTTP/1.x are rejected", () => {
  for (
    const line of [
      "",
      "HTTP/2 200 OK",
      "HTTP/2.0 200 OK",
      "HTTP/1.2 200 OK",
      "http/1.1 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 099 OK",
      "HTTP/1.1 200OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1\t200 OK",
      " HTTP/1.1 200 OK",
      "HTTP/1.1 abc OK",
      "ICY 200 OK",
      "SSH-2.0-OpenSSH_9.6",
      "HTTP/1.1 200 OK\nx-a: b",
    ]
  ) rejects(line);
});

// ---------------------------------------------------------------------------------------
// Response head: header lines

Deno.test("response head: names are lower-cased and values trimmed of spaces and tabs", () => {
  const h = parse(
    "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \t\r\nX-Empty:\r\nX-B:b c\r\ncontent-length: 0",
  );
  assert.deepEqual(h.headers, [
    ["content-type", "text/plain"],
    ["x-empty", ""],
    ["x-b", "b c"],
    ["content-length", "0"],
  ]);
});

Deno.test("response head: an obs-fold continuation line is rejected", () => {
  rejects("HTTP/1.1 200 OK\r\nx-a: one\r\n two\r\ncontent-length: 0");
  rejects("HTTP/1.1 200 OK\r\nx-a: one\r\n\ttwo: three\r\ncontent-length: 0");
});

Deno.test("response head: whitespace between a header name and its colon is rejected", () => {
  rejects("HTTP/1.1 200 OK\r\ncontent-length : 5");
  rejects("HTTP/1.1 200 OK\r\nx-a\t: b");
  rejects("HTTP/1.1 200 OK\r\n x-a: b");
});

Deno.test("response head: lines without a name, colon, or with invalid bytes are rejected", () => {
  rejects("HTTP/1.1 200 OK\r\n: empty name");
  rejects("HTTP/1.1 200 OK\r\nno colon here");
  rejects("HTTP/1.1 200 OK\r\nx(a): b");
  rejects("HTTP/1.1 200 OK\r\nx-a: b\0c");
  rejects("HTTP/1.1 200 OK\r\nx-a: b\nx-smuggled: c");
  rejects("HTTP/1.1 200 OK\r\nx-a: b\rc");
  rejects("HTTP/1.1 200 OK\r\nx-a: b\x7fc");
});

Deno.test("response head: conflicting Content-Length headers are rejected", () => {
  rejects("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6");
  rejects("HTTP/1.1 200 OK\r\ncontent-length: 5, 6");
  rejects("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5, 7");
});

Deno.test("response head: equal duplicate Content-Length headers and `5, 5` are one length", () => {
  for (
    const head of [
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5",
      "HTTP/1.1 200 OK\r\nContent-Length: 5, 5",
      "HTTP/1.1 200 OK\r\nContent-Length: 5,5 , 5",
    ]
  ) {
    const h = parse(head);
    assert.equal(h.framing, "length", head);
    assert.equal(h.length, 5, head);
    assert.deepEqual(header(h, "content-length"), ["5"], head);
  }
});

Deno.test("response head: Content-Length that is not plain digits is rejected", () => {
  for (const v of ["", "-1", "+5", "0x5", "5 5", "1e3", "5.0", "five", "1234567890123456", "5,"]) {
    rejects(`HTTP/1.1 200 OK\r\ncontent-length: ${v}`);
  }
  assert.equal(parse("HTTP/1.1 200 OK\r\ncontent-length: 000123456789012").length, 123456789012);
});

Deno.test("response head: Transfer-Encoding chunked wins over Content-Length and closes the connection after", () => {
  const h = parse("HTTP/1.1 200 OK\r\ncontent-length: 10\r\ntransfer-encoding: chunked");
  assert.equal(h.framing, "chunked");
  assert.equal(h.length, -1);
  assert.equal(h.close, true);
  assert.deepEqual(header(h, "content-length"), []);
  assert.deepEqual(header(h, "transfer-encoding"), []);
  // The order of the two headers does not matter.
  const r = parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 10");
  assert.equal(r.framing, "chunked");
  assert.equal(r.close, true);
});

Deno.test("response head: chunked alone keeps the connection; any case is chunked", () => {
  const h = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked");
  assert.equal(h.framing, "chunked");
  assert.equal(h.close, false);
  assert.equal(h.length, -1);
});

Deno.test("response head: chunked after other codings (one or several lines) is chunked, connection closed", () => {
  for (
    const te of [
      "transfer-encoding: gzip, chunked",
      "transfer-encoding: gzip\r\ntransfer-encoding: chunked",
    ]
  ) {
    const h = parse(`HTTP/1.1 200 OK\r\n${te}`);
    assert.equal(h.framing, "chunked", te);
    assert.equal(h.close, true, te);
  }
});

Deno.test("response head: a Transfer-Encoding not ending in chunked is read until close", () => {
  for (const te of ["chunked, gzip", "gzip", "identity", "chunked\r\ntransfer-encoding: gzip"]) {
    const h = parse(`HTTP/1.1 200 OK\r\ncontent-length: 4\r\ntransfer-encoding: ${te}`);
    assert.equal(h.framing, "close", te);
    assert.equal(h.close, true, te);
    assert.equal(h.length, -1, te);
    assert.deepEqual(header(h, "content-length"), [], te);
  }
});

Deno.test("response head: no length and no coding means the body runs until close", () => {
  const h = parse("HTTP/1.1 200 OK\r\ncontent-type: text/plain");
  assert.equal(h.framing, "close");
  assert.equal(h.close, true);
});

Deno.test("response head: HEAD answers have no body, keep their Content-Length and the connection", () => {
  const h = parse("HTTP/1.1 200 OK\r\ncontent-length: 1000", "HEAD");
  assert.equal(h.framing, "none");
  assert.equal(h.length, -1);
  assert.equal(h.close, false);
  assert.deepEqual(header(h, "content-length"), ["1000"]);
  const c = parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", "HEAD");
  assert.equal(c.framing, "none");
  assert.equal(c.close, false);
  // Without Content-Length a HEAD answer does not need the connection closed either.
  assert.equal(parse("HTTP/1.1 200 OK", "HEAD").close, false);
});

Deno.test("response head: 204 and 304 have no body; 304 keeps its Content-Length, 204 drops it", () => {
  const n = parse("HTTP/1.1 204 No Content\r\ncontent-length: 7");
  assert.equal(n.framing, "none");
  assert.equal(n.close, false);
  assert.deepEqual(header(n, "content-length"), []);
  const nm = parse('HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\netag: "x"');
  assert.equal(nm.framing, "none");
  assert.equal(nm.close, false);
  assert.deepEqual(header(nm, "content-length"), ["7"]);
  assert.equal(parse("HTTP/1.1 204 No Content").close, false);
});

Deno.test("response head: 1xx answers have no body", () => {
  for (const s of [100, 102, 103]) {
    const h = parse(`HTTP/1.1 ${s} Info\r\nlink: </a>; rel=preload`);
    assert.equal(h.status, s);
    assert.equal(h.framing, "none");
  }
});

Deno.test("response head: hop-by-hop headers and those named in Connection are not passed on", () => {
  const h = parse(
    "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nconnection: x-other-hop\r\n" +
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\n" +
      "TE: trailers\r\nTrailer: x-t\r\nUpgrade: h2c\r\nX-Secret: 1\r\nx-other-hop: 2\r\n" +
      "x-kept: 3\r\ncontent-type: text/plain\r\ncontent-length: 0",
  );
  assert.deepEqual(h.headers, [
    ["x-kept", "3"],
    ["content-type", "text/plain"],
    ["content-length", "0"],
  ]);
  assert.equal(h.close, false);
});

Deno.test("response head: Keep-Alive timeout= is read in milliseconds", () => {
  const ka = (v: string) =>
    parse(`HTTP/1.1 200 OK\r\ncontent-length: 0\r\nkeep-alive: ${v}`).keepAliveMs;
  assert.equal(ka("timeout=5"), 5000);
  assert.equal(ka("timeout=5, max=1000"), 5000);
  assert.equal(ka("max=1000, timeout=2"), 2000);
  assert.equal(ka("Timeout=3"), 3000);
  assert.equal(ka("max=1000"), undefined);
  assert.equal(ka("timeout=abc"), undefined);
  assert.equal(ka("mytimeout=5"), undefined);
  assert.equal(parse("HTTP/1.1 200 OK\r\ncontent-length: 0").keepAliveMs, undefined);
});

Deno.test("response head: Latin-1 bytes in values are kept as one char per byte", () => {
  const b = new Uint8Array([...bytes("HTTP/1.1 200 OK\r\nx-name: caf"), 0xe9, 0xff, 0x80]);
  const h = parseResponseHead(b, 0, b.length, "GET");
  assert.deepEqual(header(h, "x-name"), ["caf\xe9\xff\x80"]);
  // And such a value is one a Response accepts unchanged.
  const r = new Response(null, { headers: h.headers });
  assert.equal(r.headers.get("x-name"), "caf\xe9\xff\x80");
});

Deno.test("response head: a head in the middle of a buffer is parsed from start to end only", () => {
  const text = "garbageHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nabc";
  const b = bytes(text);
  const start = 7;
  const end = text.indexOf("\r\n\r\n");
  const h = parseResponseHead(b, start, end, "POST");
  assert.equal(h.status, 201);
  assert.equal(h.statusText, "Created");
  assert.equal(h.length, 3);
});

Deno.test("response head: at most MAX_HEADER_LINES header lines", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: ${i}`).join("\r\n");
  const ok = parse(`HTTP/1.1 200 OK\r\n${lines(MAX_HEADER_LINES - 1)}\r\ncontent-length: 0`);
  assert.equal(ok.headers.length, MAX_HEADER_LINES);
  rejects(`HTTP/1.1 200 OK\r\n${lines(MAX_HEADER_LINES)}\r\ncontent-length: 0`);
});
