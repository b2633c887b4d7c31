// A file rule's pattern: an absolute path (matches itself and everything below it) or a
// glob over absolute paths (`*` and `?` stay inside one segment, `**` spans segments).
// A glob that matches a directory also covers everything below that directory.

import path from "node:path";

const GLOB_CHARS = /[*?]/;

export class PathPattern {
  readonly source: string;
  readonly isGlob: boolean;
  /** The literal directory a glob starts from (the whole path for a plain path). */
  readonly literalBase: string;
  private readonly regex: RegExp | undefined;

  constructor(pattern: string) {
    this.source = pattern;
    this.isGlob = GLOB_CHARS.test(pattern);
    if (!this.isGlob) {
      this.literalBase = path.resolve(pattern);
      this.regex = undefined;
      return;
    }
    const segments = pattern.split("/");
    const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
    this.literalBase = segments.slice(0, firstGlob).join("/") || "/";
    this.regex = globToRegex(pattern);
  }

  /**
   * The path this pattern matched that covers `absPath` (absPath itself or an ancestor),
   * or undefined. Callers need the base to know which `.git` a write grant stops at.
   */
  matchBase(absPath: string): string | undefined {
    if (!this.isGlob) return isWithin(absPath, this.literalBase) ? this.literalBase : undefined;
    if (!isWithin(absPath, this.literalBase)) return undefined;
    // Shortest matching prefix first: a glob that matches a directory covers its subtree.
    for (const candidate of ancestorsFrom(this.literalBase, absPath)) {
      if (this.regex?.test(candidate)) return candidate;
    }
    return undefined;
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

/** `from`, then each deeper ancestor of `to`, ending with `to` (from must contain to). */
function* ancestorsFrom(from: string, to: string): Generator<string> {
  yield from;
  if (from === to) return;
  const rest = to.slice(from === "/" ? 1 : from.length + 1).split("/");
  let current = from;
  for (const segment of rest) {
    current = current === "/" ? `/${segment}` : `${current}/${segment}`;
    yield current;
  }
}

function globToRegex(glob: string): RegExp {
  let out = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      // `/**/` may also match a single `/`, so `/a/**/b` matches `/a/b`.
      if (glob[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") {
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(out + "$");
}
