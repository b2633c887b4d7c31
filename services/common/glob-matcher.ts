// The one glob matcher for every pattern a client sends (sandbox file rules, env-policy
// excludes, proxy host rules). A glob compiles to a small NFA whose set of live states is
// a bit vector, advanced one character at a time with word operations (shift-and), never
// by backtracking: a match costs at most words × (ε-rounds + 1) × (text length + 1) steps,
// one step per 32-bit word operation, whatever the pattern.

import { ErrorCode, TetherError } from "./tether-error.js";

/**
 * "path": `*` and `?` stay inside one `/`-segment, `**` spans segments, and `**` followed
 * by `/` may also match nothing (`/a/**\/b` matches `/a/b`).
 * "name": no separator; `*` matches any run of characters and `?` any one (env names,
 * host names: `*.example.com` matches every subdomain of example.com).
 */
export type GlobDialect = "path" | "name";

/** Longest glob a client may send (for file rules: the part from the first wildcard segment on). */
export const MAX_GLOB_LENGTH = 256;

/**
 * Longest chain of ε-moves after normalisation (`**\/` entry → skip → `*` → next): a
 * position needs this many closure rounds. Runs of stars are merged at compile time,
 * which is what keeps it constant.
 */
export const MAX_EPS_ROUNDS = 2;

/** Linux's PATH_MAX: the longest text a path glob is ever matched against. */
export const PATH_MAX = 4096;

/**
 * The most steps one match of a glob of at most MAX_GLOB_LENGTH characters against a text
 * of at most PATH_MAX characters can take (a glob has at most one state per character,
 * plus the accepting state).
 */
export const MAX_MATCH_STEPS = Math.ceil((MAX_GLOB_LENGTH + 1) / 32) * (MAX_EPS_ROUNDS + 1) * (PATH_MAX + 1);

/** Counts the work of matches, so tests and callers can bound it in steps, not time. */
export interface StepCounter {
  steps: number;
}

const SLASH = 0x2f;

type Token = "lit" | "one" | "star" | "globstar" | "dirs";


export class GlobMatcher {
  readonly source: string;
  readonly dialect: GlobDialect;
  /** States of the NFA; state `stateCount` is the accepting one. */
  readonly stateCount: number;
  /** ε-closure rounds per position (the longest ε-chain of this glob). */
  readonly epsRounds: number;
  private readonly words: number;
  private readonly eps1: Uint32Array;
  private readonly eps2: Uint32Array;
  /**
   * Per character class (0: any other character, 1: `/`, then one per literal of the
   * glob): the states that advance on it, then the states that loop on it, `words` each.
   */
  private readonly masks: Uint32Array;
  private readonly asciiClass: Uint8Array;
  private readonly wideClass: Map<number, number>;
  private readonly start: Uint32Array;
  private readonly acceptWord: number;
  private readonly acceptBit: number;
  // Scratch vectors, reused by every match (JavaScript runs one match at a time).
  private cur: Uint32Array;
  private nxt: Uint32Array;
  private readonly tmp: Uint32Array;

