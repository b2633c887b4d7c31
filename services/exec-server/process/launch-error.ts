// What a failed start means to the caller: the launcher's (or the zygote's) "error STAGE ERRNO
// TEXT" line, or Node failing to spawn the launcher itself, as a TetherError that says what to fix.
import { existsSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { ErrorCode, TetherError, codeForErrno, errnoCode } from "../../common/tether-error.js";
import type { LaunchSpec } from "./launcher-io.js";

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** A launcher's "error STAGE ERRNO TEXT" as a TetherError; `diagnostics`: what it wrote to stderr. */
export function launchError(spec: LaunchSpec, stage: string, errno: number, text: string, diagnostics: string): TetherError {
  const name = errnoNames.get(errno);
  if (stage === "chdir") {
    const message = `cannot use the working directory ${spec.cwd}: ${text}`;
    if (name === "ENOENT") return new TetherError(ErrorCode.NotFound, `working directory ${spec.cwd} does not exist: create it or pass another cwd`);
    return new TetherError(name ? codeForErrno(name) : ErrorCode.Internal, message);
  }
  if (stage === "exec") {
    const message = `cannot execute ${spec.file}: ${text}`;
    const details = { errno: name ?? String(errno) };
    if (name === "ENOENT" || name === "ENOTDIR") return new TetherError(ErrorCode.NotFound, message, { details });
    if (name === "EACCES" || name === "EPERM") return new TetherError(ErrorCode.PermissionDenied, message, { details });
    if (name === "E2BIG") return new TetherError(ErrorCode.InvalidArgument, message, { details });
    return new TetherError(ErrorCode.FailedPrecondition, message, { details });
  }
  const diag = diagnostics.trim();
  const message = `tether-launch failed (${stage}) for ${spec.file}: ${text}${diag ? `; ${diag}` : ""}`;
  return new TetherError(name ? codeForErrno(name) : ErrorCode.Internal, message);
}

/** Node could not spawn tether-launch (`launcher`) at all. */
export function spawnError(err: Error, spec: LaunchSpec, launcher: string): TetherError {
  const errno = errnoCode(err);
  if (errno === "ENOENT" && !existsSync(spec.cwd)) {
    return new TetherError(ErrorCode.NotFound, `working directory ${spec.cwd} does not exist: create it or pass another cwd`, { cause: err });
  }
  if (errno === "ENOENT" || errno === "EACCES") {
    return new TetherError(ErrorCode.FailedPrecondition, `cannot run ${launcher}: run \`make setup\` (scripts/build-native.sh)`, { cause: err });
  }
  return TetherError.from(err, `starting ${spec.file} through tether-launch`);
}
