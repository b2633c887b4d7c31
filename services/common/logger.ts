// Structured logs of both servers: one JSON object per line on stderr (pino), so stdout
// stays free for the `listening URL` line. Level from --log-level, else TETHER_LOG, else info.
import { pino, type Logger } from "pino";
import { ErrorCode, TetherError } from "./tether-error.js";

export type { Logger } from "pino";

const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVEL_NAMES)[number];

function parseLogLevel(value: string, origin: string): LogLevel {
  if ((LOG_LEVEL_NAMES as readonly string[]).includes(value)) return value as LogLevel;
  throw new TetherError(ErrorCode.InvalidArgument, `${origin} ${JSON.stringify(value)} must be one of: ${LOG_LEVEL_NAMES.join(", ")}`, {
    details: { usage: "true" },
  });
}

/** The flag wins over the environment variable; a bad value in either is a usage error naming it. */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (flag !== undefined) return parseLogLevel(flag, "--log-level");
  if (env.TETHER_LOG) return parseLogLevel(env.TETHER_LOG, "TETHER_LOG");
  return "info";
}

export interface LoggerOptions {
  /** The service: "exec-server", "agent-server". */
  name: string;
  level: LogLevel;
  /** Where lines go; default stderr (fd 2), written synchronously so nothing is lost at exit. */
  destination?: NodeJS.WritableStream | { write(line: string): unknown };
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      name: options.name,
      level: options.level,
      // ISO time reads without a converter; pid and hostname tell replicas apart.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
