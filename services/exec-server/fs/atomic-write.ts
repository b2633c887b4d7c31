// Atomic file replacement: data goes to a temp file in the target's directory, is
// fsynced, and is renamed over the target, so readers see the old or the new file,
// never half of one. Any failure or abort removes the temp file.
import { randomBytes } from "node:crypto";
import { lstat, open, realpath, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ErrorCode, TetherError, errnoCode, throwIfAborted } from "../../common/tether-error.js";
import { ABSENT_VERSION, currentVersion, statPath } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import { abortable } from "./abortable.js";

export interface AtomicWriteOptions {
  signal: AbortSignal;
  /** Permission bits for a new file; an existing file keeps its own unless `forceMode`. */
  mode: number;
  /** Apply `mode` even when replacing an existing file (copy preserves the source's mode). */
  forceMode?: boolean;
  /** ABSENT_VERSION, a version from FileStat, or undefined for no check. */
  expectedVersion?: string;
}

/** Prefix of temp files, so they are recognisable (and skippable) in listings. */
export const TEMP_PREFIX = ".tether-write-";

/** Writes `chunks` to the already-resolved, policy-checked `target` atomically. */
export async function writeAtomic(target: string, chunks: AsyncIterable<Uint8Array>, opts: AtomicWriteOptions): Promise<FileStat> {
  const { signal } = opts;
  throwIfAborted(signal);
  const existing = await existingFile(target);
  await checkVersion(target, opts.expectedVersion);
  const dir = dirname(target);
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}.tmp`);
  let handle: FileHandle | undefined;
  let created = false;
  try {
    const mode = opts.forceMode ? opts.mode : (existing?.mode ?? opts.mode);
    handle = await openTemp(temp, mode, target);
    created = true;
    // open() applies the umask; the caller asked for exact bits.
    await handle.chmod(mode);
    if (existing) await keepOwner(handle, existing.uid, existing.gid);
    for await (const chunk of abortable(chunks, signal)) {
      await writeAll(handle, chunk, signal);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await checkVersion(target, opts.expectedVersion);
    await checkDirUnchanged(dir);
    // Last look before the point of no return: a call cancelled while we synced commits nothing.
    throwIfAborted(signal);
    await rename(temp, target);
    created = false;
    await syncDir(dir);
  } catch (err) {
    throw fsError(err, "write", target);
  } finally {
    if (handle) await handle.close().catch(() => undefined); // already failing: the first error is the one to report
    if (created) await removeTemp(temp);
  }
  return statPath(target);
}

interface Existing {
  mode: number;
  uid: number;
  gid: number;
}

async function existingFile(target: string): Promise<Existing | undefined> {
  try {
    const st = await lstat(target);
    if (st.isDirectory()) {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot write ${target}: it is a directory, write to a file path inside it`);
    }
    if (!st.isFile()) {
      throw new TetherError(ErrorCode.FailedPrecondition, `cannot write ${target}: it is not a regular file (device, fifo or socket) and would be replaced`);
    }
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === "ENOENT") return undefined;
    throw fsError(err, "write", target);
  }
}

/** Refuses unless the target's version is the expected one (checked again right before rename). */
async function checkVersion(target: string, expected: string | undefined): Promise<void> {
  if (expected === undefined || expected === "") return;
  const actual = await currentVersion(target);
  if (actual === expected) return;
  const message =
    expected === ABSENT_VERSION
      ? `${target} already exists (version ${actual}) but expected_version is "absent": stat it and pass its version to overwrite`
      : actual === ABSENT_VERSION
        ? `${target} no longer exists but expected_version is ${expected}: pass "absent" to create it`
        : `${target} changed: expected version ${expected}, found ${actual}; read it again and retry with the new version`;
  throw new TetherError(ErrorCode.FailedPrecondition, message, { details: { expected_version: expected, actual_version: actual } });
}

async function openTemp(temp: string, mode: number, target: string): Promise<FileHandle> {
  try {
    // "wx": O_CREAT|O_EXCL, so an existing file or symlink at the temp name is never followed.
    return await open(temp, "wx", mode);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      throw new TetherError(ErrorCode.NotFound, `cannot write ${target}: directory ${dirname(temp)} does not exist: pass create_parents`, { cause: err });
    }
    throw err;
  }
}

async function keepOwner(handle: FileHandle, uid: number, gid: number): Promise<void> {
  try {
    await handle.chown(uid, gid);
  } catch (err) {
    // A non-root server cannot give a file to another user; the new file is then ours,
    // as with any editor that saves by rename. Only EPERM means that.
    if (errnoCode(err) !== "EPERM") throw err;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    throwIfAborted(signal);
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** The directory was resolved before writing; if a component was swapped for a symlink since, stop. */
async function checkDirUnchanged(dir: string): Promise<void> {
  const now = await realpath(dir);
  if (now !== dir) {
    throw new TetherError(ErrorCode.Aborted, `directory ${dir} now resolves to ${now}: it was replaced while writing, retry`);
  }
}

/** Makes the rename durable; some file systems refuse fsync on directories, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (err) {
    const errno = errnoCode(err);
    if (errno !== "EINVAL" && errno !== "ENOTSUP") throw err;
  } finally {
    await handle?.close();
  }
}

async function removeTemp(temp: string): Promise<void> {
  try {
    await unlink(temp);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") {
      // The write already failed and that error is what the caller sees; say that we left a file behind.
      console.warn(`tether: could not remove temp file ${temp}: ${String(err)}`);
    }
  }
}
