// Turns Node errno failures of file operations into TetherErrors whose message names
// the path and says what to do about it; everything else goes through TetherError.from.
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";

/** Maps a failure of `op` on `path` (e.g. "write", "/work/a.txt") to a TetherError. */
export function fsError(err: unknown, op: string, path: string): TetherError {
  if (err instanceof TetherError) return err;
  const errno = errnoCode(err);
  const cause = { cause: err };
  switch (errno) {
    case "ENOENT":
      return new TetherError(ErrorCode.NotFound, `cannot ${op} ${path}: no such file or directory`, cause);
    case "ENOTDIR":
      return new TetherError(ErrorCode.NotFound, `cannot ${op} ${path}: a component of the path is not a directory`, cause);
    case "EEXIST":
      return new TetherError(ErrorCode.AlreadyExists, `cannot ${op} ${path}: it already exists`, cause);
    case "ENOTEMPTY":
      return new TetherError(ErrorCode.FailedPrecondition, `cannot ${op} ${path}: directory not empty: pass recursive`, cause);
    case "EISDIR":
      return new TetherError(ErrorCode.InvalidArgument, `cannot ${op} ${path}: it is a directory`, cause);
    case "EROFS":
      return new TetherError(ErrorCode.PermissionDenied, `cannot ${op} ${path}: it is on a read-only file system`, cause);
    case "EACCES":
    case "EPERM":
      return new TetherError(ErrorCode.PermissionDenied, `cannot ${op} ${path}: the operating system denied access (${errno})`, cause);
    case "ENOSPC":
    case "EDQUOT":
      return new TetherError(ErrorCode.ResourceExhausted, `disk full while ${op === "write" ? "writing" : `trying to ${op}`} ${path}: free some space or write less`, cause);
    case "ELOOP":
      return new TetherError(ErrorCode.InvalidArgument, `cannot ${op} ${path}: too many levels of symbolic links`, cause);
    case "ENAMETOOLONG":
      return new TetherError(ErrorCode.InvalidArgument, `cannot ${op} ${path}: the name is too long`, cause);
    case "EBUSY":
      return new TetherError(ErrorCode.FailedPrecondition, `cannot ${op} ${path}: it is busy (a mount point or in use)`, cause);
    default:
      return TetherError.from(err, `cannot ${op} ${path}`);
  }
}
