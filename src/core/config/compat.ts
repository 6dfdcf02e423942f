/**
 * Remarks about spellings kept for the Rust release's users.
 *
 * @module
 */

import type { Finding } from "./diagnostics.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Warns where a group's `http_client` sets both `stream` and `stream_mode` (the Rust
 * release's name for it): `stream` wins, and the user should know the other is ignored.
 */
export function compatWarnings(data: unknown): Finding[] {
  const findings: Finding[] = [];
  const list = isRecord(data) && Object.hasOwn(data, "upstream_groups")
    ? data.upstream_groups
    : undefined;
  const groups = Array.isArray(list) ? list : [];
  groups.forEach((group, i) => {
    // Own keys only: a mapping in the file may hold any key, "constructor" included.
    const http = isRecord(group) && Object.hasOwn(group, "http_client") ? group.http_client : {};
    if (!isRecord(http)) return;
    const stream = Object.hasOwn(http, "stream") ? http.stream : undefined;
    const streamMode = Object.hasOwn(http, "stream_mode") ? http.stream_mode : undefined;
    if (stream === undefined || streamMode === undefined) return;
    findings.push({
      severity: "warning",
      path: ["upstream_groups", i, "http_client", "stream_mode"],
      message: `both "stream" and "stream_mode" are set; "stream" (${String(stream)}) ` +
        `wins and "stream_mode" (${String(streamMode)}) is ignored`,
      at: "key",
    });
  });
  return findings;
}
