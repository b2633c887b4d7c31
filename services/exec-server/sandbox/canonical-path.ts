// The path a policy entry means: `..` normalised and the symlinks of its longest existing
// prefix resolved (the file API and the kernel both see resolved paths); a missing tail is
// kept as written. Every file call resolves every root and rule of its policy, so this must
// stay cheap for hostile input: the longest existing prefix is found by binary search.

import fs from "node:fs";
import path from "node:path";

/** The two file system questions asked; injected by tests to count them. */
export interface PathProbe {
  /** Follows symlinks; false for missing, not-a-directory, unreadable or looping paths. Never throws. */
  exists(p: string): boolean;
  realpath(p: string): string;
}

const NODE_PROBE: PathProbe = { exists: (p) => fs.existsSync(p), realpath: (p) => fs.realpathSync.native(p) };

/**
 * A prefix exists only if every shorter prefix does, so the longest one is found with
 * O(log depth) existence checks (none when the whole path exists) instead of one realpath
 * per missing component: a 2,000-level missing path costs a dozen checks, not 2,000 thrown
 * errors on the event loop.
 */
export function canonicalPath(p: string, probe: PathProbe = NODE_PROBE): string {
  const normal = path.resolve(p);
  const real = (q: string): string | undefined => {
    try {
      return probe.realpath(q);
    } catch {
      return undefined; // vanished since it was checked, or unreadable: keep the path as written
    }
  };
  if (probe.exists(normal)) return real(normal) ?? normal;
  // Where each prefix ends: before each "/" after the first, then the whole path. `normal` is
  // normalised (no "//", no trailing "/"), so prefix(k) = normal.slice(0, ends[k]).
  const ends = [1];
  for (let i = normal.indexOf("/", 1); i !== -1; i = normal.indexOf("/", i + 1)) ends.push(i);
  ends.push(normal.length);
  const prefix = (k: number) => normal.slice(0, ends[k]);
  let lo = 0; // prefix(lo) exists (the root does)
  let hi = ends.length - 1; // prefix(hi), the whole path, does not
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (probe.exists(prefix(mid))) lo = mid;
    else hi = mid;
  }
  const base = real(prefix(lo));
  if (base === undefined) return normal;
  const tail = normal.slice(lo === 0 ? 1 : ends[lo]! + 1);
  return base === "/" ? `/${tail}` : `${base}/${tail}`;
}
