// The concurrency bench's attach row as a same-run A/B: two exec servers (A_BIN, B_BIN), each
// holding N producer processes with C clients holding a live Attach stream on every one, and
// waves of C concurrent Attach calls (→ first output, then cancelled) alternating between A
// and B. Reports per server: Attach → first output p50/p99 and the server's CPU per Attach
// (its own utime+stime over the waves, less its idle rate: the producers' lines to the live
// streams). CPU is the reliable figure on a loaded machine; latency only from quiet runs.
// A measurement, not part of make bench.
// Run: esbuild bench/ab/attach-load.ts --bundle --platform=node --format=esm --packages=external
// --outfile=dist/ab/attach.mjs && node dist/ab/attach.mjs A_BIN B_BIN [--processes 300]
// [--clients 64] [--waves 8] [--rounds 4] [--settle SECONDS before the first wave]. TETHER_BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof") goes to both servers.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OverflowPolicy } from "../../gen/tether/exec/v1/process_pb.js";
import { PRODUCER } from "../benchmarks/concurrency.js";
import { LoadClient } from "../benchmarks/concurrency-load.js";
import { ExecServerProcess } from "../exec-server-process.js";
import { percentile } from "../stats.js";

/** The process's own user + system CPU in ms (not its children's: the producers are those). */
function ownCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side {
  name: string;
  server: ExecServerProcess;
  load: LoadClient;
  dir: string;
  ms: number[];
  cpuPerAttach: number[];
  /** This process's CPU per Attach (the clients of both servers live here). */
  clientCpuPerAttach: number[];
  wave: number;
}

async function open(name: string, bin: string, n: number, c: number): Promise<Side> {
  const dir = await mkdtemp(join(tmpdir(), `attach-ab-${name}-`));
  const server = await ExecServerProcess.start(bin, dir);
  const load = await LoadClient.open(server.url, c);
  await load.startAll(n, { argv: PRODUCER, stdinOpen: true, output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: 64n << 10n } });
  load.attachAllLive();
  return { name, server, load, dir, ms: [], cpuPerAttach: [], clientCpuPerAttach: [], wave: 0 };
}

async function round(side: Side, waves: number, c: number): Promise<void> {
  const pid = side.server.pid!;
  // Idle rate first (the live streams' lines), over as long as the waves are likely to take.
  const i0 = ownCpuMs(pid);
  const s0 = selfCpuMs();
  const t0 = performance.now();
  await idle(1000);
  const idleRate = (ownCpuMs(pid) - i0) / (performance.now() - t0);
  const selfIdleRate = (selfCpuMs() - s0) / (performance.now() - t0);
  const c0 = ownCpuMs(pid);
  const s1 = selfCpuMs();
  const w0 = performance.now();
  const m0 = process.hrtime.bigint() / 1000n;
  for (let w = 0; w < waves; w++) {
    side.load.throwIfFailed();
    side.ms.push(...(await side.load.attachWave(side.wave++)));
  }
  const cpu = ownCpuMs(pid) - c0 - idleRate * (performance.now() - w0);
  // Monotonic µs, the clock of the servers' --cpu-prof timestamps: a profile can be cut to the waves.
  if (process.env.ATTACH_AB_MARKS) console.log(`mark ${side.name} ${pid} ${m0} ${process.hrtime.bigint() / 1000n}`);
  side.cpuPerAttach.push(cpu / (waves * c));
  side.clientCpuPerAttach.push((selfCpuMs() - s1 - selfIdleRate * (performance.now() - w0)) / (waves * c));
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { processes: { type: "string", default: "300" }, clients: { type: "string", default: "64" }, waves: { type: "string", default: "8" }, rounds: { type: "string", default: "4" }, settle: { type: "string", default: "0" } },
  });
  const [aBin, bBin] = positionals;
  if (!aBin || !bBin) throw new Error("usage: attach.mjs A_BIN B_BIN [--processes N] [--clients C] [--waves W] [--rounds R]");
  const [n, c, waves, rounds] = [values.processes, values.clients, values.waves, values.rounds].map(Number) as [number, number, number, number];
  const sides = [await open("A", aBin, n, c), await open("B", bBin, n, c)];
  try {
    // The first output event from seq 0 carries the retained history: a line a second per
    // process, so its size (and piece count) grows with how long the processes ran.
    await idle(Number(values.settle) * 1000);
    // Warm-up: one wave each, not counted.
    for (const s of sides) {
      await s.load.attachWave(s.wave++);
    }
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) await round(s, waves, c);
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      console.log(`round ${r + 1}/${rounds} (load ${load}): ${sides.map((s) => `${s.name} ${s.cpuPerAttach.at(-1)!.toFixed(3)} ms CPU/attach`).join(", ")}`);
    }
    console.log(`\n${n} processes, ${c} clients, ${waves} waves × ${rounds} rounds`);
    console.log("| server | attach p50 ms | p99 ms | server CPU per Attach ms (median of rounds) | client CPU per Attach ms |");
    console.log("|---|---|---|---|---|");
    for (const s of sides) {
      const sorted = [...s.ms].sort((a, b) => a - b);
      console.log(`| ${s.name} | ${percentile(sorted, 50).toFixed(2)} | ${percentile(sorted, 99).toFixed(2)} | ${median(s.cpuPerAttach).toFixed(3)} (${s.cpuPerAttach.map((x) => x.toFixed(3)).join(", ")}) | ${median(s.clientCpuPerAttach).toFixed(3)} |`);
    }
  } finally {
    for (const s of sides) {
      s.load.close();
      await s.server.close();
      await rm(s.dir, { recursive: true, force: true });
    }
  }
}

await main();
