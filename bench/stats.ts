// Summary statistics for benchmark samples, the markdown table printed after each
// benchmark and the JSON record written to bench/results/.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type Unit = "ms" | "MiB/s";

export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SubjectResult {
  /** e.g. "tether run true", "ssh multiplexed true". */
  name: string;
  /** tether rows are compared with every peer row; limits are what the machine can do at best. */
  role: "tether" | "peer" | "limit";
  /** Missing when the subject could not run here (e.g. no docker); `skipped` says why. */
  summary?: Summary;
  skipped?: string;
  samples: number[];
}

export interface BenchmarkResult {
  name: string;
  title: string;
  unit: Unit;
  /** Which way is better, so a reader knows how to read the ratio. */
  better: "lower" | "higher";
  subjects: SubjectResult[];
  notes: string[];
}

/** Nearest-rank percentile of sorted samples (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** tether ÷ peer on medians; below 1 is better for "lower", above 1 for "higher". */
export function ratio(tether: Summary | undefined, peer: Summary | undefined): number | undefined {
  if (!tether || !peer || peer.median === 0) return undefined;
  return tether.median / peer.median;
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 200);
}

/** One markdown table: a row per subject, and a ratio column per tether row against it. */
export function markdownTable(result: BenchmarkResult): string {
  const tethers = result.subjects.filter((s) => s.role === "tether" && s.summary);
  const head = ["subject", "role", "n", `min ${result.unit}`, "median", "p90", "p99"];
  for (const t of tethers) head.push(`${t.name} ÷ this`);
  const lines = [
    `### ${result.title} (${result.unit}, ${result.better} is better)`,
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
  ];
  for (const s of result.subjects) {
    const m = s.summary;
    const row = m
      ? [s.name, s.role, String(m.n), fmt(m.min), fmt(m.median), fmt(m.p90), fmt(m.p99)]
      : [s.name, s.role, "0", `skipped: ${oneLine(s.skipped ?? "not run")}`, "", "", ""];
    for (const t of tethers) row.push(t === s ? "" : fmt(ratio(t.summary, s.summary)));
    lines.push(`| ${row.join(" | ")} |`);
  }
  for (const note of result.notes) lines.push("", `_${note}_`);
  return lines.join("\n");
}

/** Writes bench/results/<name>-<date>.json and returns its path. */
export async function writeResult(dir: string, result: BenchmarkResult, meta: Record<string, unknown>, now = new Date()): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  const path = join(dir, `${result.name}-${stamp}.json`);
  const ratios: Record<string, Record<string, number | undefined>> = {};
  for (const t of result.subjects.filter((s) => s.role === "tether")) {
    ratios[t.name] = Object.fromEntries(
      result.subjects.filter((s) => s !== t).map((s) => [s.name, ratio(t.summary, s.summary)]),
    );
  }
  await writeFile(path, JSON.stringify({ ...meta, date: now.toISOString(), ...result, ratios }, null, 2) + "\n");
  return path;
}
