// Lists a directory tree to a depth, depth-first with siblings sorted, in bounded batches.
// Symlinked directories are listed as links and never descended, so a listing cannot
// leave the tree or loop; entries the policy hides are skipped.
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, TetherError, errnoCode, throwIfAborted } from "../../common/tether-error.js";
import { toFileStat } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";

export const READ_DIR_BATCH = 1000;

export interface DirEntry {
  /** Relative to the listed directory, `/`-separated. */
  name: string;
  info: FileStat;
}

/** Batches of at most `batchSize` entries of the already-resolved directory `root`. */
export async function* readDirBatches(
  root: string,
  depth: number,
  resolver: PathResolver,
  signal: AbortSignal,
  batchSize = READ_DIR_BATCH,
): AsyncGenerator<DirEntry[]> {
  let rootStat;
  try {
    rootStat = await stat(root);
  } catch (err) {
    throw fsError(err, "list", root);
  }
  if (!rootStat.isDirectory()) {
    throw new TetherError(ErrorCode.InvalidArgument, `cannot list ${root}: it is not a directory, use Stat or ReadFile`);
  }
  let batch: DirEntry[] = [];
  for await (const entry of walk(root, Math.max(1, depth), resolver, signal)) {
    batch.push(entry);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Depth-first, siblings sorted, with an explicit stack: the client picks `depth` (up to
 * 2^32), so the walk must not nest one generator per level (each entry would pass
 * through every level above it).
 */
async function* walk(
  root: string,
  depth: number,
  resolver: PathResolver,
  signal: AbortSignal,
): AsyncGenerator<DirEntry> {
  interface Frame {
    dir: string;
    rel: string;
    level: number;
    names: string[];
    next: number;
  }
  const open = async (dir: string, rel: string, level: number): Promise<Frame> => {
    throwIfAborted(signal);
    const names = await listNames(dir, level === 1);
    // Code-unit order: stable across locales, the same on every backend.
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { dir, rel, level, names, next: 0 };
  };
  const stack: Frame[] = [await open(root, "", 1)];
  while (stack.length > 0) {
    const frame = stack.at(-1)!;
    if (frame.next >= frame.names.length) {
      stack.pop();
      continue;
    }
    const name = frame.names[frame.next++]!;
    const full = join(frame.dir, name);
    if (!resolver.allows(full, "read")) continue;
    const relName = frame.rel === "" ? name : `${frame.rel}/${name}`;
    const info = await entryStat(full);
    if (!info) continue;
    yield { name: relName, info };
    if (info.type === "directory" && frame.level < depth) stack.push(await open(full, relName, frame.level + 1));
  }
}

async function listNames(dir: string, isRoot: boolean): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    // A subdirectory removed while we walk simply has no entries any more.
    if (!isRoot && errnoCode(err) === "ENOENT") return [];
    throw fsError(err, "list", dir);
  }
}

/** lstat of one entry, or undefined when it vanished between readdir and now. */
async function entryStat(full: string): Promise<FileStat | undefined> {
  try {
    const st = await lstat(full, { bigint: true });
    return toFileStat(full, st, st.isSymbolicLink() ? await readlink(full) : "");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw fsError(err, "stat", full);
  }
}
