/**
 * Checks the references into the repository's docs: every `docs/<file>.md#<anchor>` in
 * src/, tests/, bench/, scripts/, docs/, examples/ and README.md, and every Markdown link
 * to a `.md` file (relative to the file, with or without an anchor), must name a file that
 * exists and a heading it has (anchors as GitHub makes them). Citations of the old
 * specification kept outside the repository ("SPEC" and a section sign) are refused.
 * Prints `file:line: message` per problem and exits 1.
 *
 * Usage: `deno run -A scripts/check_refs.ts [root]` (part of `deno task check`).
 */

const root = (Deno.args[0] ?? new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const SCAN = ["src", "tests", "bench", "scripts", "docs", "examples", "README.md", "wrangler.toml"];
const EXTENSIONS = /\.(ts|tsx|js|mjs|md|yaml|yml|toml)$/;
const SKIP_DIRS = new Set(["node_modules", "dist", ".git", "experiments"]);
/**
 * Citations of the specification (by section sign) or the design notes (by quoted
 * heading), which live outside the repository. Built so that this file does not match
 * itself.
 */
const OUTSIDE = new RegExp(`${["SPEC", "\u00a7"].join(" ")}|${["DESIGN", '"'].join(" ")}`);

/** GitHub's heading anchor: lower-case, punctuation dropped, spaces to `-`. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown file, with GitHub's `-1`, `-2` for repeated headings. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

async function* files(path: string): AsyncGenerator<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return;
  }
  if (info.isFile) {
    if (EXTENSIONS.test(path)) yield path;
    return;
  }
  for await (const entry of Deno.readDir(path)) {
    if (entry.isDirectory && SKIP_DIRS.has(entry.name)) continue;
    yield* files(`${path}/${entry.name}`);
  }
}

const anchorCache = new Map<string, Set<string> | null>();
async function anchorsOfFile(path: string): Promise<Set<string> | null> {
  if (!anchorCache.has(path)) {
    try {
      anchorCache.set(path, anchorsOf(await Deno.readTextFile(path)));
    } catch {
      anchorCache.set(path, null);
    }
  }
  return anchorCache.get(path)!;
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "." && part !== "") out.push(part);
  }
  return `/${out.join("/")}`;
}

/** Checks one reference; returns a message when it is broken. */
async function check(target: string, anchor: string | undefined): Promise<string | undefined> {
  const anchors = await anchorsOfFile(target);
  const shown = target.slice(root.length + 1);
  if (anchors === null) return `no such file: ${shown}`;
  if (anchor !== undefined && anchor !== "" && !anchors.has(decodeURIComponent(anchor))) {
    return `no heading for #${anchor} in ${shown}`;
  }
  return undefined;
}

const problems: string[] = [];
let count = 0;
for (const top of SCAN) {
  for await (const file of files(`${root}/${top}`)) {
    const rel = file.slice(root.length + 1);
    const dir = file.slice(0, file.lastIndexOf("/"));
    const lines = (await Deno.readTextFile(file)).split("\n");
    const own = file.endsWith(".md") ? await anchorsOfFile(file) : null;
    for (const [i, line] of lines.entries()) {
      const where = `${rel}:${i + 1}`;
      if (OUTSIDE.test(line)) {
        problems.push(`${where}: reference to a document outside the repository`);
      }
      // `docs/<file>.md#anchor` anywhere (comments, strings, prose): from the root.
      for (const m of line.matchAll(/(?<![\w./-])docs\/([\w.-]+\.md)(?:#([\w%-]+))?/g)) {
        if (line.slice(0, m.index).endsWith("](")) continue; // a Markdown link, below
        count++;
        const bad = await check(`${root}/docs/${m[1]}`, m[2]);
        if (bad) problems.push(`${where}: ${bad}`);
      }
      // Markdown links to .md files or to an anchor of this file, relative to the file.
      for (const m of line.matchAll(/\]\(([^)\s#]*)(?:#([^)\s]+))?\)/g)) {
        const [, target = "", anchor] = m;
        if (/^[a-z]+:/i.test(target)) continue;
        if (target === "") {
          if (anchor === undefined || own === null) continue;
          count++;
          if (!own.has(anchor)) problems.push(`${where}: no heading for #${anchor} in ${rel}`);
          continue;
        }
        if (!target.endsWith(".md")) continue;
        count++;
        const bad = await check(normalize(`${dir}/${target}`), anchor);
        if (bad) problems.push(`${where}: ${bad}`);
      }
    }
  }
}

for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(`check_refs: ${problems.length} bad reference(s)`);
  Deno.exit(1);
}
console.log(`check_refs: ${count} references to the docs, all resolve`);
