/**
 * `deno compile` needs the `denort` runtime, which Deno downloads from its CDN; our
 * machines cannot reach it. With DENORT_BIN pointing at a denort binary of the same
 * Deno version, this test builds the `llmproxyd` binary and runs it; without it, the
 * test is reported as ignored (skipped) and says why.
 */
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");
const ROOT = new URL("../", import.meta.url).pathname;

if (!denort) {
  console.log("compile test skipped: set DENORT_BIN to a denort binary to build and run llmproxyd");
}

Deno.test({
  name: "deno compile builds a working llmproxyd binary (needs DENORT_BIN)",
  ignore: !denort,
  async fn() {
    const out = `${await Deno.makeTempDir({ prefix: "llmproxyd-bin-" })}/llmproxyd`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "-o",
        out,
        `${ROOT}src/adapters/deno/main.ts`,
      ],
      cwd: ROOT,
      env: { DENORT_BIN: denort! },
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const version = await new Deno.Command(out, { args: ["-V"] }).output();
    assert.equal(version.code, 0);
    assert.match(new TextDecoder().decode(version.stdout), /^llmproxyd \d/);
    const check = await new Deno.Command(out, { args: ["-t", "-c", `${ROOT}examples/config.yaml`] })
      .output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
  },
});
