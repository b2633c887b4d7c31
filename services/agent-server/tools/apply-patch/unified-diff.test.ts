import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { unifiedDiff } from "./unified-diff.js";

const dir = mkdtempSync(path.join(tmpdir(), "tether-diff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Applies `diff` to `oldText` with patch(1): the diff must be one a real tool accepts. */
function patchWithTool(oldText: string, diff: string): string {
  const file = path.join(dir, "f.txt");
  writeFileSync(file, oldText);
  const r = spawnSync("patch", ["-s", "-u", file], { input: diff, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`patch failed: ${r.stdout}${r.stderr}\n${diff}`);
  return readFileSync(file, "utf8");
}

describe("unifiedDiff", () => {
  it("prints headers and a hunk with three lines of context", () => {
    const a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
    expect(unifiedDiff(a, b, "f.txt", "f.txt")).toBe("--- a/f.txt\n+++ b/f.txt\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  });

  it("uses /dev/null for added and deleted files", () => {
    expect(unifiedDiff(null, "x\n", "n.txt", "n.txt")).toBe("--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,1 @@\n+x\n");
    expect(unifiedDiff("x\ny\n", null, "d.txt", "d.txt")).toBe("--- a/d.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n");
  });

  it("is empty when nothing changed", () => {
    expect(unifiedDiff("a\n", "a\n", "f", "f")).toBe("");
  });

  it("splits distant changes into separate hunks", () => {
    const a = Array.from({ length: 30 }, (_, i) => `${i}`).join("\n") + "\n";
    const b = a.replace("2\n", "two\n").replace("25\n", "twenty-five\n");
    const d = unifiedDiff(a, b, "f", "f");
    expect(d.match(/^@@/gm)).toHaveLength(2);
    expect(patchWithTool(a, d)).toBe(b);
  });

  it("property: patch(1) turns the old text into the new one", () => {
    const line = fc.constantFrom("a", "b", "c", "d", "", "e f");
    const text = fc.array(line, { maxLength: 25 }).map((ls) => ls.map((l) => `${l}\n`).join(""));
    fc.assert(
      fc.property(text, text, (a, b) => {
        const d = unifiedDiff(a, b, "f.txt", "f.txt");
        if (d === "") expect(a).toBe(b);
        else expect(patchWithTool(a, d)).toBe(b);
      }),
      { numRuns: 60 },
    );
  });
});
