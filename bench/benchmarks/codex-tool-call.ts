// One Codex tool call, end to end: the real Codex CLI (pinned) runs `codex exec --json` on a
// scripted model whose every response is one exec_command `true` (login: false); the figure
// is the gap between consecutive model requests (Codex reads the call, runs it, sends the
// output back), the median over the calls of one run. Same Codex, same script, three ways:
// through tether's Codex front door (ws), through `codex exec-server` (ws), and with no exec
// server at all (Codex runs the tool itself): the target is tether ≤ that last row.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { CODEX_BIN, RUN_DIR, runCodex } from "../../test/support/codex-cli.js";
import { startResponsesServer } from "../../test/support/responses-server.js";
import { trueToolCalls } from "../true-tool-calls.js";

/** Tool calls per `codex exec` run (each run is one sample: their median gap). */
const CALLS = { quick: 2, full: 10 };

/** Starts a server that prints its ws:// URL on stdout; resolves with it. */
async function startWsServer(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let seen = "";
  const url = await new Promise<string>((res, rej) => {
    const onData = (b: Buffer) => {
      seen = (seen + b.toString()).slice(-4096);
      const m = /(ws:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) {
        child.stdout.off("data", onData);
        child.off("exit", onExit);
        res(m[1]!);
      }
    };
    const onExit = (code: number | null) => rej(new TetherError(ErrorCode.Unavailable, `${file} exited (${code}) before it listened: ${seen.trim()}`));
    child.stdout.on("data", onData);
    child.once("exit", onExit);
  });
  child.stdout.resume();
  child.stderr.resume();
  return { child, url };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/** One `codex exec` run of `calls` tool calls; the median gap between model requests, in ms. */
async function perToolCall(ctx: BenchContext, work: string, calls: number, execServerUrl: string | undefined): Promise<number> {
  const requests = trueToolCalls(calls);
  const { arrivals } = requests;
  await using model = await startResponsesServer({ script: requests.script });
  const run = await runCodex({ modelUrl: model.url, cwd: work, prompt: "run true", execServerUrl, timeoutMs: 60_000 });
  if (ctx.signal.aborted) throw TetherError.from(ctx.signal.reason);
  if (run.code !== 0 || arrivals.length !== calls + 1) {
    throw new TetherError(ErrorCode.Internal, `codex exec exited ${run.code} after ${arrivals.length} model requests (want ${calls + 1}): ${run.stderr.slice(-500)}`);
  }
  model.check();
  // The median of the run's gaps: one slow call (a busy machine) does not move the sample.
  const gaps = requests.gaps().sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

export const codexToolCall: Benchmark = {
  name: "codex-tool-call",
  title: "Codex CLI: one exec_command `true` tool call (model request → next model request)",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 0, measured: 1 } : { warmup: 1, measured: 7 }),
  subjects(ctx) {
    const calls = ctx.quick ? CALLS.quick : CALLS.full;
    const bin = resolve(process.env.TETHER_BIN ?? "bin/tether.js");
    let work = "";
    let codexHome = "";
    const ensureWork = async () => {
      if (work) return;
      await mkdir(RUN_DIR, { recursive: true });
      work = await mkdtemp(join(RUN_DIR, "bench-codex-work-"));
      codexHome = await mkdtemp(join(RUN_DIR, "bench-codex-server-home-"));
    };
    const needsCodex = async () => {
      await ensureWork();
      return existsSync(CODEX_BIN) ? undefined : `the Codex CLI is not installed at ${CODEX_BIN} (npm install)`;
    };
    const startTether = (extra: string[]) => {
      if (!existsSync(bin)) throw new TetherError(ErrorCode.FailedPrecondition, `${bin} not found: make build`);
      return startWsServer(process.execPath, [bin, "exec-server", "--listen", "ws://127.0.0.1:0", "--cwd", work, ...extra], process.env);
    };
    const served = (name: string, role: Subject["role"], start: () => Promise<{ child: ChildProcess; url: string }>): Subject => {
      let server: { child: ChildProcess; url: string } | undefined;
      return {
        name,
        role,
        async setup() {
          const missing = await needsCodex();
          if (missing) return missing;
          server = await start();
          return undefined;
        },
        sample: () => perToolCall(ctx, work, calls, server!.url),
        teardown: () => stop(server?.child),
      };
    };
    return [
      served("tether Codex front door (ws)", "tether", () => startTether([])),
      // The per-process pids cgroup (--max-pids) costs a kernel RCU wait when calls are spaced
      // out, as a model's are: this row shows what that guarantee costs per call.
      served("tether Codex front door (ws), --max-pids 0", "tether", () => startTether(["--max-pids", "0"])),
      served("codex exec-server (ws)", "peer", () =>
        // Its CODEX_HOME may not be under /tmp (it refuses to install its sandbox helper there).
        startWsServer(CODEX_BIN, ["exec-server", "--listen", "ws://127.0.0.1:0"], { ...process.env, CODEX_HOME: codexHome }),
      ),
      {
        name: "codex, no exec server (tools run by Codex)",
        role: "limit",
        setup: needsCodex,
        sample: () => perToolCall(ctx, work, calls, undefined),
        async teardown() {
          for (const d of [work, codexHome]) if (d) await rm(d, { recursive: true, force: true });
        },
      },
    ];
  },
  notes: (ctx) => [
    `${ctx.quick ? CALLS.quick : CALLS.full} tool calls per \`codex exec\` run, one sample per run (median gap between model requests); Codex 0.171.0, \`-m gpt-5.5\`, scripted Responses server on loopback`,
    "tether and codex exec-server are separate processes on 127.0.0.1; Codex reaches them with CODEX_EXEC_SERVER_URL",
  ],
};
