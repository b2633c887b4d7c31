// The agent's own overhead (issue 15), against the real Codex CLI on the same scripted model:
// per tool call (the gap between consecutive model requests when every response is one
// exec_command `true`) and from process start to the first model request. tether runs as
// `tether exec` with its tools on a Unix-socket exec server (and in process); Codex runs the
// tool itself. The notes carry the agent server's RSS with 100 idle threads.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GrpcAgentClient } from "../../clients/agent/grpc-agent-client.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { CODEX_BIN, RUN_DIR, runCodex } from "../../test/support/codex-cli.js";
import { startAgentServerProcess } from "../../test/support/agent-server-process.js";
import { startExecServerProcess, type ExecServerProcess } from "../../test/support/exec-server-process.js";
import { startResponsesServer, toolOutput } from "../../test/support/responses-server.js";
import { trueToolCalls } from "../true-tool-calls.js";

const CALLS = { quick: 2, full: 10 };
const IDLE_THREADS = 100;

/** `tether exec` once; resolves when it exits (non-zero is a broken harness). */
async function runTetherExec(bin: string, modelUrl: string, work: string, home: string, envTarget: string): Promise<void> {
  const child = spawn(process.execPath, [bin, "exec", "-C", work, "--env", envTarget, "--sandbox", "full-access", "run true"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: modelUrl, OPENAI_API_KEY: "sk-scripted" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(-2000)));
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  if (code !== 0) throw new TetherError(ErrorCode.Internal, `tether exec exited ${code}: ${stderr}`);
}

type Runner = (modelUrl: string) => Promise<void>;

/** One agent run of `calls` tool calls: the median gap between model requests, and start → first request (ms). */
async function measure(calls: number, runner: Runner): Promise<{ perCall: number; firstRequest: number }> {
  const broken: string[] = [];
  const requests = trueToolCalls(calls, (req) => {
    // A tool call that did not run would time the failure path: the harness is broken then.
    const previous = req.index > 0 ? toolOutput(req, `call_${req.index - 1}`) : "";
    if (/could not start/.test(previous)) broken.push(previous.slice(0, 300));
  });
  const { arrivals } = requests;
  await using model = await startResponsesServer({ script: requests.script });
  const started = performance.now();
  await runner(model.url);
  if (arrivals.length !== calls + 1) throw new TetherError(ErrorCode.Internal, `${arrivals.length} model requests (want ${calls + 1})`);
  if (broken.length > 0) throw new TetherError(ErrorCode.Internal, `the tool call did not run: ${broken[0]}`);
  model.check();
  const gaps = requests.gaps().sort((a, b) => a - b);
  return { perCall: gaps[Math.floor(gaps.length / 2)]!, firstRequest: arrivals[0]! - started };
}

interface Setup {
  work: string;
  home: string;
  execServer: ExecServerProcess | undefined;
  idleRssMiB: number | undefined;
}

