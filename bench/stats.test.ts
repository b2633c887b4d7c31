import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { markdownTable, percentile, ratio, summarize, writeResult, type BenchmarkResult } from "./stats.js";

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 90)).toBe(90);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarizes unsorted samples and compares medians", () => {
    const s = summarize([5, 1, 3, 2, 4]);
    expect(s).toMatchObject({ n: 5, min: 1, median: 3, max: 5, mean: 3 });
    expect(ratio(summarize([2]), summarize([4]))).toBe(0.5);
    expect(ratio(undefined, s)).toBeUndefined();
  });

  const result: BenchmarkResult = {
    name: "demo",
    title: "Demo",
    unit: "ms",
    better: "lower",
    notes: ["a note"],
    subjects: [
      { name: "tether", role: "tether", samples: [1, 2, 3], summary: summarize([1, 2, 3]) },
      { name: "ssh", role: "peer", samples: [4], summary: summarize([4]) },
      { name: "docker", role: "peer", samples: [], skipped: "no docker\n| here" },
    ],
  };

  it("prints one row per subject with a ratio column per tether row, skips on one line", () => {
    const table = markdownTable(result);
    expect(table).toContain("| ssh | peer | 1 | 4.00 | 4.00 | 4.00 | 4.00 | 0.50 |");
    expect(table).toContain("skipped: no docker \\| here");
    expect(table.split("\n").filter((l) => l.startsWith("| docker"))).toHaveLength(1);
  });

  it("writes the result with its ratios as JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-stats-"));
    try {
      const path = await writeResult(dir, result, { quick: true }, new Date("2026-01-02T03:04:05.000Z"));
      expect(path).toBe(join(dir, "demo-2026-01-02T03-04-05-000Z.json"));
      const json = JSON.parse(readFileSync(path, "utf8"));
      expect(json.ratios.tether.ssh).toBe(0.5);
      expect(json.quick).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
