// Throughput of a command's stdout reaching the client: tether's Attach stream (Unix socket,
// TCP+TLS, and the CLI's lean client) against ssh (multiplexed) and a local pipe. Every
// subject's bytes are read by this Node process.
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { readFileSync, readdirSync } from "node:fs";
import { mibPerSec, spawnCountingStdout, timeMs } from "../benchmark.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { CodexPeerSlot } from "../codex-stdio-peer.js";

const FULL_BYTES = 1024 * 1024 * 1024;
const QUICK_BYTES = 16 * 1024 * 1024;

/**
 * CPU time (user + system, all threads) of a process and its live descendants, in ms: a server
 * behind a wrapper (node_modules/.bin/codex is a Node script running the native binary) counts
 * as the tree. Exited children (the `head` itself) are left out: their time is in cutime.
 */
function cpuMs(pid: number | undefined, depth = 0): number | undefined {
  if (pid === undefined || depth > 8) return undefined;
  let own: number;
  try {
    // Fields after the ")" of the command name: utime and stime are the 12th and 13th (clock ticks, 100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    own = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    // no children file on this kernel: the process alone
  }
  return children.slice(0, 64).reduce((sum, c) => sum + (cpuMs(c, depth + 1) ?? 0), own);
}

/** Server CPU per MiB streamed, per subject, over the run (the note under the table). */
const serverCpu = new Map<string, { ms: number; mib: number }>();

function checked(expected: number, got: number, who: string): void {
  if (got !== expected) throw new TetherError(ErrorCode.DataLoss, `${who} delivered ${got} of ${expected} bytes`);
}

export const streamStdout: Benchmark = {
  name: "stream-stdout",
  title: "Stream `head -c N /dev/zero` to the client",
  unit: "MiB/s",
  better: "higher",
  rounds: (quick) => (quick ? { warmup: 0, measured: 2 } : { warmup: 0, measured: 5 }),
  subjects(ctx: BenchContext): Subject[] {
    const n = ctx.quick ? QUICK_BYTES : FULL_BYTES;
    const tether = ctx.tether.local;
    const tls = ctx.tether.tls;
    const head = ["head", "-c", String(n), "/dev/zero"];
    const codex = new CodexPeerSlot();
    const measure = async (who: string, run: () => Promise<number>, serverPid?: number) => {
      let got = 0;
      const cpuBefore = cpuMs(serverPid);
      const ms = await timeMs(async () => {
        got = await run();
      });
      checked(n, got, who);
      const cpuAfter = cpuMs(serverPid);
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        const acc = serverCpu.get(who) ?? { ms: 0, mib: 0 };
        serverCpu.set(who, { ms: acc.ms + cpuAfter - cpuBefore, mib: acc.mib + n / (1 << 20) });
      }
      return mibPerSec(n, ms);
    };
    return [
      {
        name: "tether Environment Attach (grpc-js)",
        role: "tether",
        setup: async () => (tether ? undefined : "no local tether target"),
        sample: () => measure("tether", () => tether!.streamBytes(n), ctx.tether.localServerPid),
      },
      {
        name: "tether Environment Attach (TCP+TLS)",
        role: "tether",
        setup: async () => (tls ? undefined : "no TLS target"),
        sample: () => measure("tether TLS", () => tls!.streamBytes(n)),
      },
      {
        name: "tether lean client Attach",
        role: "tether",
        setup: async () => (ctx.tether.lean ? undefined : "no lean target"),
        sample: () => measure("tether lean", () => ctx.tether.lean!.streamBytes(n), ctx.tether.localServerPid),
      },
      {
        name: "ssh multiplexed stdout",
        role: "peer",
        sample: () => measure("ssh", () => spawnCountingStdout("ssh", ctx.peer.sshArgs(head))),
      },
      {
        name: "codex exec-server (stdio) process/output",
        role: "peer",
        setup: () => codex.open(ctx.tmp),
        sample: () => measure("codex exec-server", () => codex.peer.streamBytes(n), codex.peer.pid),
        teardown: () => codex.close(),
      },
      {
        name: "local pipe (spawn head)",
        role: "limit",
        sample: () => measure("local pipe", () => spawnCountingStdout(head[0]!, head.slice(1))),
      },
    ];
  },
  notes: (ctx) => [
    `N = ${ctx.quick ? "16 MiB (quick)" : "1 GiB"}; ssh uses OpenSSH's default cipher unless --cipher is given.`,
    `Server CPU per MiB (user + system of the server's live process tree from /proc/PID/stat, 10 ms ticks, over all samples; the exited head not counted): ${
      [...serverCpu].map(([who, c]) => `${who} ${(c.ms / c.mib).toFixed(2)} ms`).join(", ") || "not measured"
    }.`,
  ],
};
