import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { globMatch, MAX_GLOB_LENGTH } from "./glob-match.js";

describe("globMatch", () => {
  it.each([
    ["*", "", true], ["*", "push", true], ["pu?h", "push", true], ["pu?h", "puh", false], ["p*h", "push", true],
    ["p*h", "pusx", false], ["*.ts", "a.ts", true], ["*.ts", "a.tsx", false], ["-[rf][rf]", "-rf", true], ["-[rf][rf]", "-ri", false],
    ["[!a]x", "bx", true], ["[!a]x", "ax", false], ["[^a]x", "ax", false], ["[a-c]", "b", true], ["[a-c]", "d", false],
    ["[]]", "]", true], ["[", "[", true], ["a\\*", "a*", true], ["a\\*", "ab", false], ["**a", "bba", true], ["a*b*c", "abxbxc", true],
  ])("%j matches %j → %s", (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it("never matches beyond the length cap", () => {
    expect(globMatch("*", "x".repeat(MAX_GLOB_LENGTH + 1))).toBe(false);
  });

  it("agrees with a regular-expression translation on * and ? patterns", () => {
    const chars = fc.constantFrom("a", "b", "*", "?");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 12 }), fc.array(fc.constantFrom("a", "b"), { maxLength: 12 }), (p, t) => {
        const pattern = p.join("");
        const text = t.join("");
        const re = new RegExp(`^${pattern.replaceAll("*", ".*").replaceAll("?", ".")}$`);
        expect(globMatch(pattern, text)).toBe(re.test(text));
      }),
      { numRuns: 2000 },
    );
  });
});
