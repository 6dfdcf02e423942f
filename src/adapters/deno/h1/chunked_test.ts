import assert from "node:assert/strict";
import { ChunkedDecoder } from "./chunked.ts";
import { ProtocolError } from "./head.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds `body` in the pieces cut at `cuts`; returns the data, the decoder and what each feed returned. */
function decode(body: Uint8Array | string, cuts: number[] = []) {
  const b = typeof body === "string" ? enc.encode(body) : body;
  const d = new ChunkedDecoder();
  const out: number[] = [];
  const used: number[] = [];
  const bounds = [0, ...cuts, b.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    // Each piece in its own buffer, as separate reads would give it.
    const piece = b.slice(bounds[k], bounds[k + 1]);
    used.push(d.feed(piece, 0, piece.length, (data) => out.push(...data)));
  }
  return { data: new Uint8Array(out), decoder: d, used };
}

function rejects(body: string, cuts: number[] = []): void {
  assert.throws(() => decode(body, cuts), ProtocolError, JSON.stringify(body));
}

const VALID = "5\r\nhello\r\n1A;name=value\r\n" + "abcdefghijklmnopqrstuvwxyz" +
  "\r\n3\r\n\r\n\r\r\n0\r\nx-trailer: 1\r\n\r\n";
const VALID_DATA = "hello" + "abcdefghijklmnopqrstuvwxyz" + "\r\n\r";

Deno.test("chunked: a valid body gives its data in one feed", () => {
  const { data, decoder, used } = decode(VALID);
  assert.equal(dec.decode(data), VALID_DATA);
  assert.equal(decoder.done, true);
  assert.deepEqual(used, [VALID.length]);
});

Deno.test("chunked: a valid body cut at every byte position gives the same data", () => {
  for (let i = 0; i <= VALID.length; i++) {
    const { data, decoder } = decode(VALID, [i]);
    assert.equal(dec.decode(data), VALID_DATA, `cut at ${i}`);
    assert.equal(decoder.done, true, `cut at ${i}`);
  }
});

Deno.test("chunked: a valid body cut at every pair of positions gives the same data", () => {
  for (let i = 0; i <= VALID.length; i++) {
    for (let j = i; j <= VALID.length; j++) {
      const { data, decoder } = decode(VALID, [i, j]);
      assert.equal(dec.decode(data), VALID_DATA, `cut at ${i}, ${j}`);
      assert.equal(decoder.done, true, `cut at ${i}, ${j}`);
    }
  }
});

Deno.test("chunked: fed one byte at a time gives the same data, done only at the very end", () => {
  const b = enc.encode(VALID);
  const d = new ChunkedDecoder();
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    assert.equal(d.done, false, `before byte ${i}`);
    assert.equal(d.feed(b, i, i + 1, (x) => out.push(...x)), i + 1);
  }
  assert.equal(d.done, true);
  assert.equal(dec.decode(new Uint8Array(out)), VALID_DATA);
});

Deno.test("chunked: binary data (CR, LF, NUL, 0xFF) passes through unchanged", () => {
  const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const head = enc.encode(payload.length.toString(16) + "\r\n");
  const tail = enc.encode("\r\n0\r\n\r\n");
  const body = new Uint8Array([...head, ...payload, ...tail]);
  for (const cut of [0, 1, head.length, head.length + 1, head.length + 299, body.length - 3]) {
    const { data, decoder } = decode(body, [cut]);
    assert.deepEqual(data, payload, `cut at ${cut}`);
    assert.equal(decoder.done, true);
  }
});

Deno.test("chunked: hex sizes in either case and with leading zeros", () => {
  const a = "x".repeat(10);
  for (const size of ["a", "A", "0000a", "00A"]) {
    const { data, decoder } = decode(`${size}\r\n${a}\r\n0\r\n\r\n`);
    assert.equal(dec.decode(data), a, size);
    assert.equal(decoder.done, true, size);
  }
  const big = "f".repeat(16) + "a".repeat(15) + "0".repeat(15); // 46 bytes: 0x2e
  assert.equal(dec.decode(decode(`2e\r\n${big}\r\n0\r\n\r\n`).data), big);
});

Deno.test("chunked: chunk extensions are ignored, on data chunks and the last chunk", () => {
  for (
    const body of [
      "5;a=b\r\nhello\r\n0\r\n\r\n",
      "5;a\r\nhello\r\n0;last=1\r\n\r\n",
      '5;a="quoted ; value";b=2\r\nhello\r\n0\r\n\r\n',
      "5 ;a=b\r\nhello\r\n0\r\n\r\n",
      "5\t;a=b\r\nhello\r\n0\r\n\r\n",
    ]
  ) {
    const { data, decoder } = decode(body);
    assert.equal(dec.decode(data), "hello", body);
    assert.equal(decoder.done, true, body);
  }
});

Deno.test("chunked: trailer fields are read and dropped", () => {
  const body = "5\r\nhello\r\n0\r\nx-checksum: abc\r\nx-other: 1\r\n\r\n";
  for (let i = 0; i <= body.length; i++) {
    const { data, decoder, used } = decode(body, [i]);
    assert.equal(dec.decode(data), "hello");
    assert.equal(decoder.done, true);
    assert.equal(used.reduce((a, b) => a + b, 0), body.length, `cut at ${i}`);
  }
});

