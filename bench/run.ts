// Entry point of `make bench`: starts the private sshd, runs each benchmark (tether, its peers
// and the machine's limits alternating in one run), prints markdown tables and writes JSON to
// bench/results/. `--quick` runs each briefly so CI can check they still work.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, cpus, release } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import { runBenchmark, type Benchmark, type BenchContext } from "./benchmark.js";
import { SshPeer } from "./ssh-peer.js";
import { markdownTable, writeResult } from "./stats.js";
import { loadTetherTargets, type TetherTargets } from "./targets.js";
import { execTrue } from "./benchmarks/exec-true.js";
import { execAfterPause } from "./benchmarks/exec-after-pause.js";
import { processStart } from "./benchmarks/process-start.js";
import { streamStdout } from "./benchmarks/stream-stdout.js";
import { ptyEcho } from "./benchmarks/pty-echo.js";
import { transferDown, transferUp } from "./benchmarks/sftp-transfer.js";
import { containerTrue } from "./benchmarks/container-true.js";
import { serverStart } from "./benchmarks/server-start.js";
import { concurrency } from "./benchmarks/concurrency.js";
import { codexToolCall } from "./benchmarks/codex-tool-call.js";
import { agentFirstRequest, agentToolCall } from "./benchmarks/agent-tool-call.js";

const BENCHMARKS: readonly Benchmark[] = [execTrue, execAfterPause, processStart, streamStdout, ptyEcho, transferUp, transferDown, containerTrue, serverStart, concurrency, codexToolCall, agentToolCall, agentFirstRequest];

const USAGE = `usage: bench/run [--quick] [--only NAME[,NAME]] [--cipher CIPHER] [--results DIR]
benchmarks: ${BENCHMARKS.map((b) => b.name).join(", ")}`;

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      cipher: { type: "string" },
      results: { type: "string", default: "bench/results" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) {
    if (!BENCHMARKS.some((b) => b.name === name)) throw new TetherError(ErrorCode.InvalidArgument, `unknown benchmark "${name}"\n${USAGE}`);
  }
  return { ...values, only };
}

export async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (err) {
    process.stderr.write(`${TetherError.from(err).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const controller = new AbortController();
  // Stopped by a signal, the run still stops its exec servers and sshd (they would outlive it).
  const onSignal = (name: string) => controller.abort(new TetherError(ErrorCode.Cancelled, `interrupted by ${name}`));
  const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const name of stopSignals) process.once(name, onSignal);
  const tmp = await mkdtemp(join(tmpdir(), "tether-bench-"));
  const meta = { quick: opts.quick, node: process.version, kernel: release(), cpus: cpus().length, cipher: opts.cipher ?? "default" };
  let tether: TetherTargets = { missing: [] };
  let peer: SshPeer | undefined;
  let failed = 0;
  try {
    tether = await loadTetherTargets({ tmp });
    peer = await SshPeer.start({ cipher: opts.cipher });
    const ctx: BenchContext = { quick: opts.quick, peer, tether, tmp, signal: controller.signal };
    process.stdout.write(`# tether benchmarks${opts.quick ? " (quick: figures are not meaningful)" : ""}\n\n`);
    for (const note of tether.missing) process.stdout.write(`- ${note}\n`);
    for (const bench of BENCHMARKS) {
      if (opts.only && !opts.only.includes(bench.name)) continue;
      const result = await runBenchmark(bench, ctx);
      const path = await writeResult(resolve(opts.results), result, meta);
      process.stdout.write(`\n${markdownTable(result)}\n\n(${path})\n`);
      // A peer or limit that failed (not skipped for a missing tool) means the harness broke.
      failed += result.subjects.filter((s) => /^(setup )?failed/.test(s.skipped ?? "")).length;
    }
  } finally {
    for (const name of stopSignals) process.off(name, onSignal);
    await Promise.all([tether.local?.close(), tether.inProcess?.close(), tether.tls?.close(), peer?.close()]);
    await rm(tmp, { recursive: true, force: true });
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${TetherError.from(err).message}\n`);
    process.exitCode = 1;
  },
);
