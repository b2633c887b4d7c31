// How the CLI tells a person what went wrong: one line naming the gRPC code and what to do.
import { codeName } from "../../services/common/status-codec.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

/** Exit status for errors of tether itself (not of the remote command), like ssh's 255. */
export const TETHER_FAILURE = 255;
/** Exit status for a command line or config that tether cannot use (commander's errors included). */
export const USAGE_FAILURE = 2;

export function reportError(err: unknown): number {
  const te = TetherError.from(err);
  process.stderr.write(`tether: ${te.message} (${codeName(te.code)})\n`);
  if (process.env.TETHER_DEBUG && te.stack) process.stderr.write(`${te.stack}\n`);
  return isUsageError(te) ? USAGE_FAILURE : TETHER_FAILURE;
}

/** An error in what the user typed or configured (exit 2): marked by a `usage` detail. */
export function usageError(message: string): TetherError {
  return new TetherError(ErrorCode.InvalidArgument, message, { details: { usage: "true" } });
}

export function isUsageError(err: TetherError): boolean {
  // Any code: a server refusing an insecure --listen is FAILED_PRECONDITION, and still the user's flag.
  return err.details.usage === "true";
}

/**
 * A server's start-up failed on what its flags or config say (an address, a mode, a number, a
 * file a flag names): a usage error (exit 2), not a failure of tether (255).
 */
export function asStartupUsageError(err: unknown): TetherError {
  const te = TetherError.from(err);
  return te.code === ErrorCode.InvalidArgument && !isUsageError(te) ? usageError(te.message) : te;
}
