/**
 * `promtool check metrics` for tests (Debian package `prometheus`; `.ci/run` installs
 * it). A missing promtool fails the calling test with what to install: it never skips.
 */

/** Runs `promtool check metrics` on `text`; `output` is its stdout and stderr. */
export async function promtoolCheckMetrics(
  text: string,
): Promise<{ code: number; output: string }> {
  const promtool = Deno.env.get("PROMTOOL") ?? "promtool";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(promtool, {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${promtool} is not on PATH: install the Debian package \`prometheus\` ` +
          "(apt-get install -y prometheus) or set PROMTOOL to its path",
      );
    }
    throw e;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
