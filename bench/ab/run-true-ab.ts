// A/B for issue 18's `tether run -- true` row: two builds of the CLI (e.g. main's and a
// worktree's) alternating run by run, `tether run --env unix://… -- true` against one exec
// server (build B's, started first: its native parts are built). Per build, the medians of the wall from spawn to exit and
// the client's CPU (user + system, a preload reads process.cpuUsage at exit), and for scale
// `node -e 0` alternated with them. Each build's warm-up runs come first (so a code cache made
// by a first run is in place, as it is for a user after one run); NODE_COMPILE_CACHE is a
// fresh directory per A/B, so the caches are those of this run.
// Run: esbuild bench/ab/run-true-ab.ts --bundle --platform=node --format=esm
// --packages=external --outfile=dist/ab/run-true.mjs && node dist/ab/run-true.mjs A_BIN B_BIN [RUNS]
// A measurement, not part of make bench.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecServerProcess } from "../exec-server-process.js";

const HOOK = `process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeFileSync(process.env.AB_CPU_FILE, String(u.user + u.system)); });`;

interface Run { wall: number; cpu: number }

async function runOnce(args: string[], env: NodeJS.ProcessEnv, cpuFile: string): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"], env });
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  const wall = performance.now() - started;
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}`);
  return { wall, cpu: Number(await readFile(cpuFile, "utf8")) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  const [a, b, runsArg] = process.argv.slice(2);
  if (!a || !b) throw new Error("usage: run-true.mjs A_BIN B_BIN [RUNS]");
  const runs = Math.min(Math.max(Number(runsArg ?? 21), 1), 500);
  const dir = await mkdtemp(join(tmpdir(), "tether-run-ab-"));
  const server = await ExecServerProcess.start(b, dir);
  try {
    await writeFile(join(dir, "hook.cjs"), HOOK);
    const cpuFile = join(dir, "cpu");
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: join(dir, "cache"), NODE_OPTIONS: `--require ${join(dir, "hook.cjs")}`, AB_CPU_FILE: cpuFile };
    delete env.TETHER_LEAN;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const subjects: Record<string, string[]> = {
      A: [a, "run", "--env", server.url, "--", "true"],
      B: [b, "run", "--env", server.url, "--", "true"],
      "node -e 0": ["-e", "0"],
    };
    const results: Record<string, Run[]> = { A: [], B: [], "node -e 0": [] };
    for (const args of Object.values(subjects)) for (let i = 0; i < 3; i++) await runOnce(args, env, cpuFile);
    for (let i = 0; i < runs; i++) {
      // Alternate the order too, so neither build always runs right after the other.
      const order = i % 2 === 0 ? ["A", "B", "node -e 0"] : ["B", "A", "node -e 0"];
      for (const name of order) results[name]!.push(await runOnce(subjects[name]!, env, cpuFile));
    }
    console.log(`${runs} runs each, alternating; medians (ms)`);
    console.log("subject      wall    cpu");
    for (const [name, rs] of Object.entries(results)) {
      console.log(`${name.padEnd(10)} ${median(rs.map((r) => r.wall)).toFixed(1).padStart(6)} ${median(rs.map((r) => r.cpu)).toFixed(1).padStart(6)}`);
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
