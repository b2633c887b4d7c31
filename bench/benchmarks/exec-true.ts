// Latency of running `true` and learning its exit: tether's exec server against ssh over a
// multiplexed connection (the fair comparison), a fresh ssh connection, and a local spawn.
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { spawnToExit, timeMs } from "../benchmark.js";
import { CodexPeerSlot } from "../codex-stdio-peer.js";

export const execTrue: Benchmark = {
  name: "exec-true",
  title: "Run `true` and wait for its exit",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 1, measured: 5 } : { warmup: 10, measured: 200 }),
  subjects(ctx: BenchContext): Subject[] {
    const tether = ctx.tether.local;
    const inProcess = ctx.tether.inProcess;
    const tls = ctx.tether.tls;
    const codex = new CodexPeerSlot();
    return [
      {
        name: "tether in-process",
        role: "tether",
        setup: async () => (inProcess ? undefined : "no in-process target"),
        sample: () => timeMs(() => inProcess!.runTrue()),
      },
      {
        name: "tether Environment (grpc-js, Unix socket)",
        role: "tether",
        setup: async () => (tether ? undefined : "no local tether target"),
        sample: () => timeMs(() => tether!.runTrue()),
      },
      {
        name: "tether Environment (grpc-js, TCP+TLS)",
        role: "tether",
        setup: async () => (tls ? undefined : "no TLS target"),
        sample: () => timeMs(() => tls!.runTrue()),
      },
      {
        name: "tether lean client (CLI run path)",
        role: "tether",
        setup: async () => (ctx.tether.lean ? undefined : "no lean target"),
        sample: () => timeMs(() => ctx.tether.lean!.runTrue()),
      },
      { name: "ssh multiplexed `true`", role: "peer", sample: () => timeMs(() => ctx.peer.run(["true"])) },
      {
        name: "codex exec-server (stdio) process/start → process/exited",
        role: "peer",
        setup: () => codex.open(ctx.tmp),
        sample: () => timeMs(() => codex.peer.runTrue()),
        teardown: () => codex.close(),
      },
      {
        name: "ssh fresh connection `true`",
        role: "peer",
        sample: () => timeMs(() => ctx.peer.run(["true"], { fresh: true })),
      },
      { name: "local spawn /bin/true", role: "limit", sample: () => timeMs(() => spawnToExit("/bin/true", [])) },
    ];
  },
  notes: () => [
    "ssh runs the command through the login shell; the private sshd sets SHLVL=1 so bash skips ~/.bashrc.",
  ],
};
