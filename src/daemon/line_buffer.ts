/**
 * Batches log lines into one write every few milliseconds. One `console.log` per
 * request costs more than the rest of the proxy's bookkeeping together; under load,
 * one write carries many lines. `flush()` writes at once (call it before exit).
 */
export class LineBuffer {
  readonly #write: (text: string) => void;
  readonly #delayMs: number;
  #lines: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(write: (text: string) => void, delayMs = 10) {
    this.#write = write;
    this.#delayMs = delayMs;
  }

  /** Queues one line (without its newline). */
  push(line: string): void {
    this.#lines.push(line);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#delayMs);
    }
  }

  /** Writes everything queued now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    this.#write(text);
  }
}
