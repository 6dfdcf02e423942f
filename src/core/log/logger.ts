/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured, one-line-per-event logging. Fields must never carry secrets. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Writes one JSON object per line through `write` (stdout in the daemons), so log
 * shippers need no parsing rules.
 */
export class JsonLogger implements Logger {
  readonly #min: number;
  readonly #write: (line: string) => void;

  constructor(options: { level?: LogLevel; write?: (line: string) => void } = {}) {
    this.#min = ORDER[options.level ?? "info"];
    this.#write = options.write ?? ((line) => console.log(line));
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < this.#min) return;
    const head = `{"ts":"${isoNow()}","level":"${level}","msg":${JSON.stringify(msg)}`;
    // The fields are serialised as they are and spliced in after the head: no copy of
    // the record (the access record has 20 fields, once per request).
    const rest = fields === undefined ? "{}" : JSON.stringify(fields);
    this.#write(rest.length > 2 ? `${head},${rest.slice(1)}` : `${head}}`);
  }
}

let lastMs = Number.NaN;
let lastIso = "";

/**
 * `new Date().toISOString()`, made once per millisecond: under load most lines of a
 * millisecond share it (a `Date` and its formatting cost about a microsecond).
 */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { log() {} };