Deno.test("chunked: a body not yet ended is not done", () => {
  for (
    const body of [
      "",
      "5",
      "5\r\n",
      "5\r\nhel",
      "5\r\nhello\r\n",
      "5\r\nhello\r\n0\r\n",
      "0\r\nx: 1\r\n",
    ]
  ) {
    assert.equal(decode(body).decoder.done, false, JSON.stringify(body));
  }
});

Deno.test("chunked: invalid chunk sizes are rejected", () => {
  for (
    const body of [
      "\r\n",
      "g\r\n",
      "-1\r\n",
      "+1\r\n",
      "0x5\r\n",
      " 5\r\n",
      ";ext\r\n",
      "5\r\r\n",
      "5\rx",
      "5x\r\n",
      "5.0\r\n",
    ]
  ) rejects(body);
});

Deno.test("chunked: a bare LF where CRLF is due is rejected", () => {
  rejects("5\nhello\r\n0\r\n\r\n"); // after the size
  rejects("5;ext\nhello\r\n0\r\n\r\n"); // after an extension
  rejects("5\r\nhello\n0\r\n\r\n"); // after the data
  rejects("5\r\nhello\r\n0\n\r\n"); // after the last chunk's size
  rejects("5\r\nhello\r\n0\r\n\n"); // as the end of the trailer section
  rejects("5\r\nhello\r\n0\r\nx: 1\n\r\n"); // ending a trailer line
  rejects("5\r\nhello\r\n0\r\nx: 1\r\r\n"); // CR not followed by LF
});

Deno.test("chunked: data longer than its size, or not followed by CRLF, is rejected", () => {
  rejects("5\r\nhelloX\r\n0\r\n\r\n");
  rejects("5\r\nhello\rX0\r\n\r\n");
  rejects("5\r\nhell\r\n0\r\n\r\n\r\n"); // 4 bytes + CRLF read as data, then "\r\n" is not due
  // Even when the wrong byte comes in a later piece.
  rejects("5\r\nhelloX\r\n", [7]);
  rejects("5\r\nhelloX\r\n", [8]);
});

Deno.test("chunked: a size of more than 13 hex digits is rejected; 13 are read", () => {
  rejects("fffffffffffff0\r\n"); // 14 digits
  rejects("00000000000001\r\n"); // 14 digits, even as leading zeros
  rejects("1".repeat(100) + "\r\n", [3, 50]);
  // 13 digits are a size (the data then just has not come yet).
  const d = decode("fffffffffffff\r\nabc");
  assert.equal(d.decoder.done, false);
  assert.equal(dec.decode(d.data), "abc");
});

Deno.test("chunked: an overlong extension is rejected; a long one within the bound is read", () => {
  rejects("5;" + "a".repeat(5000) + "\r\nhello\r\n0\r\n\r\n");
  rejects("5;" + "a".repeat(5000), [1000, 2000, 4000]);
  const ok = decode("5;" + "a".repeat(4000) + "\r\nhello\r\n0\r\n\r\n");
  assert.equal(dec.decode(ok.data), "hello");
  assert.equal(ok.decoder.done, true);
});

Deno.test("chunked: NUL in an extension is rejected", () => {
  rejects("5;a\0b\r\nhello\r\n0\r\n\r\n");
});

Deno.test("chunked: an overlong trailer line is rejected", () => {
  rejects("0\r\nx-t: " + "a".repeat(5000) + "\r\n\r\n");
  rejects("0\r\nx-t: " + "a".repeat(5000), [100, 4100]);
});

Deno.test("chunked: bytes after the terminating chunk are not consumed; feed returns their index", () => {
  const body = "5\r\nhello\r\n0\r\n\r\n";
  const next = "HTTP/1.1 200 OK\r\n\r\n";
  const b = enc.encode(body + next);
  const d = new ChunkedDecoder();
  const out: number[] = [];
  assert.equal(d.feed(b, 0, b.length, (x) => out.push(...x)), body.length);
  assert.equal(d.done, true);
  assert.equal(dec.decode(new Uint8Array(out)), "hello");
  // After the end nothing more is taken, and no data is reported.
  assert.equal(
    d.feed(b, body.length, b.length, () => assert.fail("no data after the end")),
    body.length,
  );
});

Deno.test("chunked: feed honours a start offset and stops after the body in a shared buffer", () => {
  const prefix = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  const body = "3\r\nabc\r\n0\r\nx: y\r\n\r\n";
  const b = enc.encode(prefix + body + "garbage");
  const d = new ChunkedDecoder();
  const pieces: string[] = [];
  const used = d.feed(b, prefix.length, b.length, (x) => pieces.push(dec.decode(x)));
  assert.equal(used, prefix.length + body.length);
  assert.deepEqual(pieces, ["abc"]);
  assert.equal(d.done, true);
});

Deno.test("chunked: data is handed out as views of the fed buffer, without copying whole chunks", () => {
  const b = enc.encode("4\r\nwxyz\r\n0\r\n\r\n");
  const views: Uint8Array[] = [];
  new ChunkedDecoder().feed(b, 0, b.length, (x) => views.push(x));
  assert.equal(views.length, 1);
  assert.equal(views[0]!.buffer, b.buffer);
  assert.equal(views[0]!.byteOffset, 3);
});
