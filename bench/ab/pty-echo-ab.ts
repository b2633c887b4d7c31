// pty-echo measured in isolation: N keystroke round trips through a tether PTY (the bench's
// "tether PTY" subject: Environment over grpc-js, Unix socket), alternating block by block
// between this build's exec server and a base build's (TETHER_AB_BASE_BIN), with round-trip
// median/p90 and CPU per keystroke on each side: the server's and
// this client's (main threads, /proc/PID/schedstat). On a loaded machine the CPU figures are the reliable ones.
// A measurement, not part of make bench.
// Run: esbuild bench/ab/pty-echo-ab.ts --bundle --platform=node --format=esm --outfile=dist/ab/pty-echo-ab.mjs
// (externals as scripts/build.mjs) && node dist/ab/pty-echo-ab.mjs [--keys 500] [--rounds 6]
// TETHER_AB_SERVER_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the exec servers.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadTetherTargets, type EchoSession } from "../targets.js";

/**
 * CPU time of a process's main thread (where its JS runs) in µs: /proc/PID/schedstat counts
 * nanoseconds, where /proc/PID/stat counts 10 ms ticks (a block of 500 keystrokes is a few ticks).
 */
function mainThreadCpuUs(pid: number | "self" | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
  } catch {
    return NaN;
  }
}

interface Row {
  label: string;
  samples: number[];
  serverUs: number;
  clientUs: number;
  keys: number;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? NaN;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { keys: { type: "string", default: "500" }, rounds: { type: "string", default: "6" } } });
  const keys = Math.min(100_000, Number(values.keys));
  const rounds = Math.min(100, Number(values.rounds));
  const tmp = await mkdtemp(join(tmpdir(), "tether-ab-pty-"));
  const serverOptions = process.env.TETHER_AB_SERVER_NODE_OPTIONS;
  const savedOptions = process.env.NODE_OPTIONS;
  if (serverOptions) process.env.NODE_OPTIONS = serverOptions;
  const sets: Array<{ label: string; targets: Awaited<ReturnType<typeof loadTetherTargets>> }> = [];
  const baseBin = process.env.TETHER_AB_BASE_BIN;
  if (baseBin) {
    process.env.TETHER_BIN = baseBin;
    sets.push({ label: "A base", targets: await loadTetherTargets({ tmp: await mkdtemp(join(tmp, "base-")) }) });
    delete process.env.TETHER_BIN;
  }
  sets.push({ label: "B this", targets: await loadTetherTargets({ tmp }) });
  if (serverOptions) process.env.NODE_OPTIONS = savedOptions;
  const sessions: EchoSession[] = [];
  const rows: Row[] = [];
  try {
    for (const { label, targets } of sets) {
      if (!targets.local) throw new Error(`${label}: no local target (${targets.missing.join("; ")})`);
      sessions.push(await targets.local.openEcho());
      rows.push({ label, samples: [], serverUs: 0, clientUs: 0, keys: 0 });
    }
    // Warm-up: JIT and buffers on both sides.
    for (const s of sessions) for (let i = 0; i < 200; i++) await s.roundTrip(0x78);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sets.map((_, i) => i) : sets.map((_, i) => sets.length - 1 - i);
      for (const i of order) {
        const row = rows[i]!;
        const pid = sets[i]!.targets.localServerPid;
        const s0 = mainThreadCpuUs(pid);
        const c0 = mainThreadCpuUs("self");
        for (let k = 0; k < keys; k++) {
          const t0 = performance.now();
          await sessions[i]!.roundTrip(0x78);
          row.samples.push((performance.now() - t0) * 1000);
        }
        row.clientUs += mainThreadCpuUs("self") - c0;
        row.serverUs += mainThreadCpuUs(pid) - s0;
        row.keys += keys;
      }
    }
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    for (const { targets } of sets) {
      await targets.local?.close();
      await targets.inProcess?.close();
      await targets.tls?.close();
      await targets.lean?.close();
    }
    await rm(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`| subject | round trip µs median | p90 | server CPU µs/key | client CPU µs/key | keys |\n|---|---|---|---|---|---|\n`);
  for (const row of rows) {
    process.stdout.write(
      `| ${row.label} | ${quantile(row.samples, 0.5).toFixed(0)} | ${quantile(row.samples, 0.9).toFixed(0)} | ${(row.serverUs / row.keys).toFixed(1)} | ${(row.clientUs / row.keys).toFixed(1)} | ${row.keys} |\n`,
    );
  }
}

await main();
