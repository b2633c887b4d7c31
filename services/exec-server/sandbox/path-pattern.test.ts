import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_GLOB_LENGTH, PATH_MAX, type StepCounter } from "../../common/glob-matcher.js";
import { PathPattern } from "./path-pattern.js";

/**
 * The RegExp-and-every-ancestor matchBase this class had before the linear matcher, kept as
 * the oracle (with the `s` flag: `**` now also spans a newline inside a name).
 */
function oldMatchBase(pattern: string, absPath: string): string | undefined {
  const segments = pattern.split("/");
  const first = segments.findIndex((s) => /[*?]/.test(s));
  const base = segments.slice(0, first).join("/") || "/";
  const within = base === "/" ? absPath.startsWith("/") : absPath === base || absPath.startsWith(`${base}/`);
  if (!within) return undefined;
  let out = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*" && pattern[i + 1] === "*") {
      if (pattern[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const re = new RegExp(`${out}$`, "s");
  const candidates = [base];
  const rest = absPath === base ? [] : absPath.slice(base === "/" ? 1 : base.length + 1).split("/");
  let current = base;
  for (const segment of rest) {
    current = current === "/" ? `/${segment}` : `${current}/${segment}`;
    candidates.push(current);
  }
  return candidates.find((c) => re.test(c));
}

const segment = fc.array(fc.constantFrom("a", "b", "*", "**", "?", "."), { minLength: 1, maxLength: 4 }).map((p) => p.join(""));
const globArb = fc
  .array(segment, { minLength: 1, maxLength: 5 })
  .map((s) => `/${s.join("/")}`)
  .filter((g) => /[*?]/.test(g)); // plain paths are compared with isWithin, not matched
const pathArb = fc
  .array(fc.array(fc.constantFrom("a", "b", ".", "\n"), { minLength: 1, maxLength: 4 }).map((p) => p.join("")), { maxLength: 6 })
  .map((s) => `/${s.join("/")}`);

describe("PathPattern", () => {
  it("answers what the RegExp version answered, shortest matching ancestor first", () => {
    fc.assert(
      fc.property(globArb, pathArb, (glob, path) => {
        expect(new PathPattern(glob).matchBase(path)).toBe(oldMatchBase(glob, path));
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ["/a/*/c", "/a/b/c/d", "/a/b/c"],
    ["/a/**/c", "/a/c", "/a/c"],
    ["/**", "/", "/"],
    ["/x*", "/xy/z", "/xy"],
    ["/w/**/*.pem", "/w/k.pem", "/w/k.pem"],
    ["/w/**/*.pem", "/w/p/q.pem/inner", "/w/p/q.pem"],
    ["/w/*", "/wx/y", undefined],
  ])("%s covers %s from %s", (glob, path, want) => expect(new PathPattern(glob).matchBase(path)).toBe(want));

  it("matches the issue's pathological rule against a long path in a bounded number of steps", () => {
    const rule = new PathPattern(`/${"**a".repeat(13)}**ab`);
    const counter: StepCounter = { steps: 0 };
    expect(rule.matchBase(`/${"a".repeat(30)}`, counter)).toBeUndefined();
    const long = `/${"a".repeat(PATH_MAX - 1)}`;
    expect(rule.matchBase(long, counter)).toBeUndefined();
    expect(counter.steps).toBeLessThanOrEqual(rule.maxSteps(31) + rule.maxSteps(long.length));
  });

  it("walks a long literal base without matcher work: only the wildcard part costs steps", () => {
    const base = `/${"d".repeat(3000)}`;
    const rule = new PathPattern(`${base}/${"*a".repeat(MAX_GLOB_LENGTH / 2 - 1)}`);
    expect(rule.literalBase).toBe(base);
    expect(rule.globPart.length).toBeLessThanOrEqual(MAX_GLOB_LENGTH);
    const counter: StepCounter = { steps: 0 };
    rule.matchBase(`${base}/${"a".repeat(1000)}`, counter);
    expect(counter.steps).toBeLessThanOrEqual(rule.maxSteps(1001));
  });
});
