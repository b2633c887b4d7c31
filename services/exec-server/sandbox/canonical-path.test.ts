import fc from "fast-check";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalPath } from "./canonical-path.js";

/** The walk-up-one-component-at-a-time version this replaced, as the oracle. */
function walkUp(p: string): string {
  const normal = path.resolve(p);
  let existing = normal;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = fs.realpathSync.native(existing);
      return tail.length === 0 ? real : path.join(real, ...tail.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return normal;
      tail.push(path.basename(existing));
      existing = parent;
    }
  }
}

describe("canonicalPath", () => {
  let base: string;
  beforeAll(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tether-canonical-")));
    fs.mkdirSync(path.join(base, "a/b/c"), { recursive: true });
    fs.writeFileSync(path.join(base, "a/file"), "x");
    fs.symlinkSync(path.join(base, "a/b"), path.join(base, "link"));
    fs.symlinkSync("loop", path.join(base, "loop"));
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it("resolves the longest existing prefix and keeps the missing tail, as the walk up did", () => {
    const segment = fc.constantFrom("a", "b", "c", "link", "file", "loop", "missing", "..", ".");
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), (segments) => {
        const p = path.join(base, ...segments);
        expect(canonicalPath(p)).toBe(walkUp(p));
      }),
      { numRuns: 500 },
    );
    expect(canonicalPath(path.join(base, "link/c/new/deeper"))).toBe(path.join(base, "a/b/c/new/deeper"));
  });

  it("asks O(log depth) questions for a deep missing path, and one realpath for an existing one", () => {
    let exists = 0;
    let realpaths = 0;
    const probe = {
      exists: (p: string) => (exists++, fs.existsSync(p)),
      realpath: (p: string) => (realpaths++, fs.realpathSync.native(p)),
    };
    const deep = path.join(base, ...Array<string>(2000).fill("m"));
    expect(canonicalPath(deep, probe)).toBe(deep);
    expect({ exists: exists <= 1 + Math.ceil(Math.log2(deep.split("/").length)), realpaths }).toEqual({ exists: true, realpaths: 1 });
    exists = realpaths = 0;
    expect(canonicalPath(path.join(base, "link/c"), probe)).toBe(path.join(base, "a/b/c"));
    expect({ exists, realpaths }).toEqual({ exists: 1, realpaths: 1 });
  });
});
