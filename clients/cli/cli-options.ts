// Parsing of CLI flag values that need more than commander gives: numbers with
// bounds, KEY=VALUE pairs, secret files. Each error names the flag; a malformed value is a
// usage error (exit 2, like commander's own).
import { readFile } from "../../services/common/fs-async.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

/** Marks an error as the user's (see cli-error.ts isUsageError); kept here so the lean path loads nothing more. */
const USAGE = { details: { usage: "true" } };

export function parseIntOption(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  // Number() as zod's coerce does (not zod itself: it costs `tether run` ~50 ms to load).
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new TetherError(ErrorCode.InvalidArgument, `${flag} ${JSON.stringify(value)} must be a whole number from ${min} to ${max}`, USAGE);
  }
  return parsed;
}

export function parseEnvVars(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new TetherError(ErrorCode.InvalidArgument, `--env-var ${JSON.stringify(pair)} must look like NAME=value`, USAGE);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new TetherError(ErrorCode.InvalidArgument, `${flag} ${JSON.stringify(value)} must be one of: ${choices.join(", ")}`, USAGE);
}

/** A file a flag names that cannot be read (missing, a directory, no permission) is the flag's error: exit 2. */
function unreadableFlagFile(err: unknown, flag: string, file: string): TetherError {
  return new TetherError(ErrorCode.InvalidArgument, TetherError.from(err, `${flag} ${file}`).message, { ...USAGE, cause: err });
}

/** A token file: its first line, trimmed; empty is an error. */
export async function readSecretFile(file: string, flag: string): Promise<string> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw unreadableFlagFile(err, flag, file);
  });
  const token = text.split("\n")[0]?.trim() ?? "";
  if (token === "") throw new TetherError(ErrorCode.InvalidArgument, `${flag} ${file} is empty: put the token on its first line`, USAGE);
  return token;
}

export interface ServerSecurityFlags {
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

/** The token and TLS material a server's flags name (`tether exec-server`, `tether agent-server`). */
export async function readServerSecurity(flags: ServerSecurityFlags): Promise<{ token?: string; tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer } }> {
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new TetherError(ErrorCode.InvalidArgument, "--tls-cert and --tls-key go together: pass both", USAGE);
  }
  const read = (file: string, flag: string) => readFile(file).catch((e: unknown) => {
    throw unreadableFlagFile(e, flag, file);
  });
  const token = flags.tokenFile ? await readSecretFile(flags.tokenFile, "--token-file") : undefined;
  const tls = flags.tlsCert && flags.tlsKey
    ? {
        cert: await read(flags.tlsCert, "--tls-cert"),
        key: await read(flags.tlsKey, "--tls-key"),
        clientCa: flags.tlsClientCa ? await read(flags.tlsClientCa, "--tls-client-ca") : undefined,
      }
    : undefined;
  return { token, tls };
}