  private constructor(source: string, dialect: GlobDialect) {
    this.source = source;
    this.dialect = dialect;
    const tokens = normalise(tokenise(source, dialect));
    // `**/` takes two states: an entry that may skip the group, and one that eats anything
    // and leaves on a `/` (so the group is "empty, or anything ending in /").
    const stateCount = tokens.reduce((n, t) => n + (t.kind === "dirs" ? 2 : 1), 0);
    this.stateCount = stateCount;
    const words = Math.ceil((stateCount + 1) / 32);
    this.words = words;
    const vec = () => new Uint32Array(words);
    const set = (v: Uint32Array, s: number) => {
      v[s >>> 5]! |= 1 << (s & 31);
    };
    this.eps1 = vec();
    this.eps2 = vec();
    const loopAny = vec();
    const loopNotSlash = vec();
    const advAny = vec();
    const advNotSlash = vec();
    const advSlash = vec();
    const literals = new Map<number, Uint32Array>();
    let s = 0;
    const oneChar = dialect === "path" ? advNotSlash : advAny;
    for (const t of tokens) {
      switch (t.kind) {
        case "lit": {
          let v = literals.get(t.code);
          if (!v) literals.set(t.code, (v = vec()));
          set(v, s);
          break;
        }
        case "one":
          set(oneChar, s);
          break;
        case "star":
          set(dialect === "path" ? loopNotSlash : loopAny, s);
          set(this.eps1, s);
          break;
        case "globstar":
          set(loopAny, s);
          set(this.eps1, s);
          break;
        case "dirs":
          set(this.eps1, s);
          set(this.eps2, s);
          s++;
          set(loopAny, s);
          set(advSlash, s);
          break;
      }
      s++;
    }
    const or = (...vs: Uint32Array[]) => {
      const out = vec();
      for (const v of vs) for (let k = 0; k < words; k++) out[k]! |= v[k]!;
      return out;
    };
    const otherAdvance = or(advAny, advNotSlash);
    const otherLoop = or(loopAny, loopNotSlash);
    const classes: Uint32Array[] = [otherAdvance, otherLoop, or(advAny, advSlash, literals.get(SLASH) ?? vec()), loopAny];
    this.asciiClass = new Uint8Array(128);
    this.asciiClass[SLASH] = 1;
    this.wideClass = new Map();
    for (const [code, v] of literals) {
      if (code === SLASH) continue;
      const cls = classes.length / 2;
      classes.push(or(otherAdvance, v), otherLoop);
      if (code < 128) this.asciiClass[code] = cls;
      else this.wideClass.set(code, cls);
    }
    this.masks = new Uint32Array(classes.length * words);
    classes.forEach((v, i) => this.masks.set(v, i * words));
    this.epsRounds = longestEpsChain(tokens);
    if (this.epsRounds > MAX_EPS_ROUNDS) {
      throw new TetherError(ErrorCode.Internal, `glob ${JSON.stringify(source)} normalised to an ε-chain of ${this.epsRounds}`);
    }
    this.acceptWord = stateCount >>> 5;
    this.acceptBit = 1 << (stateCount & 31);
    this.cur = vec();
    this.nxt = vec();
    this.tmp = vec();
    this.start = vec();
    set(this.start, 0);
    this.close(this.start);
  }