function subjects(ctx: BenchContext, which: "perCall" | "firstRequest", state: Setup): Subject[] {
  const calls = ctx.quick ? CALLS.quick : CALLS.full;
  const bin = resolve(process.env.TETHER_BIN ?? "bin/tether.js");
  const ensure = async (): Promise<string | undefined> => {
    if (!existsSync(bin)) return `${bin} not found: make build`;
    if (!state.work) {
      await mkdir(RUN_DIR, { recursive: true });
      state.work = await mkdtemp(join(RUN_DIR, "bench-agent-work-"));
      state.home = await mkdtemp(join(RUN_DIR, "bench-agent-home-"));
    }
    return undefined;
  };
  const pick = (m: { perCall: number; firstRequest: number }) => m[which];
  return [
    {
      name: "tether exec, tools on a Unix-socket exec server",
      role: "tether",
      async setup() {
        const missing = await ensure();
        if (missing) return missing;
        state.execServer ??= await startExecServerProcess();
        if (which === "perCall" && state.idleRssMiB === undefined) state.idleRssMiB = await idleThreadsRss(state, state.execServer.url);
        return undefined;
      },
      sample: async () => pick(await measure(calls, (url) => runTetherExec(bin, url, state.work, state.home, state.execServer!.url))),
      teardown: async () => {
        await state.execServer?.close();
        state.execServer = undefined;
      },
    },
    {
      name: "tether exec, tools in process (--env local)",
      role: "tether",
      setup: ensure,
      sample: async () => pick(await measure(calls, (url) => runTetherExec(bin, url, state.work, state.home, "local"))),
    },
    {
      name: "codex exec (Codex runs the tool itself)",
      role: "peer",
      async setup() {
        const missing = await ensure();
        if (missing) return missing;
        return existsSync(CODEX_BIN) ? undefined : `the Codex CLI is not installed at ${CODEX_BIN} (npm install)`;
      },
      sample: async () =>
        pick(
          await measure(calls, async (url) => {
            const run = await runCodex({ modelUrl: url, cwd: state.work, prompt: "run true", timeoutMs: 60_000 });
            if (run.code !== 0) throw new TetherError(ErrorCode.Internal, `codex exec exited ${run.code}: ${run.stderr.slice(-500)}`);
          }),
        ),
      async teardown() {
        for (const d of [state.work, state.home]) if (d) await rm(d, { recursive: true, force: true });
        state.work = "";
      },
    },
  ];
}

/** An agent server holding IDLE_THREADS idle threads (each with its exec session): its RSS in MiB. */
async function idleThreadsRss(state: Setup, execUrl: string): Promise<number> {
  await using model = await startResponsesServer({ script: [] });
  const agent = await startAgentServerProcess({
    listen: `unix://${state.home}/agent.sock`,
    env: { ...process.env, TETHER_HOME: join(state.home, "idle"), OPENAI_BASE_URL: model.url, OPENAI_API_KEY: "sk" },
  });
  const client = await GrpcAgentClient.connect(agent.url);
  try {
    for (let i = 0; i < IDLE_THREADS; i++) {
      await client.startThread({ cwd: state.work, environment: execUrl, model: "m", sandbox: "full-access", approvalPolicy: "never" });
    }
    const status = await readFile(`/proc/${agent.pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
    return Math.round((kb / 1024) * 10) / 10;
  } finally {
    await client.close();
    await agent.close();
  }
}

function makeBenchmarks(): [Benchmark, Benchmark] {
  const state: Setup = { work: "", home: "", execServer: undefined, idleRssMiB: undefined };
  const common = (ctx: BenchContext) => [
    `scripted Responses server on loopback; tether exec --sandbox full-access; Codex 0.171.0 \`-m gpt-5.5\`, approval never, danger-full-access; ${ctx.quick ? CALLS.quick : CALLS.full} calls per run, one sample per run`,
  ];
  return [
    {
      name: "agent-tool-call",
      title: "Agent: one exec_command `true` tool call (model request → next model request)",
      unit: "ms",
      better: "lower",
      rounds: (quick) => (quick ? { warmup: 0, measured: 1 } : { warmup: 1, measured: 7 }),
      subjects: (ctx) => subjects(ctx, "perCall", state),
      notes: (ctx) => [
        ...common(ctx),
        `agent-server RSS with ${IDLE_THREADS} idle threads (each with its session on one Unix-socket exec server): ${state.idleRssMiB === undefined ? "not measured" : `${state.idleRssMiB} MiB`}`,
      ],
    },
    {
      name: "agent-first-request",
      title: "Agent: process start → first model request",
      unit: "ms",
      better: "lower",
      rounds: (quick) => (quick ? { warmup: 0, measured: 1 } : { warmup: 1, measured: 9 }),
      subjects: (ctx) => subjects(ctx, "firstRequest", state),
      notes: common,
    },
  ];
}

export const [agentToolCall, agentFirstRequest] = makeBenchmarks();
