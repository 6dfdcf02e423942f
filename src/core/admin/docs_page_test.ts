/**
 * Runs the docs page's script against a minimal DOM stand-in, with `fetch` going to
 * the admin app: the page must list every operation of openapi.json and send real
 * requests with the token typed into it.
 */
import assert from "node:assert/strict";
import { docsPage } from "./docs_page.ts";
import { adminFixture } from "./_test_helpers.ts";

type Listener = (event: { key?: string }) => void;

class FakeElement {
  readonly tag: string;
  readonly attrs: Record<string, string> = {};
  readonly children: FakeElement[] = [];
  readonly listeners: Record<string, Listener[]> = {};
  value = "";
  hidden = false;
  className = "";
  #text = "";

  constructor(tag: string) {
    this.tag = tag;
  }
  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
    if (k === "class") this.className = v;
  }
  appendChild(child: FakeElement) {
    this.children.push(child);
    return child;
  }
  addEventListener(type: string, fn: Listener) {
    (this.listeners[type] ??= []).push(fn);
  }
  click() {
    for (const fn of this.listeners.click ?? []) fn({});
  }
  set textContent(text: string) {
    this.#text = text;
    this.children.length = 0;
  }
  get textContent(): string {
    return this.#text + this.children.map((c) => c.textContent).join("");
  }
  /** Every descendant, depth first. */
  *all(): Generator<FakeElement> {
    for (const c of this.children) {
      yield c;
      yield* c.all();
    }
  }
}

function fakeDom() {
  const byId: Record<string, FakeElement> = {};
  for (const id of ["token", "save", "msg", "ops"]) byId[id] = new FakeElement(id);
  const storage = new Map<string, string>();
  return {
    byId,
    document: {
      getElementById: (id: string) => byId[id],
      createElement: (tag: string) => new FakeElement(tag),
      createTextNode: (text: string) => {
        const e = new FakeElement("#text");
        e.textContent = text;
        return e;
      },
    },
    sessionStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => storage.set(k, v),
    },
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
}

Deno.test("docs page: lists every operation and sends requests with the token", async () => {
  const f = adminFixture({ debug: true, authToken: "tok" });
  const html = docsPage("/api/v1/openapi.json");
  const script = html.slice(
    html.indexOf("<script>") + "<script>".length,
    html.indexOf("</script>"),
  );
  const dom = fakeDom();
  const requests: string[] = [];
  const fetchFn = (url: string, init?: RequestInit) => {
    requests.push(`${init?.method ?? "GET"} ${url}`);
    return f.app.request(url, init);
  };
  new Function("document", "sessionStorage", "fetch", script)(
    dom.document,
    dom.sessionStorage,
    fetchFn,
  );
  await settle();
  // No token yet: the page says so.
  assert.match(dom.byId.msg!.textContent, /401/);

  dom.byId.token!.value = "tok";
  dom.byId.save!.click();
  await settle();
  assert.match(dom.byId.msg!.textContent, /llmproxy admin API/);
  const ops = [...dom.byId.ops!.all()].filter((e) => e.tag === "details");
  const doc = await (await f.app.request("/api/v1/openapi.json", {
    headers: { authorization: "Bearer tok" },
  })).json();
  const count = Object.values(doc.paths as Record<string, object>)
    .reduce((n, item) => n + Object.keys(item).length, 0);
  assert.equal(ops.length, count);

  // Send GET /api/v1/upstreams from its panel.
  const panel = ops.find((d) => d.textContent.includes("GET/api/v1/upstreamsList"))!;
  const send = [...panel.all()].find((e) => e.tag === "button" && e.textContent === "Send")!;
  send.click();
  await settle();
  const out = [...panel.all()].find((e) => e.tag === "pre")!;
  assert.match(out.textContent, /^200 /);
  assert.match(out.textContent, /"name": "openai"/);
  assert.ok(!out.textContent.includes("sk-secret-openai"));

  // PATCH a group: "Load current" fills the body from GET, Send applies it.
  const patch = ops.find((d) => d.textContent.startsWith("PATCH"))!;
  const inputs = [...patch.all()].filter((e) => e.tag === "input");
  inputs[0]!.value = "backup";
  const buttons = [...patch.all()].filter((e) => e.tag === "button");
  buttons.find((b) => b.textContent === "Load current")!.click();
  await settle();
  const area = [...patch.all()].find((e) => e.tag === "textarea")!;
  assert.deepEqual(JSON.parse(area.value).upstreams, [{ name: "local", weight: 1 }]);
  area.value = JSON.stringify({ upstreams: [{ name: "spare" }] });
  buttons.find((b) => b.textContent === "Send")!.click();
  await settle();
  assert.match([...patch.all()].find((e) => e.tag === "pre")!.textContent, /^200 /);
  assert.deepEqual(f.gateway.config.upstream_groups[1]!.upstreams, [{ name: "spare", weight: 1 }]);
  assert.ok(requests.includes("PATCH /api/v1/upstream-groups/backup"), requests.join("\n"));

  // The route panel encodes a typed path into b64path.
  const route = ops.find((d) => d.textContent.startsWith("GET/api/v1/forwards/{name}/routes/"))!;
  const [name, b64, raw] = [...route.all()].filter((e) => e.tag === "input");
  name!.value = "main";
  raw!.value = "/v1/*";
  for (const fn of raw!.listeners.input ?? []) fn({});
  assert.equal(b64!.value, "L3YxLyo");
});
