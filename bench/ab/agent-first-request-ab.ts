// A/B for issue 15's start-up target: two builds of `tether exec` (e.g. main's dist and a
// worktree's) alternating run by run against one scripted model server, the thread's
// environment `local` (the default), or with `--env unix` an exec server on a Unix socket
// (one `tether exec-server` of build A, started first, serves both builds). Per build, the medians of: wall from spawn to the first
// model request at the server, the agent's CPU until it created that request (a preload hook
// on node's http.client.request.start channel), and the whole run's wall and CPU (a one-message turn: the environment
// opens, unused, and closes).
// Run: esbuild bench/ab/agent-first-request-ab.ts --bundle --platform=node --format=esm
// --packages=external --outfile=dist/ab/first.mjs && node dist/ab/first.mjs A_BIN B_BIN [RUNS] [--env unix] [--resume]
// --resume: `tether exec resume --last PROMPT` instead, on a thread of one earlier turn (made
// once by build A, its TETHER_HOME copied for each run, so every run resumes the same thread).
// AB_CONFIG_TOML=FILE puts that file in each run's TETHER_HOME as config.toml (most users
// have one). A measurement, not part of make bench.
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startResponsesServer } from "../../test/support/responses-server.js";
import { ExecServerProcess } from "../exec-server-process.js";

/** Preloaded into each agent process: CPU (µs) at its first HTTP request and at exit. */
const HOOK = `const fs = require("node:fs"); const dc = require("node:diagnostics_channel");
let first;
dc.subscribe("http.client.request.start", () => { if (first) return; const u = process.cpuUsage(); first = { cpu: u.user + u.system }; });
process.on("exit", () => { const u = process.cpuUsage(); fs.writeFileSync(process.env.AB_CPU_FILE, JSON.stringify({ first, total: u.user + u.system })); });`;

interface Run { firstWall: number; firstCpu: number; totalWall: number; totalCpu: number }

async function runOnce(bin: string, work: string, home: string, env: string[], resume: boolean): Promise<Run> {
  let arrived = 0;
  await using model = await startResponsesServer({ script: () => { arrived ||= performance.now(); return [{ type: "message" as const, text: "hi" }]; } });
  const started = performance.now();
  const child = spawn(process.execPath, [bin, "exec", ...env, "-C", work, "--sandbox", "workspace-write", ...(resume ? ["resume", "--last"] : []), "say hi"], {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: model.url, OPENAI_API_KEY: "sk-scripted", NODE_OPTIONS: `--require ${join(home, "hook.cjs")}`, AB_CPU_FILE: join(home, "cpu") },
  });
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  const ended = performance.now();
  if (code !== 0) throw new Error(`${bin} exited ${code}`);
  model.check();
  const cpu = JSON.parse(await readFile(join(home, "cpu"), "utf8")) as { first: { cpu: number }; total: number };
  return { firstWall: arrived - started, firstCpu: cpu.first.cpu / 1000, totalWall: ended - started, totalCpu: cpu.total / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const envAt = args.indexOf("--env");
  const envKind = envAt >= 0 ? args.splice(envAt, 2)[1] : "local";
  const resumeAt = args.indexOf("--resume");
  const resume = resumeAt >= 0 && args.splice(resumeAt, 1).length === 1;
  if (envKind !== "local" && envKind !== "unix") throw new Error("--env takes local or unix");
  const [a, b, runsArg] = args;
  if (!a || !b) throw new Error("usage: ab-first.mjs A_BIN B_BIN [RUNS] [--env local|unix]");
  const runs = Number(runsArg ?? 15);
  const root = await mkdtemp(join(tmpdir(), "tether-ab-first-"));
  let server: ExecServerProcess | undefined;
  try {
    if (envKind === "unix") server = await ExecServerProcess.start(a, root);
    const env = server ? ["--env", server.url] : [];
    const work = join(root, "work");
    await mkdir(join(work, ".git"), { recursive: true });
    await writeFile(join(work, "AGENTS.md"), "Be brief.\n");
    const configToml = process.env.AB_CONFIG_TOML ? await readFile(process.env.AB_CONFIG_TOML, "utf8") : undefined;
    // --resume: the thread every run resumes, made once (its home is copied for each run).
    const seeded = join(root, "seeded-home");
    if (resume) {
      await mkdir(seeded, { recursive: true });
      await writeFile(join(seeded, "hook.cjs"), HOOK);
      if (configToml !== undefined) await writeFile(join(seeded, "config.toml"), configToml);
      await runOnce(a, work, seeded, env, false);
    }
    const results: Record<string, Run[]> = { A: [], B: [] };
    for (let i = -1; i < runs; i++) {
      for (const [name, bin] of (i % 2 === 0 ? [["A", a], ["B", b]] : [["B", b], ["A", a]]) as [string, string][]) {
        const home = join(root, `home-${name}-${i}`);
        if (resume) await cp(seeded, home, { recursive: true });
        await mkdir(home, { recursive: true });
        await writeFile(join(home, "hook.cjs"), HOOK);
        if (configToml !== undefined) await writeFile(join(home, "config.toml"), configToml);
        const r = await runOnce(bin, work, home, env, resume);
        if (i >= 0) results[name]!.push(r); // run -1 warms both builds' compile caches
      }
    }
    for (const name of ["A", "B"]) {
      const rs = results[name]!;
      const m = (k: keyof Run) => median(rs.map((r) => r[k])).toFixed(1);
      console.log(`${name} (--env ${envKind}${resume ? ", resume --last" : ""}): first request wall ${m("firstWall")} ms, CPU ${m("firstCpu")} ms; whole run wall ${m("totalWall")} ms, CPU ${m("totalCpu")} ms (median of ${rs.length})`);
    }
  } finally {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
