import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "./tether-error.js";
import {
  GlobMatcher,
  MAX_EPS_ROUNDS,
  MAX_GLOB_LENGTH,
  MAX_MATCH_STEPS,
  PATH_MAX,
  type GlobDialect,
  type StepCounter,
} from "./glob-matcher.js";

/**
 * The RegExp the path dialect replaced (services/exec-server/sandbox/path-pattern.ts before
 * the linear matcher), with one deliberate change: `s`, so `**` also spans a newline in a
 * file name (without it a NONE rule `/w/**\/*.pem` missed `/w/a\nb/k.pem`).
 */
function oracle(glob: string, dialect: GlobDialect): RegExp {
  let out = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (dialect === "path" && c === "*" && glob[i + 1] === "*") {
      if (glob[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") out += dialect === "path" ? "[^/]*" : ".*";
    else if (c === "?") out += dialect === "path" ? "[^/]" : ".";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${out}$`, "s");
}

const matches = (glob: string, dialect: GlobDialect, text: string) => GlobMatcher.compile(glob, dialect).matches(text);

describe("GlobMatcher, path dialect", () => {
  it.each([
    ["/a/*/c", "/a/b/c", true],
    ["/a/*/c", "/a/b/x/c", false],
    ["/a/**/c", "/a/c", true],
    ["/a/**/c", "/a/x/y/c", true],
    ["/a/**/c", "/a/xc", false],
    ["/a/**", "/a/x/y", true],
    ["/a/**", "/a/", true],
    ["/**", "/", true],
    ["/a/?.txt", "/a/1.txt", true],
    ["/a/?.txt", "/a//.txt", false],
    ["/a/*.pem", "/a/.pem", true],
    ["/a/*", "/a/b/c", false],
    ["/a/***/b", "/a/x/y/b", true], // `**` then `*`: the first two span segments
    ["/a/[x]", "/a/[x]", true], // brackets are literal
    ["/a/b.c", "/a/bxc", false], // so is a dot
    ["/w/**/*.pem", "/w/a\nb/k.pem", true],
  ])("%s against %s is %s", (glob, text, want) => expect(matches(glob, "path", text)).toBe(want));
});

describe("GlobMatcher, name dialect", () => {
  it.each([
    ["*", "", true],
    ["AWS_*", "AWS_SECRET", true],
    ["AWS_*", "XAWS_SECRET", false],
    ["*_TOKEN", "GITHUB_TOKEN", true],
    ["*_TOKEN", "GITHUB_TOKENS", false],
    ["A?C", "ABC", true],
    ["A?C", "AC", false],
    ["*A*B*", "xxAyyBzz", true],
    ["*A*B*", "xxByyAzz", false],
    ["a.b", "aXb", false],
    ["[x]", "[x]", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["a/*", "a/b/c", true], // no separator in names
  ])("%s against %s is %s", (glob, text, want) => expect(matches(glob, "name", text)).toBe(want));
});

describe("GlobMatcher limits", () => {
  it("refuses a glob over the limit with INVALID_ARGUMENT naming the field and the limit", () => {
    expect(() => GlobMatcher.compile("a".repeat(MAX_GLOB_LENGTH + 1), "name", "spec.env_policy.exclude[3]")).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/spec\.env_policy\.exclude\[3\].*limit is 256/) }),
    );
    expect(GlobMatcher.compile("a".repeat(MAX_GLOB_LENGTH), "name").stateCount).toBe(MAX_GLOB_LENGTH);
  });

  it("matches the issue's pathological rule in a few thousand steps", () => {
    const glob = GlobMatcher.compile(`/${"**a".repeat(13)}**ab`, "path");
    const counter: StepCounter = { steps: 0 };
    expect(glob.matches(`/${"a".repeat(30)}`, counter)).toBe(false);
    expect(counter.steps).toBeLessThanOrEqual(glob.maxSteps(31));
    expect(counter.steps).toBeLessThan(1_000);
  });

  it("keeps runs of wildcards to a constant number of ε-rounds", () => {
    fc.assert(
      fc.property(fc.constantFrom<GlobDialect>("path", "name"), globArb(64), (dialect, glob) => {
        expect(GlobMatcher.compile(glob, dialect).epsRounds).toBeLessThanOrEqual(MAX_EPS_ROUNDS);
      }),
    );
    expect(MAX_MATCH_STEPS).toBeLessThan(200_000);
  });

  it("finds the shortest matching prefix at a boundary in one pass", () => {
    const glob = GlobMatcher.compile("/a/*", "path");
    const text = "/a/b/c/d";
    expect(glob.firstMatch(text, 0, (i) => i === text.length || text[i] === "/")).toBe(4);
    expect(glob.firstMatch(text, 0, (i) => i === text.length)).toBe(-1);
  });
});

// Globs and texts over a small alphabet, so stars, separators and literals collide often.
// "é" is one UTF-16 unit, "😀" two: both the matcher and the oracle (no `u` flag) work on units.
const globArb = (maxLength: number) =>
  fc.array(fc.constantFrom("a", "b", "/", "*", "**", "**/", "?", ".", "\n", "é", "😀"), { maxLength }).map((parts) => parts.join(""));
const textArb = (maxLength: number) => fc.array(fc.constantFrom("a", "b", "/", ".", "\n", "é", "😀"), { maxLength }).map((parts) => parts.join(""));

describe("GlobMatcher properties", () => {
  it("agrees with the backtracking RegExp it replaced on small inputs", () => {
    fc.assert(
      fc.property(fc.constantFrom<GlobDialect>("path", "name"), globArb(8), textArb(12), (dialect, glob, text) => {
        expect(matches(glob, dialect, text)).toBe(oracle(glob, dialect).test(text));
      }),
      { numRuns: 3000 },
    );
  });

  it("stays within its step budget for globs up to the cap and texts up to PATH_MAX", () => {
    // Texts made mostly of the globs' own letters keep many states alive: the worst case.
    const bigGlob = fc
      .array(fc.constantFrom("a", "*", "**", "**/", "?", "/", "b"), { minLength: 1, maxLength: MAX_GLOB_LENGTH })
      .map((parts) => parts.join("").slice(0, MAX_GLOB_LENGTH));
    const bigText = fc.tuple(fc.integer({ min: 0, max: PATH_MAX }), fc.constantFrom("a", "a/", "ab", "/")).map(([n, unit]) =>
      unit.repeat(Math.ceil(n / unit.length)).slice(0, n),
    );
    let worst = 0;
    fc.assert(
      fc.property(fc.constantFrom<GlobDialect>("path", "name"), bigGlob, bigText, (dialect, glob, text) => {
        const m = GlobMatcher.compile(glob, dialect);
        const counter: StepCounter = { steps: 0 };
        m.firstMatch(text, 0, () => false, counter); // never stops early: scans the whole text
        worst = Math.max(worst, counter.steps);
        expect(counter.steps).toBeLessThanOrEqual(m.maxSteps(text.length));
        expect(counter.steps).toBeLessThanOrEqual(MAX_MATCH_STEPS);
      }),
      { numRuns: 60 },
    );
    expect(worst).toBeGreaterThan(0);
  });

  it("reaches its bound's order on the worst glob and text, and no further", () => {
    const glob = GlobMatcher.compile("*a".repeat(MAX_GLOB_LENGTH / 2), "name");
    const counter: StepCounter = { steps: 0 };
    glob.firstMatch("a".repeat(PATH_MAX), 0, () => false, counter);
    // Every position runs every word: the bound is what a match really costs here.
    expect(counter.steps).toBeGreaterThanOrEqual(glob.maxSteps(PATH_MAX - 1));
    expect(counter.steps).toBeLessThanOrEqual(glob.maxSteps(PATH_MAX));
    expect(counter.steps).toBeLessThanOrEqual(MAX_MATCH_STEPS);
  });
});
