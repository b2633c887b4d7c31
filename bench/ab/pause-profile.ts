// Where a Start after a pause spends the exec server's CPU (issue 18): starts `tether
// exec-server` with --cpu-prof, runs `/bin/true` through the lean client N times with a 50 ms
// pause before each (alternating with Node's own spawn, the limit), reads the server's CPU time
// from /proc around the measured loop, and prints the profile's self time by function for the
// measured window only (start-up and shutdown left out), per run.
// Run: esbuild bench/ab/pause-profile.ts --bundle --platform=node --format=esm --outfile=dist/pause-profile.mjs
// (externals as scripts/build.mjs) && node dist/pause-profile.mjs [N] [-- server args]. A measurement, not part of make bench.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { once } from "node:events";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnToExit, timeMs } from "../benchmark.js";
import { LeanTarget } from "../lean-target.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** utime + stime of a process in ms (clock ticks are 100 Hz on Linux). */
function cpuMs(pid: number, thread = false): number {
  const fields = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Served {
  label: string;
  server: ChildProcessByStdio<Writable, Readable, null>;
  lean: LeanTarget;
  profDir: string;
  ms: number[];
  cpu0: number;
  main0: number;
}

async function serve(label: string, bin: string, serverArgs: string[], profile: boolean): Promise<Served> {
  const dir = await mkdtemp(path.join(tmpdir(), "pause-profile-"));
  const profDir = path.join(dir, "prof");
  const prof = profile ? ["--cpu-prof", "--cpu-prof-interval", "200", "--cpu-prof-dir", profDir] : [];
  const server = spawn(process.execPath, [...prof, bin, "exec-server", "--listen", `unix://${dir}/s.sock`, "--cwd", dir, ...serverArgs], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  for await (const chunk of server.stdout) {
    out += String(chunk);
    if (/^listening /m.test(out)) break;
  }
  server.stdout.resume();
  const lean = new LeanTarget(/^listening (\S+)$/m.exec(out)![1]!);
  for (let i = 0; i < 10; i++) await lean.runTrue();
  return { label, server, lean, profDir, ms: [], cpu0: 0, main0: 0 };
}

/** pause-profile N [--bin-b OTHER/bin/tether.js] [--no-prof] [-- server args]: A is ./bin/tether.js. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf("--");
  const n = Number(argv[0] ?? 200);
  const b = argv.indexOf("--bin-b");
  const serverArgs = dash >= 0 ? argv.slice(dash + 1) : [];
  const profile = !argv.includes("--no-prof");
  const subjects = [await serve("A", "bin/tether.js", serverArgs, profile)];
  if (b >= 0) subjects.push(await serve("B", argv[b + 1]!, serverArgs, profile));
  const node: number[] = [];
  for (const s of subjects) [s.cpu0, s.main0] = [cpuMs(s.server.pid!), cpuMs(s.server.pid!, true)];
  const t0 = process.hrtime.bigint() / 1000n;
  for (let i = 0; i < n; i++) {
    for (const s of subjects) {
      await sleep(50);
      s.ms.push(await timeMs(() => s.lean.runTrue()));
    }
    await sleep(50);
    node.push(await timeMs(() => spawnToExit("/bin/true", [])));
  }
  const t1 = process.hrtime.bigint() / 1000n;
  for (const s of subjects) {
    const cpu = cpuMs(s.server.pid!) - s.cpu0;
    const main = cpuMs(s.server.pid!, true) - s.main0;
    await s.lean.close();
    const exited = once(s.server, "exit");
    s.server.kill("SIGTERM");
    await exited;
    console.log(`${s.label}: runs ${n}: tether median ${median(s.ms).toFixed(2)} ms (${(median(s.ms) / median(node)).toFixed(2)}x node spawn), server CPU per run ${(cpu / n).toFixed(2)} ms all threads, ${(main / n).toFixed(2)} ms main thread (/proc, user + kernel)`);
  }
  console.log(`node spawn median ${median(node).toFixed(2)} ms`);
  for (const s of subjects) {
    const file = (await readdir(s.profDir).catch(() => [] as string[])).find((f) => f.endsWith(".cpuprofile"));
    if (!file) continue;
    console.log(`\n== profile ${s.label}`);
    report(JSON.parse(await readFile(path.join(s.profDir, file), "utf8")) as Profile, Number(t0), Number(t1), n);
  }
}

function report(p: Profile, from: number, to: number, n: number): void {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const stacks = new Map<string, number>();
  let t = p.startTime;
  let inWindow = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i]!;
    t += dt;
    if (t < from || t > to) continue;
    const node = byId.get(p.samples[i]!)!;
    const name = node.callFrame.functionName;
    if (name === "(idle)") continue;
    inWindow += dt;
    const key = `${name || "(anon)"} ${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    // Inclusive time per function name (each name once per stack).
    const frames: string[] = [];
    for (let id: number | undefined = node.id; id !== undefined && frames.length < 8; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      frames.push(`${f.functionName || "(anon)"}:${f.lineNumber + 1}`);
    }
    const sk = frames.join(" < ");
    stacks.set(sk, (stacks.get(sk) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const k = `${f.functionName || "(anon)"} ${path.basename(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }
  const per = (us: number) => (us / 1000 / n).toFixed(3);
  console.log(`profile: ${per(inWindow)} ms CPU (non-idle samples) per run in the window`);
  console.log("self time per run (ms):");
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${per(v)}  ${k}`);
  console.log("heaviest stacks per run (ms, leaf first, 8 frames):");
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${per(v)}  ${k}`);
  console.log("inclusive time per run (ms):");
  for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(`  ${per(v)}  ${k}`);
}

await main();
