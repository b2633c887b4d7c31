// Creates a directory (optionally with its parents), with exact permission bits.
import { chmod, mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import { statPath } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";

export const DEFAULT_DIR_MODE = 0o755;

/** Creates the already-resolved, write-checked `target`. */
export async function makeDir(target: string, parents: boolean, mode: number, resolver: PathResolver): Promise<FileStat> {
  const existing = await kindAt(target);
  if (existing === "directory" && parents) return statPath(target);
  if (existing !== undefined) {
    throw new TetherError(
      ErrorCode.AlreadyExists,
      existing === "directory"
        ? `cannot create directory ${target}: it already exists (pass parents to accept an existing directory)`
        : `cannot create directory ${target}: a file is in the way, remove it or pick another path`,
    );
  }
  const missing = await missingAncestors(target);
  if (missing.length > 0 && !parents) {
    throw new TetherError(ErrorCode.NotFound, `cannot create directory ${target}: parent ${dirname(target)} does not exist, pass parents`);
  }
  // Every directory we create must be writable under the policy, not only the last.
  for (const dir of missing) resolver.check(dir, "write");
  try {
    await mkdir(target, { recursive: parents, mode });
    // mkdir applies the umask; the caller asked for exact bits.
    await chmod(target, mode);
  } catch (err) {
    throw fsError(err, "create directory", target);
  }
  return statPath(target);
}

async function kindAt(path: string): Promise<"directory" | "other" | undefined> {
  try {
    return (await stat(path)).isDirectory() ? "directory" : "other";
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw fsError(err, "create directory", path);
  }
}

/** Ancestors of `target` that do not exist, outermost first. */
export async function missingAncestors(target: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = dirname(target); dir !== dirname(dir); dir = dirname(dir)) {
    if ((await kindAt(dir)) !== undefined) break;
    missing.unshift(dir);
  }
  return missing;
}
