// A/B for issue 15's per-tool-call target: two builds of `tether exec` (e.g. main's dist and a
// worktree's) alternating run by run against one scripted model server and one Unix-socket
// exec server, each run making CALLS `true` tool calls. Prints the median gap between model
// requests per build (the bench row agent-tool-call) and, with --cpu-prof DIR, writes a V8
// CPU profile of each agent process to DIR (pass the build's bin path as TETHER_AB_A/B).
// Run: esbuild bench/ab/agent-tool-call-ab.ts --bundle --platform=node --format=esm
// --packages=external --outfile=dist/ab-agent.mjs && node dist/ab-agent.mjs A_BIN B_BIN [RUNS] [--cpu-prof DIR] [--calls N]
// (--calls: tool calls per run, default 20; e.g. 200 for a thread with a long history, whose
// every request carries all earlier calls).
// A measurement, not part of make bench.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openEnvironment } from "../../clients/environment/open-environment.js";
import type { Environment } from "../../clients/environment/environment.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { RUN_DIR } from "../../test/support/codex-cli.js";
import { startExecServerProcess } from "../../test/support/exec-server-process.js";
import { type ScriptRequest, startResponsesServer } from "../../test/support/responses-server.js";
import { trueCall, trueToolCalls } from "../true-tool-calls.js";

let CALLS = 20;

/** Preloaded into each agent process: its CPU time (user + system, µs) written to a file at exit. */
const CPU_HOOK = `const fs = require("node:fs"); process.on("exit", () => { const u = process.cpuUsage(); fs.writeFileSync(process.env.AB_CPU_FILE, String(u.user + u.system)); });`;

/** One `tether exec` run of `calls` tool calls: the gaps between model requests (ms) and the agent's CPU time (ms). */
async function runOnce(bin: string, execUrl: string, work: string, home: string, profDir: string | undefined, calls = CALLS): Promise<{ gaps: number[]; cpuMs: number }> {
  const requests = trueToolCalls(calls);
  const { arrivals } = requests;
  await using model = await startResponsesServer({ script: requests.script });
  const args = [...(profDir ? ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", profDir] : []), bin, "exec", "-C", work, "--env", execUrl, "--sandbox", "full-access", "run true"];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: model.url, OPENAI_API_KEY: "sk-scripted", NODE_OPTIONS: `--require ${join(home, "cpu-hook.cjs")}`, AB_CPU_FILE: join(home, "cpu") },
  });
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  if (code !== 0) throw new Error(`${bin} exited ${code}`);
  if (arrivals.length !== calls + 1) throw new Error(`${arrivals.length} requests`);
  model.check();
  return { gaps: requests.gaps(), cpuMs: Number(await readFile(join(home, "cpu"), "utf8")) / 1000 };
}

/** The command's own time as exec_command runs it: Start + Attach to the exit, back to back (ms each). */
async function commandAlone(env: Environment, work: string, round: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    const id = `ab-alone-${process.pid}-${round}-${i}`;
    // As exec_command sends them: the Attach right behind the Start.
    const start = env.processes.start(id, { argv: ["bash", "-c", "true"], cwd: work, env: { NO_COLOR: "1", TERM: "dumb" }, sandbox: { mode: SandboxMode.FULL_ACCESS } });
    for await (const ev of env.processes.attach(id, { allowGaps: true })) if (ev.event.case === "exited") break;
    await start;
    out.push(performance.now() - t0);
  }
  return out;
}

/** One model round trip alone: fetch's POST of a small request and its SSE read to the end (ms each). */
async function modelAlone(): Promise<number[]> {
  const script = (req: ScriptRequest) => [trueCall(req.index)];
  await using model = await startResponsesServer({ script });
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${model.url}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk" },
      body: JSON.stringify({ model: "m", stream: true, input: [{ type: "message", role: "user", content: "run true" }] }),
    });
    await res.text();
    out.push(performance.now() - t0);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const profAt = argv.indexOf("--cpu-prof");
  const profDir = profAt >= 0 ? argv.splice(profAt, 2)[1] : undefined;
  const callsAt = argv.indexOf("--calls");
  if (callsAt >= 0) CALLS = Number(argv.splice(callsAt, 2)[1]);
  if (!Number.isInteger(CALLS) || CALLS < 1 || CALLS > 10_000) throw new Error("--calls wants a whole number from 1 to 10000");
  const [a, b, runsArg] = argv;
  if (!a || !b) throw new Error("usage: ab-agent.mjs A_BIN B_BIN [RUNS] [--cpu-prof DIR]");
  const runs = Number(runsArg ?? 5);
  await mkdir(RUN_DIR, { recursive: true });
  const work = await mkdtemp(join(RUN_DIR, "ab-agent-work-"));
  const home = await mkdtemp(join(RUN_DIR, "ab-agent-home-"));
  await writeFile(join(home, "cpu-hook.cjs"), CPU_HOOK);
  const exec = await startExecServerProcess();
  const gaps: Record<string, number[]> = { A: [], B: [], alone: [], model: [] };
  /** Per run: CPU of a CALLS-call run minus that of a no-call run, per call. */
  const cpu: Record<string, number[]> = { A: [], B: [] };
  const env = await openEnvironment(exec.url);
  try {
    for (let r = 0; r < runs; r++) {
      for (const [name, bin] of r % 2 === 0 ? [["A", a], ["B", b]] : [["B", b], ["A", a]]) {
        const dir = profDir ? join(profDir, name!) : undefined;
        if (dir) await mkdir(dir, { recursive: true });
        const run = await runOnce(bin!, exec.url, work, home, dir);
        const idle = await runOnce(bin!, exec.url, work, home, undefined, 0);
        gaps[name!]!.push(...run.gaps);
        cpu[name!]!.push((run.cpuMs - idle.cpuMs) / CALLS);
      }
      gaps.alone!.push(...(await commandAlone(env, work, r)));
      gaps.model!.push(...(await modelAlone()));
    }
  } finally {
    await env.close();
    await exec.close();
    await rm(work, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  }
  const ma = median(gaps.A!);
  const mb = median(gaps.B!);
  const alone = median(gaps.alone!);
  const rt = median(gaps.model!);
  console.log(`per tool call, median of ${gaps.A!.length} gaps: A ${ma.toFixed(2)} ms, B ${mb.toFixed(2)} ms, B/A ${(mb / ma).toFixed(3)}`);
  console.log(`the command alone (Start + Attach to exit, same server, same run): ${alone.toFixed(2)} ms; one model round trip alone (fetch + SSE read): ${rt.toFixed(2)} ms`);
  const ca = median(cpu.A!);
  const cb = median(cpu.B!);
  console.log(`agent CPU per call (run minus a no-call run, median of ${cpu.A!.length} runs): A ${ca.toFixed(2)} ms, B ${cb.toFixed(2)} ms, B/A ${(cb / ca).toFixed(3)}`);
  console.log(`agent share (gap - command - model round trip): A ${(ma - alone - rt).toFixed(2)} ms, B ${(mb - alone - rt).toFixed(2)} ms`);
}

await main();
