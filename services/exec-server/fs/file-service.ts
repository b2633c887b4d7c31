// FileService: the exec server's file operations. Every path goes through PathResolver
// (validated, resolved, policy-checked) before anything is touched; the operations
// themselves live one group per file beside this one.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import { FULL_ACCESS } from "../sandbox/file-access.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { writeAtomic } from "./atomic-write.js";
import { copyPath } from "./copy-path.js";
import { statPath } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import { DEFAULT_DIR_MODE, makeDir, missingAncestors } from "./make-dir.js";
import { PathResolver } from "./path-resolver.js";
import { READ_DIR_BATCH, readDirBatches } from "./read-dir.js";
import type { DirEntry } from "./read-dir.js";
import { READ_CHUNK_BYTES, readFileChunks } from "./read-file.js";
import type { ReadChunk } from "./read-file.js";
import { removePath } from "./remove-path.js";
import { renamePath } from "./rename-path.js";
import { watchPaths } from "./watch-paths.js";
import type { WatchItem } from "./watch-queue.js";

const DEFAULT_FILE_MODE = 0o644;
/** Roots one Watch call may name (each is resolved and checked before anything is watched). */
export const MAX_WATCH_PATHS = 256;

/** Only rwx bits: a root server must not create setuid/setgid/sticky files for a client. */
function permissionBits(mode: number | undefined): number {
  return (mode ?? 0) & 0o777;
}

export interface FileCallOptions {
  signal: AbortSignal;
  /** The caller's file policy; defaults to the service's (FULL_ACCESS unless configured). */
  policy?: FileAccessPolicy;
}

export interface FileServiceOptions {
  defaultPolicy?: FileAccessPolicy;
  readChunkBytes?: number;
  readDirBatch?: number;
  watchQueueCapacity?: number;
  maxWatches?: number;
}

export interface WriteFileHeader {
  path: string;
  /** Permission bits for a new file; 0 or absent means 0644. An existing file keeps its mode. */
  mode?: number;
  createParents?: boolean;
  /** "absent" (must not exist) or a FileStat.version; empty or absent means no check. */
  expectedVersion?: string;
}

export class FileService {
  private readonly defaultPolicy: FileAccessPolicy;
  private readonly readChunkBytes: number;
  private readonly readDirBatch: number;
  private readonly watchQueueCapacity: number;
  private readonly maxWatches: number;

  constructor(options: FileServiceOptions = {}) {
    this.defaultPolicy = options.defaultPolicy ?? FULL_ACCESS;
    this.readChunkBytes = options.readChunkBytes ?? READ_CHUNK_BYTES;
    this.readDirBatch = options.readDirBatch ?? READ_DIR_BATCH;
    this.watchQueueCapacity = options.watchQueueCapacity ?? 10_000;
    this.maxWatches = options.maxWatches ?? 8_192;
  }

