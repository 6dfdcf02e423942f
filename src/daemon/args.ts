import { MOCK_DEFAULTS, type MockOptions } from "../mock/mock_llm.ts";

/** Parsed `llmproxyd` command line. */
export type Command =
  | {
    readonly kind: "run";
    readonly config: string;
    readonly test: boolean;
    readonly debug: boolean;
    readonly shutdownTimeout: number;
  }
  | {
    readonly kind: "mock";
    readonly address: string;
    readonly port: number;
    readonly mock: MockOptions;
  }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version" };

/** Bad usage: exit 2 with this message and the usage line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The usage line printed with usage errors. */
export const USAGE =
  "usage: llmproxyd [-c FILE] [-t] [-d] [--shutdown-timeout S] | llmproxyd mock [options] | -h | -V";

/** Full `--help` text. */
export const HELP = `llmproxyd: an LLM API gateway

${USAGE}

Options:
  -c, --config FILE          configuration file (default ./config.yaml)
  -t, --test                 validate the configuration, print a verdict, exit 0 or 1
  -d, --debug                debug logs and the interactive API UI at /api/v1/docs
      --shutdown-timeout S   seconds to let requests finish on SIGINT/SIGTERM (1-120, default 30)
  -V, --version              print the version
  -h, --help                 print this help

llmproxyd mock: an OpenAI-compatible mock LLM upstream
      --address A            listen address (default 127.0.0.1)
      --port N               listen port (default 8001)
      --name NAME            name it reports (default mock)
      --latency MS           delay before response headers (default 0)
      --chunks N             SSE content chunks per streamed completion (default 5)
      --chunk-delay MS       delay between SSE chunks (default 20)
      --error-rate R         probability 0-1 of an injected error (default 0)
      --error-status S       status of injected errors (default 500)
      --model NAME           the model answers name (default: the request's)
      --no-usage             answer without token usage
      --stream-usage WHEN    always (default) or requested: the final usage chunk of a
                             streamed chat completion only with stream_options.include_usage

Exit codes: 0 normal end, 1 configuration or start-up error, 2 bad usage.
Signals: SIGINT/SIGTERM drain then exit; SIGHUP reloads the configuration file.`;

interface Flag {
  readonly names: readonly string[];
  readonly value?: { readonly min: number; readonly max: number; readonly int: boolean } | "string";
}

function takeValue(
  args: readonly string[],
  i: number,
  name: string,
  inline?: string,
): [string, number] {
  if (inline !== undefined) return [inline, i];
  const v = args[i + 1];
  if (v === undefined) throw new UsageError(`option ${name} needs a value`);
  return [v, i + 1];
}

function number(name: string, raw: string, min: number, max: number, int: boolean): number {
  const n = Number(raw);
  if (
    raw.trim() === "" || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max
  ) {
    throw new UsageError(
      `option ${name} must be ${
        int ? "an integer" : "a number"
      } from ${min} to ${max}, got "${raw}"`,
    );
  }
  return n;
}

/** Parses argv (without the program name). Throws {@link UsageError}. */
export function parseArgs(args: readonly string[]): Command {
  if (args[0] === "mock") return parseMock(args.slice(1));
  let config = "./config.yaml";
  let test = false;
  let debug = false;
  let shutdownTimeout = 30;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = splitFlag(args[i]!);
    switch (flag) {
      case "-c":
      case "--config":
        [config, i] = takeValue(args, i, flag, inline);
        break;
      case "-t":
      case "--test":
        test = true;
        break;
      case "-d":
      case "--debug":
        debug = true;
        break;
      case "--shutdown-timeout": {
        let raw: string;
        [raw, i] = takeValue(args, i, flag, inline);
        shutdownTimeout = number(flag, raw, 1, 120, true);
        break;
      }
      case "-V":
      case "--version":
        return { kind: "version" };
      case "-h":
      case "--help":
        return { kind: "help", text: HELP };
      default:
        throw new UsageError(
          flag.startsWith("-") ? `unknown option ${flag}` : `unexpected argument "${flag}"`,
        );
    }
  }
  return { kind: "run", config, test, debug, shutdownTimeout };
}

function splitFlag(arg: string): [string, string | undefined] {
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    if (eq > 0) return [arg.slice(0, eq), arg.slice(eq + 1)];
  }
  return [arg, undefined];
}

function parseMock(args: readonly string[]): Command {
  let address = "127.0.0.1";
  let port = 8001;
  const o: { -readonly [K in keyof MockOptions]: MockOptions[K] } = { ...MOCK_DEFAULTS };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = splitFlag(args[i]!);
    let raw: string;
    switch (flag) {
      case "--address":
        [address, i] = takeValue(args, i, flag, inline);
        break;
      case "--port":
        [raw, i] = takeValue(args, i, flag, inline);
        port = number(flag, raw, 0, 65535, true);
        break;
      case "--name":
        [o.name, i] = takeValue(args, i, flag, inline);
        break;
      case "--latency":
        [raw, i] = takeValue(args, i, flag, inline);
        o.latencyMs = number(flag, raw, 0, 3_600_000, false);
        break;
      case "--chunks":
        [raw, i] = takeValue(args, i, flag, inline);
        o.chunks = number(flag, raw, 0, 1_000_000, true);
        break;
      case "--chunk-delay":
        [raw, i] = takeValue(args, i, flag, inline);
        o.chunkDelayMs = number(flag, raw, 0, 3_600_000, false);
        break;
      case "--error-rate":
        [raw, i] = takeValue(args, i, flag, inline);
        o.errorRate = number(flag, raw, 0, 1, false);
        break;
      case "--error-status":
        [raw, i] = takeValue(args, i, flag, inline);
        o.errorStatus = number(flag, raw, 100, 599, true);
        break;
      case "--model":
        [o.model, i] = takeValue(args, i, flag, inline);
        break;
      case "--no-usage":
        if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
        o.usage = false;
        break;
      case "--stream-usage":
        [raw, i] = takeValue(args, i, flag, inline);
        if (raw !== "always" && raw !== "requested") {
          throw new UsageError(`${flag} must be always or requested, got ${JSON.stringify(raw)}`);
        }
        o.streamUsage = raw;
        break;
      case "-h":
      case "--help":
        return { kind: "help", text: HELP };
      default:
        throw new UsageError(`unknown mock option ${flag}`);
    }
  }
  return { kind: "mock", address, port, mock: o };
}
