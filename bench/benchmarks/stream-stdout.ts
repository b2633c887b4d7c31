// Throughput of a command's stdout reaching the client: tether's Attach stream (Unix socket,
// TCP+TLS, and the CLI's lean client) against ssh (multiplexed) and a local pipe. Every
// subject's bytes are read by this Node process.
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { mibPerSec, spawnCountingStdout, timeMs } from "../benchmark.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { CodexStdioPeer } from "../codex-stdio-peer.js";

const FULL_BYTES = 1024 * 1024 * 1024;
const QUICK_BYTES = 16 * 1024 * 1024;

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
    let codex: CodexStdioPeer | undefined;
    const measure = async (who: string, run: () => Promise<number>) => {
      let got = 0;
      const ms = await timeMs(async () => {
        got = await run();
      });
      checked(n, got, who);
      return mibPerSec(n, ms);
    };
    return [
      {
        name: "tether Environment Attach (grpc-js)",
        role: "tether",
        setup: async () => (tether ? undefined : "no local tether target"),
        sample: () => measure("tether", () => tether!.streamBytes(n)),
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
        sample: () => measure("tether lean", () => ctx.tether.lean!.streamBytes(n)),
      },
      {
        name: "ssh multiplexed stdout",
        role: "peer",
        sample: () => measure("ssh", () => spawnCountingStdout("ssh", ctx.peer.sshArgs(head))),
      },
      {
        name: "codex exec-server (stdio) process/output",
        role: "peer",
        setup: async () => {
          const started = await CodexStdioPeer.start(ctx.tmp);
          if (typeof started === "string") return started;
          codex = started;
          return undefined;
        },
        sample: () => measure("codex exec-server", () => codex!.streamBytes(n)),
        teardown: async () => await codex?.close(),
      },
      {
        name: "local pipe (spawn head)",
        role: "limit",
        sample: () => measure("local pipe", () => spawnCountingStdout(head[0]!, head.slice(1))),
      },
    ];
  },
  notes: (ctx) => [`N = ${ctx.quick ? "16 MiB (quick)" : "1 GiB"}; ssh uses OpenSSH's default cipher unless --cipher is given.`],
};
