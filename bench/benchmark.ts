// The shape of one benchmark and the loop that runs it: every subject (tether, its peers,
// the machine's limits) is sampled in the same run, alternating round by round, so load
// from elsewhere on the machine falls on all of them alike.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import type { SshPeer } from "./ssh-peer.js";
import type { TetherTargets } from "./targets.js";
import { summarize, type BenchmarkResult, type SubjectResult, type Unit } from "./stats.js";

export interface BenchContext {
  quick: boolean;
  peer: SshPeer;
  tether: TetherTargets;
  /** A scratch directory that lives for the whole run. */
  tmp: string;
  signal: AbortSignal;
}

export interface Subject {
  name: string;
  role: SubjectResult["role"];
  /** Returns a reason when the subject cannot run on this machine; it is then skipped. */
  setup?(): Promise<string | undefined>;
  /** One measurement in the benchmark's unit. */
  sample(): Promise<number>;
  teardown?(): Promise<void>;
}

export interface Benchmark {
  name: string;
  title: string;
  unit: Unit;
  better: "lower" | "higher";
  rounds(quick: boolean): { warmup: number; measured: number };
  subjects(ctx: BenchContext): Subject[];
  notes?(ctx: BenchContext): string[];
}

export async function runBenchmark(bench: Benchmark, ctx: BenchContext): Promise<BenchmarkResult> {
  const subjects = bench.subjects(ctx);
  const results: SubjectResult[] = subjects.map((s) => ({ name: s.name, role: s.role, samples: [] }));
  const active: boolean[] = [];
  try {
    for (const [i, s] of subjects.entries()) {
      const reason = s.setup ? await s.setup().catch((err: unknown) => `setup failed: ${TetherError.from(err).message}`) : undefined;
      results[i]!.skipped = reason;
      active[i] = reason === undefined;
    }
    const { warmup, measured } = bench.rounds(ctx.quick);
    for (let round = 0; round < warmup + measured; round++) {
      for (const [i, s] of subjects.entries()) {
        if (!active[i]) continue;
        if (ctx.signal.aborted) throw TetherError.from(ctx.signal.reason);
        try {
          const value = await s.sample();
          if (round >= warmup) results[i]!.samples.push(value);
        } catch (err) {
          // One broken subject must not hide the others' figures: report it and go on.
          active[i] = false;
          results[i]!.skipped = `failed in round ${round}: ${TetherError.from(err).message}`;
        }
      }
    }
  } finally {
    for (const s of subjects) await s.teardown?.();
  }
  for (const r of results) if (r.samples.length > 0 && r.skipped === undefined) r.summary = summarize(r.samples);
  return { name: bench.name, title: bench.title, unit: bench.unit, better: bench.better, subjects: results, notes: bench.notes?.(ctx) ?? [] };
}

/** Milliseconds taken by `fn`. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Spawns a program with no stdio and resolves when it exits; rejects on a non-zero exit. */
export async function spawnToExit(file: string, args: string[]): Promise<void> {
  const child = spawn(file, args, { stdio: "ignore" });
  const [code, sig] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new TetherError(ErrorCode.Internal, `${file} ${args.join(" ")} exited with ${code ?? sig}`);
}

/** Spawns a program, reads all its stdout and resolves with the byte count. */
export async function spawnCountingStdout(file: string, args: string[]): Promise<number> {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  let bytes = 0;
  let err = "";
  child.stdout.on("data", (b: Buffer) => {
    bytes += b.length;
  });
  child.stderr.on("data", (b: Buffer) => {
    err = (err + b.toString()).slice(-2048);
  });
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new TetherError(ErrorCode.Internal, `${file} exited with ${code}: ${err.trim()}`);
  return bytes;
}

/** MiB/s for `bytes` moved in `ms`. */
export function mibPerSec(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000);
}
