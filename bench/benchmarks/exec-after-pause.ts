// The agent's rhythm: it runs a command, waits for the model, runs the next. Each sample
// sleeps 50 ms (not timed) and then times `true` from Start to its exit being seen. Back to
// back figures hide costs that only appear after a quiet moment: joining a fresh pids
// cgroup waits for an RCU grace period once the kernel's cgroup migration has gone idle.
import { mkdtemp } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { spawnToExit, timeMs } from "../benchmark.js";
import { CodexPeerSlot } from "../codex-stdio-peer.js";
import { ExecServerProcess } from "../exec-server-process.js";
import { LeanTarget } from "../lean-target.js";

const pauseMs = 50;

function paused(name: string, role: Subject["role"], run: () => Promise<unknown>, setup?: () => Promise<string | undefined>, teardown?: () => Promise<void>): Subject {
  return {
    name,
    role,
    setup,
    teardown,
    sample: async () => {
      await sleep(pauseMs);
      return await timeMs(run);
    },
  };
}

export const execAfterPause: Benchmark = {
  name: "exec-after-pause",
  title: `Run \`true\` after a ${pauseMs} ms pause (Start → exit seen)`,
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 1, measured: 4 } : { warmup: 5, measured: 150 }),
  subjects(ctx: BenchContext): Subject[] {
    const lean = ctx.tether.lean;
    const env = ctx.tether.local;
    // The same exec server without the per-process pids cgroup: what the cgroup costs.
    let noPids: { server: ExecServerProcess; lean: LeanTarget } | undefined;
    const codex = new CodexPeerSlot();
    return [
      paused("tether lean client, Unix socket, pids limit on", "tether", () => lean!.runTrue(), async () => (lean ? undefined : "no lean target")),
      paused("tether Environment (grpc-js), Unix socket, pids limit on", "tether", () => env!.runTrue(), async () => (env ? undefined : "no local tether target")),
      paused(
        "tether lean client, Unix socket, --max-pids 0",
        "tether",
        () => noPids!.lean.runTrue(),
        async () => {
          if (!ctx.tether.cli) return "no tether build";
          const server = await ExecServerProcess.start(resolve(process.env.TETHER_BIN ?? "bin/tether.js"), await mkdtemp(join(ctx.tmp, "no-pids-")), { args: ["--max-pids", "0"] });
          noPids = { server, lean: new LeanTarget(server.url) };
          return undefined;
        },
        async () => {
          await noPids?.lean.close();
          await noPids?.server.close();
        },
      ),
      paused("ssh multiplexed `true`", "peer", () => ctx.peer.run(["true"])),
      paused(
        "codex exec-server (stdio) process/start → process/exited",
        "peer",
        () => codex.peer.runTrue(),
        () => codex.open(ctx.tmp),
        () => codex.close(),
      ),
      paused("Node spawn /bin/true", "limit", () => spawnToExit("/bin/true", [])),
    ];
  },
  notes: () => [
    `Each sample sleeps ${pauseMs} ms first (not timed): an agent runs a command, waits for its model, runs the next.`,
    "The pids limit is the exec server's default per-process pids cgroup (fork-bomb bound); --max-pids 0 turns it off.",
  ],
};
