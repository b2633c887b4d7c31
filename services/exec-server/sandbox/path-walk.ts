// Bounded walks of the host filesystem the bwrap plan needs: expanding a glob rule into
// the paths it matches now, and finding Unix sockets that a readable tree would expose.

import fs from "node:fs";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import type { PathPattern } from "./path-pattern.js";

/** Glob expansion visits at most this many directory entries before giving up. */
const MAX_GLOB_ENTRIES = 50_000;
const NEVER_WALK = ["/proc", "/sys", "/dev"];

/** Existing paths a glob matches now. Paths created later are not covered (documented). */
export async function expandGlob(pattern: PathPattern, signal: AbortSignal | undefined): Promise<string[]> {
  const matches: string[] = [];
  let visited = 0;
  await walk(pattern.literalBase, Infinity, signal, (full, entry) => {
    if (++visited > MAX_GLOB_ENTRIES) {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `file rule ${pattern.source} needs more than ${MAX_GLOB_ENTRIES} directory entries to expand: start the glob from a deeper directory`,
      );
    }
    if (pattern.matchBase(full) === full) {
      matches.push(full);
      return false; // the match covers its whole subtree
    }
    return entry.isDirectory();
  });
  return matches;
}

/**
 * Sockets up to `maxDepth` levels below `dir`, visiting at most `maxEntries` entries
 * (best effort: a socket deeper than the budget is not found).
 */
export async function findSockets(
  dir: string,
  options: { maxDepth: number; maxEntries: number; signal?: AbortSignal; skip: (p: string) => boolean },
): Promise<string[]> {
  const sockets: string[] = [];
  let visited = 0;
  await walk(dir, options.maxDepth, options.signal, (full, entry) => {
    if (++visited > options.maxEntries) return "stop";
    if (options.skip(full)) return false;
    if (entry.isSocket()) sockets.push(full);
    return entry.isDirectory();
  });
  return sockets;
}

/** Breadth-first, never following symlinks; `visit` says whether to descend (or stop). */
async function walk(
  root: string,
  maxDepth: number,
  signal: AbortSignal | undefined,
  visit: (full: string, entry: fs.Dirent) => boolean | "stop",
): Promise<void> {
  const queue: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    throwIfAborted(signal);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(next.dir, { withFileTypes: true });
    } catch {
      continue; // Unreadable or vanished directory: nothing below it can be found.
    }
    for (const entry of entries) {
      const full = next.dir === "/" ? `/${entry.name}` : `${next.dir}/${entry.name}`;
      const descend = visit(full, entry);
      if (descend === "stop") return;
      if (descend && next.depth + 1 < maxDepth && !NEVER_WALK.includes(full)) queue.push({ dir: full, depth: next.depth + 1 });
    }
  }
}
