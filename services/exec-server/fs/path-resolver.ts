// The one place where a caller's path becomes a physical path: validated, symlinks and
// `..` resolved against the real file system, then checked against the file policy.
import { lstat, readlink, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { PATH_MAX } from "../../common/glob-matcher.js";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import type { FileAccessLevel, FileAccessPolicy } from "../sandbox/file-access.js";
import { fsError } from "./fs-error.js";

/** What an operation needs: "read" is satisfied by read or write access, "write" only by write. */
export type AccessNeed = "read" | "write";

// Linux gives up after 40 links (MAXSYMLINKS); so do we, with the same ELOOP meaning.
const MAX_SYMLINKS = 40;

export class PathResolver {
  constructor(readonly policy: FileAccessPolicy) {}

  /**
   * Resolves `raw` following every symlink (including the last component) and checks
   * `need` on the result. Paths that do not exist yet resolve through their longest
   * existing prefix, so a new file under a symlinked directory lands where the kernel
   * would put it, and a dangling link is followed to its target rather than replaced.
   */
  async resolve(raw: string, field: string, need: AccessNeed): Promise<string> {
    validatePath(raw, field);
    const resolved = await physical(raw, { links: 0 });
    this.check(resolved, need);
    return resolved;
  }

  /**
   * For operations on a link itself (lstat, remove, rename): the parent is resolved,
   * the last name is kept as is. `/`, `.` and `..` endings fall back to `resolve`.
   */
  async resolveLink(raw: string, field: string, need: AccessNeed): Promise<string> {
    validatePath(raw, field);
    const name = basename(raw);
    if (name === "" || name === "." || name === ".." || dirname(raw) === raw) return this.resolve(raw, field, need);
    const parent = await physical(dirname(raw), { links: 0 });
    const resolved = join(parent, name);
    this.check(resolved, need);
    return resolved;
  }

  /** Throws PermissionDenied unless the policy grants `need` on an already-resolved path. */
  check(resolved: string, need: AccessNeed): void {
    const level = this.policy.accessFor(resolved);
    if (satisfies(level, need)) return;
    throw new TetherError(
      ErrorCode.PermissionDenied,
      `${need} access to ${resolved} is not allowed by the file policy (${this.policy.describe()}): ` +
        `use a path the policy ${need === "write" ? "makes writable" : "allows"} or ask for more access`,
      { details: { path: resolved } },
    );
  }

  /** True when the policy grants `need` on an already-resolved path. */
  allows(resolved: string, need: AccessNeed): boolean {
    return satisfies(this.policy.accessFor(resolved), need);
  }
}

function satisfies(level: FileAccessLevel, need: AccessNeed): boolean {
  return level === "write" || (need === "read" && level === "read");
}

/** Rejects what no file operation can use, naming the field. */
function validatePath(raw: string, field: string): void {
  if (typeof raw !== "string" || raw.length === 0) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} is empty: pass an absolute path`);
  }
  // Longer than the kernel takes: refused before it is resolved or matched against rules.
  const bytes = Buffer.byteLength(raw);
  if (bytes > PATH_MAX) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} is ${bytes} bytes; the limit is ${PATH_MAX} (PATH_MAX): use a shorter path`);
  }
  if (raw.includes("\0")) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} contains a NUL byte: remove it, paths cannot hold NUL`);
  }
  if (!isAbsolute(raw)) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} must be absolute: got ${JSON.stringify(raw)}, prefix it with the directory it is relative to`);
  }
}

/**
 * realpath of `p`, or, when `p` does not exist, the physical parent plus the last name,
 * following the last name if it is a (dangling) symlink. `..` after a symlink is
 * resolved physically (as the kernel does), never lexically.
 */
async function physical(p: string, state: { links: number }): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === "ELOOP") throw fsError(err, "resolve", p);
    if (errno !== "ENOENT" && errno !== "ENOTDIR") throw fsError(err, "resolve", p);
  }
  const parentRaw = dirname(p);
  if (parentRaw === p) return p;
  const name = basename(p);
  const parent = await physical(parentRaw, state);
  if (name === "" || name === ".") return parent;
  if (name === "..") return dirname(parent);
  const candidate = join(parent, name);
  const target = await linkTarget(candidate);
  if (target === undefined) return candidate;
  if (++state.links > MAX_SYMLINKS) {
    throw new TetherError(ErrorCode.InvalidArgument, `cannot resolve ${p}: too many levels of symbolic links`);
  }
  // Concatenated, not joined: `..` inside the target must be resolved physically too.
  return physical(isAbsolute(target) ? target : `${parent === "/" ? "" : parent}/${target}`, state);
}

/** The target of `p` if it is a symlink; undefined if it is anything else or missing. */
async function linkTarget(p: string): Promise<string | undefined> {
  try {
    const st = await lstat(p);
    return st.isSymbolicLink() ? await readlink(p) : undefined;
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
    throw fsError(err, "resolve", p);
  }
}
