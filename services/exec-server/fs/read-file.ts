// Streams a file or a byte range of it from an open handle, one bounded chunk at a time,
// so memory stays flat whatever the file size; the consumer's pace sets the reading pace.
import { open, readlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { constants } from "node:fs";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import { toFileStat } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";

export const READ_CHUNK_BYTES = 512 * 1024;
/**
 * Free bytes just before every chunk's `data`, in the same buffer: a transport writes its
 * message header there and sends header and data as one buffer, copying each byte once.
 */
export const READ_HEADROOM_BYTES = 32;

export interface ReadChunk {
  /** Only on the first chunk. */
  info?: FileStat;
  /** File offset of `data`. */
  offset: number;
  /** A view into a fresh buffer the consumer owns, READ_HEADROOM_BYTES after its start. */
  data: Uint8Array;
}

export interface ReadRange {
  offset: number;
  /** 0 means to the end. */
  length: number;
}

/** Chunks of the already-resolved `path`; the first carries its FileStat (and may hold no data). */
export async function* readFileChunks(
  path: string,
  range: ReadRange,
  resolver: PathResolver,
  signal: AbortSignal,
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<ReadChunk> {
  throwIfAborted(signal);
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the path was resolved already; a link appearing now is a swap, not a file.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw fsError(err, "read", path);
  }
  try {
    await checkOpenedPath(handle, path, resolver);
    const st = await handle.stat({ bigint: true });
    if (st.isDirectory()) {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot read ${path}: it is a directory, use ReadDir to list it`);
    }
    if (!st.isFile()) {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot read ${path}: it is not a regular file (device, fifo or socket)`);
    }
    const info = toFileStat(path, st);
    let offset = range.offset;
    const end = range.length > 0 ? offset + range.length : Infinity;
    let first = true;
    while (true) {
      throwIfAborted(signal);
      const want = Math.min(chunkBytes, end - offset);
      const data = want > 0 ? await readSome(handle, want, offset, path) : new Uint8Array(0);
      if (data.byteLength > 0 || first) {
        yield first ? { info, offset, data } : { offset, data };
        first = false;
      }
      offset += data.byteLength;
      if (data.byteLength === 0 || offset >= end) return;
    }
  } finally {
    await handle.close();
  }
}

/** A fresh buffer per chunk (the consumer owns what we yield), with the headroom before the data. */
async function readSome(handle: FileHandle, want: number, position: number, path: string): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(READ_HEADROOM_BYTES + want);
  try {
    const { bytesRead } = await handle.read(buf, READ_HEADROOM_BYTES, want, position);
    return buf.subarray(READ_HEADROOM_BYTES, READ_HEADROOM_BYTES + bytesRead);
  } catch (err) {
    throw fsError(err, "read", path);
  }
}

/**
 * The kernel's view of what we opened: if a parent directory was swapped for a symlink
 * between resolving and opening, the real path differs and must pass the policy too.
 */
async function checkOpenedPath(handle: FileHandle, path: string, resolver: PathResolver): Promise<void> {
  let actual: string;
  try {
    actual = await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    // No /proc (not Linux, or hidden): the resolution done before opening stands.
    return;
  }
  if (actual !== path) resolver.check(actual, "read");
}
