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
    this.#write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }));
  }
}

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { log() {} };
