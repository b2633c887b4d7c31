// Removes a file, link or directory tree. A recursive removal is checked against the
// policy for every path first, so a denied path inside leaves the whole tree untouched.
import { lstat, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, TetherError, errnoCode, throwIfAborted } from "../../common/tether-error.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";

export interface RemoveOptions {
  recursive: boolean;
  force: boolean;
}

/** Removes the link-resolved, write-checked `target` (a symlink is removed, not its target). */
export async function removePath(target: string, opts: RemoveOptions, resolver: PathResolver, signal: AbortSignal): Promise<void> {
  if (target === "/") throw new TetherError(ErrorCode.InvalidArgument, "refusing to remove /: name what to remove inside it");
  let isDir: boolean;
  try {
    isDir = (await lstat(target)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") {
      if (opts.force) return;
      throw new TetherError(ErrorCode.NotFound, `cannot remove ${target}: it does not exist (pass force to ignore missing paths)`, { cause: err });
    }
    throw fsError(err, "remove", target);
  }
  try {
    if (!isDir) return await unlink(target);
    if (!opts.recursive) return await rmdir(target);
    await checkTree(target, resolver, signal);
    throwIfAborted(signal);
    await rm(target, { recursive: true, force: false });
  } catch (err) {
    if (errnoCode(err) === "ENOTEMPTY" || errnoCode(err) === "EEXIST") {
      throw new TetherError(ErrorCode.FailedPrecondition, `cannot remove ${target}: directory not empty: pass recursive`, { cause: err });
    }
    if (opts.force && errnoCode(err) === "ENOENT") return;
    throw fsError(err, "remove", target);
  }
}

/** Throws PermissionDenied naming the first path under `dir` the policy does not let us write. */
export async function checkTree(dir: string, resolver: PathResolver, signal: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return;
    throw fsError(err, "list", dir);
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    resolver.check(full, "write");
    // Dirent types come from lstat semantics: a symlinked directory is not descended.
    if (entry.isDirectory()) await checkTree(full, resolver, signal);
  }
}