  async stat(req: { path: string; noFollow?: boolean }, opts: FileCallOptions): Promise<FileStat> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const path = req.noFollow ? await r.resolveLink(req.path, "path", "read") : await r.resolve(req.path, "path", "read");
    return statPath(path, req.noFollow ?? false);
  }

  /** Chunks of at most 256 KiB; the first carries the FileStat. `length` 0 means to the end. */
  async *readFile(req: { path: string; offset?: number; length?: number }, opts: FileCallOptions): AsyncGenerator<ReadChunk> {
    const offset = req.offset ?? 0;
    const length = req.length ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TetherError(ErrorCode.InvalidArgument, `offset ${offset} is not a valid byte offset`);
    if (!Number.isSafeInteger(length) || length < 0) throw new TetherError(ErrorCode.InvalidArgument, `length ${length} is not a valid byte count`);
    const r = this.resolver(opts);
    const path = await r.resolve(req.path, "path", "read");
    yield* readFileChunks(path, { offset, length }, r, opts.signal, this.readChunkBytes);
  }

  /** Atomically replaces the file with `chunks`; nothing is left behind on failure or abort. */
  async writeFile(header: WriteFileHeader, chunks: AsyncIterable<Uint8Array>, opts: FileCallOptions): Promise<FileStat> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const path = await r.resolve(header.path, "path", "write");
    if (header.createParents) await this.createParents(path, r);
    const args = { signal: opts.signal, mode: permissionBits(header.mode) || DEFAULT_FILE_MODE };
    return writeAtomic(path, chunks, header.expectedVersion ? { ...args, expectedVersion: header.expectedVersion } : args);
  }

  async makeDir(req: { path: string; parents?: boolean; mode?: number }, opts: FileCallOptions): Promise<FileStat> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const path = await r.resolve(req.path, "path", "write");
    return makeDir(path, req.parents ?? false, permissionBits(req.mode) || DEFAULT_DIR_MODE, r);
  }

  /** Batches of at most 1000 entries, depth-first, siblings sorted. `depth` 0 or 1 lists one level. */
  async *readDir(req: { path: string; depth?: number }, opts: FileCallOptions): AsyncGenerator<DirEntry[]> {
    const r = this.resolver(opts);
    const path = await r.resolve(req.path, "path", "read");
    yield* readDirBatches(path, req.depth ?? 1, r, opts.signal, this.readDirBatch);
  }

  /** Removes a file, link (not its target) or, with `recursive`, a tree. `force`: missing is fine. */
  async remove(req: { path: string; recursive?: boolean; force?: boolean }, opts: FileCallOptions): Promise<void> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const path = await r.resolveLink(req.path, "path", "write");
    await removePath(path, { recursive: req.recursive ?? false, force: req.force ?? false }, r, opts.signal);
  }

  async copy(req: { source: string; destination: string; recursive?: boolean; overwrite?: boolean }, opts: FileCallOptions): Promise<FileStat> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const source = await r.resolve(req.source, "source", "read");
    const destination = await r.resolve(req.destination, "destination", "write");
    return copyPath(source, destination, { recursive: req.recursive ?? false, overwrite: req.overwrite ?? false }, r, opts.signal);
  }

  async rename(req: { source: string; destination: string; overwrite?: boolean }, opts: FileCallOptions): Promise<FileStat> {
    throwIfAborted(opts.signal);
    const r = this.resolver(opts);
    const source = await r.resolveLink(req.source, "source", "write");
    const destination = await r.resolveLink(req.destination, "destination", "write");
    return renamePath(source, destination, req.overwrite ?? false, r, opts.signal);
  }

  /** The physical absolute path (symlinks and `..` resolved); the path need not exist yet. */
  async canonicalize(req: { path: string }, opts: FileCallOptions): Promise<string> {
    throwIfAborted(opts.signal);
    return this.resolver(opts).resolve(req.path, "path", "read");
  }

  /** `ready` once watching, then changes; ends when `opts.signal` aborts. */
  async *watch(req: { paths: string[]; recursive?: boolean }, opts: FileCallOptions): AsyncGenerator<WatchItem> {
    if (req.paths.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "paths is empty: pass at least one path to watch");
    if (req.paths.length > MAX_WATCH_PATHS) {
      throw new TetherError(ErrorCode.InvalidArgument, `paths has ${req.paths.length} entries; the limit is ${MAX_WATCH_PATHS} (MAX_WATCH_PATHS): watch a common parent recursively`);
    }
    const r = this.resolver(opts);
    const roots: string[] = [];
    for (const [i, p] of req.paths.entries()) roots.push(await r.resolve(p, `paths[${i}]`, "read"));
    yield* watchPaths(roots, r, {
      recursive: req.recursive ?? false,
      signal: opts.signal,
      queueCapacity: this.watchQueueCapacity,
      maxWatches: this.maxWatches,
    });
  }

  private resolver(opts: FileCallOptions): PathResolver {
    return new PathResolver(opts.policy ?? this.defaultPolicy);
  }

  private async createParents(path: string, r: PathResolver): Promise<void> {
    const dir = dirname(path);
    // Each directory created must be writable under the policy, not only the file.
    for (const d of await missingAncestors(path)) r.check(d, "write");
    try {
      await mkdir(dir, { recursive: true, mode: DEFAULT_DIR_MODE });
    } catch (err) {
      throw fsError(err, "create parent directories of", path);
    }
  }
}
