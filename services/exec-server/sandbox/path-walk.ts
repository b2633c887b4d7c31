// Bounded walks of the host filesystem the bwrap plan needs: expanding a glob rule into
// the paths it matches now, and finding Unix sockets that a readable tree would expose.

import fs from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import { MAX_MATCH_STEPS, type StepCounter } from "../../common/glob-matcher.js";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import type { PathPattern } from "./path-pattern.js";

/** Glob expansion visits at most this many directory entries before giving up. */
const MAX_GLOB_ENTRIES = 50_000;
/**
 * Matcher steps one expansion may spend (about 100 worst-case matches against PATH_MAX
 * paths; real globs against real paths take a few hundred steps per entry).
 */
const MAX_GLOB_EXPANSION_STEPS = 100 * MAX_MATCH_STEPS;
/** Entries handled between yields to the event loop, so one huge directory cannot hold it. */
const ENTRIES_PER_TURN = 1_000;
const NEVER_WALK = ["/proc", "/sys", "/dev"];

/** Existing paths a glob matches now. Paths created later are not covered (documented). */
export async function expandGlob(pattern: PathPattern, signal: AbortSignal | undefined): Promise<string[]> {
  const matches: string[] = [];
  let visited = 0;
  const counter: StepCounter = { steps: 0 };
  await walk(pattern.literalBase, Infinity, signal, (full, entry) => {
    if (++visited > MAX_GLOB_ENTRIES) {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `file rule ${pattern.source} needs more than ${MAX_GLOB_ENTRIES} directory entries to expand: start the glob from a deeper directory`,
      );
    }
    if (counter.steps > MAX_GLOB_EXPANSION_STEPS) {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `file rule ${pattern.source} needs more than ${MAX_GLOB_EXPANSION_STEPS} matching steps to expand: start the glob from a deeper directory or simplify it`,
      );
    }
    if (pattern.matchBase(full, counter) === full) {
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
    for (const [i, entry] of entries.entries()) {
      if (i > 0 && i % ENTRIES_PER_TURN === 0) {
        await nextTurn();
        throwIfAborted(signal);
      }
      const full = next.dir === "/" ? `/${entry.name}` : `${next.dir}/${entry.name}`;
      const descend = visit(full, entry);
      if (descend === "stop") return;
      if (descend && next.depth + 1 < maxDepth && !NEVER_WALK.includes(full)) queue.push({ dir: full, depth: next.depth + 1 });
    }
  }
}
