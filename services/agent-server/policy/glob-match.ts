// A bounded shell-style glob matcher (`*`, `?`, `[a-z]`, `[!x]`) for one question: could an
// unquoted glob word of a command expand to a rule's token? (Host globs use the exec
// layer's GlobMatcher, which has no classes.) Greedy `*` with one backtrack point:
// O(text × pattern), both capped.

export const MAX_GLOB_LENGTH = 1024;

/**
 * Whether `text` matches `pattern`. Inputs over MAX_GLOB_LENGTH never match (callers decide
 * what "unknown" means; policy treats it as the stricter outcome).
 */
export function globMatch(pattern: string, text: string): boolean {
  if (pattern.length > MAX_GLOB_LENGTH || text.length > MAX_GLOB_LENGTH) return false;
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === "*") {
      starP = p++;
      starT = t;
      continue;
    }
    if (pc !== undefined) {
      const step = matchOne(pattern, p, text[t]!);
      if (step > 0) {
        p += step;
        t++;
        continue;
      }
    }
    if (starP < 0) return false;
    // Let the last `*` swallow one more character and retry from there.
    p = starP + 1;
    t = ++starT;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Length of the pattern element at `p` if it matches `ch`, else 0. */
function matchOne(pattern: string, p: number, ch: string): number {
  const pc = pattern[p]!;
  if (pc === "?") return 1;
  if (pc === "[") {
    const end = classEnd(pattern, p);
    if (end < 0) return pc === ch ? 1 : 0; // an unclosed `[` is literal, as in the shell
    let i = p + 1;
    const negate = pattern[i] === "!" || pattern[i] === "^";
    if (negate) i++;
    let hit = false;
    for (let first = true; i < end; first = false) {
      const lo = pattern[i]!;
      if (lo === "]" && !first) break;
      if (pattern[i + 1] === "-" && i + 2 < end) {
        if (ch >= lo && ch <= pattern[i + 2]!) hit = true;
        i += 3;
      } else {
        if (ch === lo) hit = true;
        i++;
      }
    }
    return hit !== negate ? end - p + 1 : 0;
  }
  if (pc === "\\" && p + 1 < pattern.length) return pattern[p + 1] === ch ? 2 : 0;
  return pc === ch ? 1 : 0;
}

/** Index of the `]` closing the class opened at `p`, or -1. A `]` right after `[` or `[!` is literal. */
function classEnd(pattern: string, p: number): number {
  let i = p + 1;
  if (pattern[i] === "!" || pattern[i] === "^") i++;
  if (pattern[i] === "]") i++;
  const end = pattern.indexOf("]", i);
  return end;
}