  /**
   * Compiles a glob; `field` names it in the error when it is longer than `maxLength`
   * (MAX_GLOB_LENGTH unless the caller bounds the glob otherwise).
   */
  static compile(glob: string, dialect: GlobDialect, field = "glob", maxLength = MAX_GLOB_LENGTH): GlobMatcher {
    if (glob.length > maxLength) {
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `${field} is ${glob.length} characters; the limit is ${maxLength} (MAX_GLOB_LENGTH): use a shorter glob`,
      );
    }
    return new GlobMatcher(glob, dialect);
  }

  /** The most steps a match of a text of `length` characters can take. */
  maxSteps(length: number): number {
    return this.words * (this.epsRounds + 1) * (length + 1);
  }

  /** True when the whole of `text` matches. */
  matches(text: string, counter?: StepCounter): boolean {
    return this.scan(text, text.length, () => true, counter) === text.length;
  }

  /**
   * The shortest prefix length `i` ≥ `from` at which `text.slice(0, i)` matches and
   * `boundary(i)` holds, or -1. One pass over the text: a path glob asks this for
   * "the shortest matching ancestor" instead of matching every ancestor again.
   */
  firstMatch(text: string, from: number, boundary: (i: number) => boolean, counter?: StepCounter): number {
    return this.scan(text, from, boundary, counter);
  }

  private scan(text: string, from: number, boundary: (i: number) => boolean, counter: StepCounter | undefined): number {
    const words = this.words;
    const perPosition = words * (this.epsRounds + 1);
    let steps = 0;
    let cur = this.cur;
    let nxt = this.nxt;
    cur.set(this.start);
    let found = -1;
    for (let i = 0; ; i++) {
      if (i >= from && (cur[this.acceptWord]! & this.acceptBit) !== 0 && boundary(i)) {
        found = i;
        break;
      }
      if (i === text.length) break;
      steps += perPosition;
      const c = text.charCodeAt(i);
      const cls = c < 128 ? this.asciiClass[c]! : (this.wideClass.get(c) ?? 0);
      const masks = this.masks;
      const advanceAt = cls * 2 * words;
      const loopAt = advanceAt + words;
      // Shift-and: states that advance on c move one up; states that loop on c stay.
      let carry = 0;
      let live = 0;
      for (let k = 0; k < words; k++) {
        const d = cur[k]!;
        const adv = d & masks[advanceAt + k]!;
        const v = (adv << 1) | carry | (d & masks[loopAt + k]!);
        carry = adv >>> 31;
        nxt[k] = v;
        live |= v;
      }
      const swap = cur;
      cur = nxt;
      nxt = swap;
      if (live === 0) break; // nothing can match any longer prefix
      this.close(cur);
    }
    this.cur = cur;
    this.nxt = nxt;
    if (counter) counter.steps += steps;
    return found;
  }

  /** ε-closure in place: `epsRounds` rounds of "s → s+1" and "s → s+2" moves. */
  private close(v: Uint32Array): void {
    const t = this.tmp;
    const eps1 = this.eps1;
    const eps2 = this.eps2;
    const words = this.words;
    for (let r = 0; r < this.epsRounds; r++) {
      let c1 = 0;
      let c2 = 0;
      for (let k = 0; k < words; k++) {
        const a = v[k]! & eps1[k]!;
        const b = v[k]! & eps2[k]!;
        t[k] = (a << 1) | c1 | (b << 2) | c2;
        c1 = a >>> 31;
        c2 = b >>> 30;
      }
      for (let k = 0; k < words; k++) v[k]! |= t[k]!;
    }
  }
}

interface Tok {
  kind: Token;
  code: number;
}

function tokenise(glob: string, dialect: GlobDialect): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === 0x2a /* * */ && dialect === "path" && glob.charCodeAt(i + 1) === 0x2a) {
      const dirs = glob.charCodeAt(i + 2) === SLASH;
      out.push({ kind: dirs ? "dirs" : "globstar", code: 0 });
      i += dirs ? 2 : 1;
    } else if (c === 0x2a) out.push({ kind: "star", code: 0 });
    else if (c === 0x3f /* ? */) out.push({ kind: "one", code: 0 });
    else out.push({ kind: "lit", code: c });
  }
  return out;
}

/**
 * Merges adjacent wildcards into the one they equal, so ε-chains stay short:
 * `**` absorbs a neighbouring `*`, `**` or `**\/` (`.*` covers them), two stars are one,
 * and `**\/**\/` is `**\/`.
 */
function normalise(tokens: Tok[]): Tok[] {
  const out: Tok[] = [];
  for (const t of tokens) {
    const prev = out.at(-1)?.kind;
    if (t.kind === "star" && (prev === "star" || prev === "globstar")) continue;
    if (t.kind === "dirs" && (prev === "dirs" || prev === "globstar")) continue;
    if (t.kind === "globstar" && prev === "globstar") continue;
    if (t.kind === "globstar" && (prev === "star" || prev === "dirs")) {
      out[out.length - 1] = t;
      // The replaced token may itself follow a wildcard that `**` absorbs.
      while (out.length >= 2 && ["star", "globstar", "dirs"].includes(out.at(-2)!.kind)) out.splice(out.length - 2, 1);
      continue;
    }
    out.push(t);
  }
  return out;
}

/**
 * Rounds of ε-moves a position needs: the longest run of adjacent wildcards (a `**\/`
 * entry skips its own second state and carries the run on to the next token).
 */
function longestEpsChain(tokens: Tok[]): number {
  let longest = 0;
  let run = 0;
  for (const t of tokens) {
    run = t.kind === "star" || t.kind === "globstar" || t.kind === "dirs" ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
