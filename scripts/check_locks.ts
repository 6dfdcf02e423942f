/**
 * Keeps the two lockfiles apart (docs/development.md#dependencies): `deno.lock` is what the
 * proxy runs with (`deno task demo`/`start` install every package it lists), so no
 * package pinned in `dev_deps.ts` (test, benchmark and tooling only) may appear in it. A
 * plain `deno test` without `--lock=deno.dev.lock` would add them; this says so.
 */
const ROOT = new URL("../", import.meta.url);

const devDeps = await Deno.readTextFile(new URL("dev_deps.ts", ROOT));
const devPackages = [
  ...new Set([...devDeps.matchAll(/"npm:((?:@[^/"]+\/)?[^@"]+)@/g)].map((m) => m[1]!)),
];
if (devPackages.length === 0) {
  console.error("check_locks: expected npm: specifiers in dev_deps.ts, found none");
  Deno.exit(1);
}

const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
const runtime = Object.keys(lock.npm ?? {}).map((k: string) => k.slice(0, k.indexOf("@", 1)));
const leaked = devPackages.filter((p) => runtime.includes(p));
if (leaked.length > 0) {
  console.error(
    `deno.lock (the proxy's runtime lock) lists test-only packages: ${leaked.join(", ")}. ` +
      "Run tests with `deno task test` (or pass --lock=deno.dev.lock), then restore it: " +
      "git checkout deno.lock",
  );
  Deno.exit(1);
}
console.log(`deno.lock holds ${runtime.length} runtime packages and none of dev_deps.ts`);
