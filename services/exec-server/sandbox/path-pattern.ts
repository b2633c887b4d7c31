// A file rule's pattern: an absolute path (matches itself and everything below it) or a
// glob over absolute paths (`*` and `?` stay inside one segment, `**` spans segments).
// A glob that matches a directory also covers everything below that directory.
// Globs go through the linear GlobMatcher: a client's rule never becomes a RegExp.

import path from "node:path";
import { GlobMatcher, PATH_MAX, type StepCounter } from "../../common/glob-matcher.js";

const GLOB_CHARS = /[*?]/;
const SLASH = 0x2f;

export class PathPattern {
  readonly source: string;
  readonly isGlob: boolean;
  /** The literal directory a glob starts from (the whole path for a plain path). */
  readonly literalBase: string;
  /** The glob from the literal base on (`/` + the wildcard segments); matched after the base. */
  readonly globPart: string;
  private readonly matcher: GlobMatcher | undefined;

  constructor(pattern: string) {
    this.source = pattern;
    this.isGlob = GLOB_CHARS.test(pattern);
    if (!this.isGlob) {
      this.literalBase = path.resolve(pattern);
      this.globPart = "";
      this.matcher = undefined;
      return;
    }
    const segments = pattern.split("/");
    const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
    this.literalBase = segments.slice(0, firstGlob).join("/") || "/";
    this.globPart = this.literalBase === "/" ? pattern : pattern.slice(this.literalBase.length);
    // Callers validate length at the edge (sandbox-policy); this bound only keeps the
    // matcher's cost finite for patterns built elsewhere.
    this.matcher = GlobMatcher.compile(this.globPart, "path", "file rule glob", PATH_MAX);
  }

  /**
   * The path this pattern matched that covers `absPath` (absPath itself or an ancestor),
   * or undefined. Callers need the base to know which `.git` a write grant stops at.
   * Shortest matching prefix first, in one pass: a glob that matches a directory covers
   * its subtree.
   */
  matchBase(absPath: string, counter?: StepCounter): string | undefined {
    if (!isWithin(absPath, this.literalBase)) return undefined;
    if (this.matcher === undefined) return this.literalBase;
    const offset = this.literalBase === "/" ? 0 : this.literalBase.length;
    const text = absPath.slice(offset);
    // Candidates are the base and each deeper ancestor: prefixes ending before a `/` or at
    // the end (and `/` itself when the base is the root).
    const end = this.matcher.firstMatch(
      text,
      0,
      (i) => i === text.length || text.charCodeAt(i) === SLASH || (offset === 0 && i === 1),
      counter,
    );
    return end < 0 ? undefined : absPath.slice(0, offset + end);
  }

  /** The most matcher steps one matchBase of a path of `length` characters can take. */
  maxSteps(length: number): number {
    return this.matcher?.maxSteps(length) ?? 0;
  }

  /** Whether some descendant of `dir` could match (prunes the walk in glob expansion). */
  couldMatchBelow(dir: string): boolean {
    return isWithin(dir, this.literalBase) || isWithin(this.literalBase, dir);
  }
}

/** True when `p` is `dir` or below it (both absolute and normalised). */
export function isWithin(p: string, dir: string): boolean {
  if (dir === "/") return p.startsWith("/");
  return p === dir || p.startsWith(dir + "/");
}
