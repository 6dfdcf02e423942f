/**
 * Every file in `examples/` works as written against a mock, through the `openai` SDK.
 *
 * For each `examples/*.yaml`: the upstream URLs' scheme, host and port are pointed at one
 * local mock (each URL's path is kept, so `https://api.openai.com/v1` becomes
 * `http://127.0.0.1:<mock>/v1`), outbound proxy URLs likewise (the mock then answers the
 * proxied request as the proxy would pass it on), every listener gets a free port (the
 * admin listener on 127.0.0.1), and `${VAR}`s without a default get a value. The Deno
 * daemon starts on the result; for each forward the SDK, pointed at
 * `http://127.0.0.1:<port>/v1`, makes one chat completion and one streamed one, and the
 * mock must have received exactly `POST /v1/chat/completions` (never `/v1` alone, never
 * `/v1/v1/…`).
 */
import assert from "node:assert/strict";
import { OpenAI } from "../dev_deps.ts";
import { parse, stringify } from "yaml";
import { REQUEST_DEADLINE_MS, withDeadline } from "./deadline.ts";
import { DENO_DAEMON, freePort, startDaemon, startMock } from "./conformance/harness.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);

type Obj = Record<string, unknown>;

/** `url` with its scheme, host and port (and any user info) replaced by `origin`. */
export function rebase(url: string, origin: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(url);
  if (!m) throw new Error(`not an absolute URL: ${url}`);
  return `${origin}${m[1]}`;
}

/** The example, ready to run here; plus the environment it needs and its forwards' ports. */
export function localise(
  text: string,
  origin: string,
): {
  yaml: string;
  env: Record<string, string>;
  forwards: { name: string; port: number }[];
  admin: number;
} {
  const env: Record<string, string> = {};
  // ${VAR} without a default: give it a value (a port variable is set below).
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)) {
    if (m[2] === undefined) env[m[1]!] ??= `test-${m[1]}`;
  }
  const doc = parse(text) as Obj;
  for (const u of (doc.upstreams ?? []) as Obj[]) u.url = rebase(String(u.url), origin);
  for (const g of (doc.upstream_groups ?? []) as Obj[]) {
    const proxy = (g.http_client as Obj | undefined)?.proxy as Obj | undefined;
    if (proxy?.url !== undefined) proxy.url = rebase(String(proxy.url), origin);
  }
  const server = (doc.http_server ??= {}) as Obj;
  const forwards: { name: string; port: number }[] = [];
  for (const f of (server.forwards ?? []) as Obj[]) {
    const port = freePort();
    const variable = typeof f.port === "string"
      ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(f.port)
      : null;
    if (variable) env[variable[1]!] = String(port); // the file's ${VAR} stays in place
    else f.port = port;
    forwards.push({ name: String(f.name), port });
  }
  const admin = freePort();
  server.admin = { ...(server.admin as Obj | undefined), port: admin, address: "127.0.0.1" };
  return { yaml: stringify(doc), env, forwards, admin };
}

const names: string[] = [];
for (const entry of Deno.readDirSync(EXAMPLES)) {
  if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
}
names.sort();

Deno.test("examples: every file is tested", () => {
  assert.ok(names.length >= 4, `examples found: ${names.join(", ")}`);
});

for (const name of names) {
  Deno.test(`examples/${name}: the openai SDK gets a chat completion through every forward`, async () => {
    const mock = startMock({ name: "examples" });
    try {
      const text = await Deno.readTextFile(new URL(name, EXAMPLES));
      const local = localise(text, `http://127.0.0.1:${mock.port}`);
      assert.ok(local.forwards.length >= 1, `${name} has no forward`);
      const daemon = await startDaemon(DENO_DAEMON, local.yaml, local.admin, { env: local.env });
      try {
        for (const forward of local.forwards) {
          const what = `${name}, forward ${forward.name} (port ${forward.port})`;
          const before = mock.mock.requests.length;
          const ai = new OpenAI({
            baseURL: `http://127.0.0.1:${forward.port}/v1`,
            apiKey: "client-key",
            maxRetries: 0,
            timeout: REQUEST_DEADLINE_MS,
          });
          const messages = [{ role: "user" as const, content: "hi" }];
          const answer = await withDeadline(
            ai.chat.completions.create({ model: "gpt-4o-mini", messages }),
            REQUEST_DEADLINE_MS,
            `${what}: chat completion`,
          );
          assert.match(answer.choices[0]?.message.content ?? "", /^Hello from /, what);
          const streamed = await withDeadline(
            (async () => {
              let content = "";
              const stream = await ai.chat.completions.create({
                model: "gpt-4o-mini",
                messages,
                stream: true,
              });
              for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
              return content;
            })(),
            REQUEST_DEADLINE_MS,
            `${what}: streamed chat completion`,
          );
          assert.match(streamed, /^Hello from /, what);
          const received = mock.mock.requests.slice(before).map((r) => `${r.method} ${r.path}`);
          assert.deepEqual(
            received,
            ["POST /v1/chat/completions", "POST /v1/chat/completions"],
            `${what}: what the mock received`,
          );
        }
      } finally {
        await daemon.stop();
      }
    } finally {
      await mock.close();
    }
  });
}

Deno.test("examples: rebase keeps the path and drops scheme, user info, host and port", () => {
  const o = "http://127.0.0.1:1";
  assert.equal(rebase("https://api.openai.com/v1", o), `${o}/v1`);
  assert.equal(rebase("https://api.anthropic.com", o), o);
  assert.equal(rebase("http://user:pass@proxy:8080", o), o);
  assert.equal(rebase("https://h/v1/chat/completions?x=1", o), `${o}/v1/chat/completions?x=1`);
});
