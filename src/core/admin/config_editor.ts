/**
 * Changes to the live configuration, one at a time (the configuration is a value):
 * each change copies the snapshot in force into a plain object, edits the
 * copy, validates the whole of it with the same rules as a file, and only then swaps
 * it in with `gateway.apply`. Changes queue behind each other, so two concurrent
 * requests never both start from the same snapshot and lose one another.
 *
 * @module
 */

import { type ConfigDiagnostic, validateConfig, type ValidateOptions } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { AdminHost } from "./host.ts";
import { AdminError } from "./envelope.ts";

/** A mutable, plain-JSON copy of the configuration that an edit works on. */
export interface Draft {
  http_server: {
    forwards: DraftForward[];
    admin: Record<string, unknown>;
  };
  upstreams: Record<string, unknown>[];
  upstream_groups: DraftGroup[];
  /** Clients as a file writes them: `key` or `key_sha256`, never both. */
  clients: Record<string, unknown>[];
}

/** A forward in a {@linkcode Draft}. */
export interface DraftForward extends Record<string, unknown> {
  name: string;
  routing: Record<string, unknown>[];
  model_routing: Record<string, unknown>[];
}

/** A group in a {@linkcode Draft}. */
export interface DraftGroup extends Record<string, unknown> {
  name: string;
  upstreams: Record<string, unknown>[];
}

/** Applies admin changes to a gateway, serialised and validated. */
export class ConfigEditor {
  readonly #gateway: AdminHost;
  readonly #logger: Logger;
  #tail: Promise<unknown> = Promise.resolve();

  readonly #validate: ValidateOptions;

  constructor(gateway: AdminHost, logger: Logger, validate: ValidateOptions = {}) {
    this.#gateway = gateway;
    this.#logger = logger;
    this.#validate = validate;
  }

  /**
   * Runs `edit` on a fresh draft of the configuration in force, validates the result
   * and applies it; resolves with the configuration now in force. `edit` may throw an
   * {@linkcode AdminError} (404, 409, 400) to refuse the change; validation failures
   * become a 400 listing every diagnostic as `path: message`. Warnings (unknown keys,
   * `stream` and `stream_mode` both set) refuse the change too: an API client that
   * sends a misspelt key must hear about it, not find it silently ignored.
   *
   * @param what a short description for the log line (`"PATCH upstream-group gpt"`)
   * @param edit changes the draft in place; it sees the state left by earlier changes
   */
  change(what: string, edit: (draft: Draft, current: Config) => void): Promise<Config> {
    const run = () => this.#run(what, edit);
    const next = this.#tail.then(run, run);
    this.#tail = next.catch(() => {});
    return next;
  }

  #run(what: string, edit: (draft: Draft, current: Config) => void): Config {
    const current = this.#gateway.config;
    const draft = toDraft(current);
    edit(draft, current);
    const result = validateConfig(draft, this.#validate);
    if (!result.ok) throw new AdminError(400, describe(result.errors));
    if (result.warnings.length > 0) throw new AdminError(400, describe(result.warnings));
    this.#gateway.apply(result.config);
    this.#logger.log("info", "configuration changed through the admin API", { change: what });
    return result.config;
  }
}

/**
 * A plain copy of `config` that validates as a file would: a snapshot's client carries
 * its key and the key's digest, a file one of them, so the digest of a client that has
 * its key is left out (it is computed again).
 */
export function toDraft(config: Config): Draft {
  const draft = JSON.parse(JSON.stringify(config)) as Draft;
  draft.clients = (draft.clients ?? []).map((c) => {
    if (c.key === undefined) return c;
    const { key_sha256: _digest, ...rest } = c;
    return rest;
  });
  return draft;
}

function describe(diagnostics: readonly ConfigDiagnostic[]): string {
  const lines = diagnostics.map((d) => {
    // A file's unknown key "is ignored"; here it refuses the change.
    const message = d.severity === "warning" ? d.message.replace(" is ignored", "") : d.message;
    return d.path === "" ? message : `${d.path}: ${message}`;
  });
  return lines.length === 1
    ? `the change was refused: ${lines[0]}`
    : `the change was refused (${lines.length} problems): ${lines.join("; ")}`;
}
