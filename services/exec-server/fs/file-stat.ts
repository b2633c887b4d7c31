// FileStat: what tether reports about a path, and the opaque version string that lets a
// writer refuse to overwrite a change it has not seen.
import { lstat, readlink, stat } from "node:fs/promises";
import type { BigIntStats, Stats } from "node:fs";
import { errnoCode } from "../../common/tether-error.js";
import { fsError } from "./fs-error.js";

export type FileKind = "file" | "directory" | "symlink" | "other";

export interface FileStat {
  /** The resolved absolute path. */
  path: string;
  type: FileKind;
  size: number;
  /** Permission bits only (including setuid/setgid/sticky), e.g. 0o644. */
  mode: number;
  mtimeMs: number;
  /** Opaque; changes whenever the content may have changed. */
  version: string;
  /** Set for symlinks (when described with no-follow). */
  symlinkTarget: string;
}

/** The `version` a caller passes to require that a file does not exist yet. */
export const ABSENT_VERSION = "absent";

/** Stats `path` (following links unless `noFollow`). */
export async function statPath(path: string, noFollow = false): Promise<FileStat> {
  try {
    const st = noFollow ? await lstat(path, { bigint: true }) : await stat(path, { bigint: true });
    const target = st.isSymbolicLink() ? await readlink(path) : "";
    return toFileStat(path, st, target);
  } catch (err) {
    throw fsError(err, "stat", path);
  }
}

/** The current version of `path`, or ABSENT_VERSION if nothing is there. */
export async function currentVersion(path: string): Promise<string> {
  try {
    return fileVersion(await stat(path, { bigint: true }));
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT" || errno === "ENOTDIR") return ABSENT_VERSION;
    throw fsError(err, "stat", path);
  }
}

export function toFileStat(path: string, st: BigIntStats, symlinkTarget = ""): FileStat {
  return {
    path,
    type: kindOf(st),
    size: Number(st.size),
    mode: Number(st.mode & 0o7777n),
    mtimeMs: Number(st.mtimeMs),
    version: fileVersion(st),
    symlinkTarget,
  };
}

// dev+ino catch replacement by rename; size, mtime and ctime (ns) catch in-place edits.
// ctime also moves on chmod and link changes, which is harmless over-reporting.
function fileVersion(st: BigIntStats): string {
  return "v1." + [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map((n) => n.toString(36)).join(".");
}

function kindOf(st: BigIntStats): FileKind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isSymbolicLink()) return "symlink";
  return "other";
}

/** lstat, or undefined when nothing is at `path` (any other failure throws, naming it). */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw fsError(err, "stat", path);
  }
}
