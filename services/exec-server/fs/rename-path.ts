// Moves a path (the link itself, not its target). Across file systems (EXDEV) it
// falls back to copy then remove, which is not atomic but leaves the source intact
// until the copy is complete.
import { readlink, rename, symlink, unlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import { copyPath } from "./copy-path.js";
import { lstatOrUndefined, statPath } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";
import { checkTree, removePath } from "./remove-path.js";

/** Renames link-resolved, write-checked `source` to link-resolved, write-checked `dest`. */
export async function renamePath(source: string, dest: string, overwrite: boolean, resolver: PathResolver, signal: AbortSignal): Promise<FileStat> {
  const src = await lstatOrUndefined(source);
  if (!src) throw new TetherError(ErrorCode.NotFound, `cannot rename ${source}: it does not exist`);
  if (source === dest) return statPath(dest, true);
  if (src.isDirectory()) {
    if (dest.startsWith(source + "/")) {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot move directory ${source} into itself (${dest}): pick a destination outside it`);
    }
    // Moving a tree moves everything in it: each path must be writable under the policy.
    await checkTree(source, resolver, signal);
  }
  const existing = await lstatOrUndefined(dest);
  if (existing && !overwrite) {
    throw new TetherError(ErrorCode.AlreadyExists, `cannot rename to ${dest}: it already exists (pass overwrite to replace it)`);
  }
  try {
    await rename(source, dest);
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === "EXDEV") await moveAcross(source, dest, src, overwrite, resolver, signal);
    else if (errno === "ENOTEMPTY" || errno === "EEXIST") {
      throw new TetherError(ErrorCode.FailedPrecondition, `cannot rename to ${dest}: it is a non-empty directory, remove it first`, { cause: err });
    } else if (errno === "EISDIR") {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot rename file ${source} over directory ${dest}: name a file path instead`, { cause: err });
    } else if (errno === "ENOTDIR") {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot rename directory ${source} over non-directory ${dest}: remove it first`, { cause: err });
    } else throw fsError(err, "rename", `${source} to ${dest}`);
  }
  return statPath(dest, true);
}

async function moveAcross(source: string, dest: string, src: Stats, overwrite: boolean, resolver: PathResolver, signal: AbortSignal): Promise<void> {
  if (src.isSymbolicLink()) {
    try {
      const target = await readlink(source);
      if (overwrite) await unlink(dest).catch((err: unknown) => {
        if (errnoCode(err) !== "ENOENT") throw err;
      });
      await symlink(target, dest);
      await unlink(source);
    } catch (err) {
      throw fsError(err, "move", `${source} to ${dest}`);
    }
    return;
  }
  await copyPath(source, dest, { recursive: true, overwrite }, resolver, signal);
  await removePath(source, { recursive: true, force: false }, resolver, signal);
}
