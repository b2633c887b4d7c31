// Many processes on one exec server (issue 11): N long-running processes that print a line
// a second, C clients (each on its own connection) holding live Attach streams to all of
// them, and meanwhile every client re-attaching to processes round-robin. Measured: Attach
// call → first output event (in waves of C concurrent calls, and one call at a time), and
// Start → first output of one more process under that load.
// The limit is a plain Node parent holding the same N children and reading their pipes; the
// peer is ssh multiplexed (start → first output: ssh has no attach to a running command).
// The server's peak RSS, its fds and how many processes List shows running go to the notes.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { OverflowPolicy } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { ExecServerProcess } from "../exec-server-process.js";
import { percentile } from "../stats.js";
import { LoadClient, fdCount, findPid, rssMiB } from "./concurrency-load.js";

const FULL = { processes: 1000, clients: 64, waves: 8 };
const QUICK = { processes: 100, clients: 8, waves: 3 };
/**
 * One line a second without a fork per line: bash's `read -t` on the stdin the server keeps
 * open is the sleep (`sh` loops forking `sleep` cost a fork+exec per line). A line every
 * 100 ms from 2000 processes (tether's and the Node parent's) drove this 2-core machine to a
 * load average of 800. When stdin closes (the parent or server went away) read answers at
 * once and the loop ends instead of spinning.
 */
export const PRODUCER = ["bash", "-c", 'i=0; while :; do echo "line $i"; i=$((i+1)); read -t 1; [ $? -gt 128 ] || exit 0; done'];
const TARGET = { rssMiB: 300, p99AttachMs: 10 };

interface Findings {
  size: typeof FULL;
  attachMs: number[];
  minRunning?: number;
  /** Server RSS once the N processes were started and attached, and the most seen later. */
  setupRssMiB: number;
  serverRssMiB: number;
  serverFds: number;
  nodeRssMiB: number;
  /** When setup finished, and the last sample (performance.now()). */
  setupAt: number;
  lastAt: number;
}
const findings = new WeakMap<BenchContext, Findings>();

/** The plain-Node limit: a parent holding N producer children, spawning one more on request. */
const NODE_PARENT = `
const { spawn } = require("node:child_process");
const [n, script] = [Number(process.argv[1]), process.argv[2]];
let ready = 0;
const kids = [];
for (let i = 0; i < n; i++) {
  const k = spawn("bash", ["-c", script], { stdio: ["pipe", "pipe", "ignore"] });
  k.stdout.once("data", () => { if (++ready === n) console.log("ready"); });
  k.stdout.on("data", () => {});
  kids.push(k);
}
require("node:readline").createInterface({ input: process.stdin }).on("line", () => {
  const t0 = performance.now();
  const c = spawn("echo", ["x"], { stdio: ["ignore", "pipe", "ignore"] });
  c.stdout.once("data", () => console.log(String(performance.now() - t0)));
  c.stdout.resume();
}).on("close", () => { for (const k of kids) k.kill("SIGKILL"); process.exit(0); });
`;

class NodeParent {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Interface,
  ) {}

  static async start(n: number): Promise<NodeParent> {
    const child = spawn(process.execPath, ["-e", NODE_PARENT, String(n), PRODUCER[2]!], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout });
    const parent = new NodeParent(child, lines);
    const [first] = (await Promise.race([once(lines, "line"), once(child, "exit").then(() => ["exited"])])) as [string];
    if (first !== "ready") throw new TetherError(ErrorCode.Unavailable, `node parent said ${first} instead of ready`);
    return parent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Spawn → first stdout byte of `echo x`, timed inside the parent. */
  async spawnFirstOutput(): Promise<number> {
    const answer = once(this.lines, "line");
    this.child.stdin!.write("spawn\n");
    const [ms] = (await answer) as [string];
    return Number(ms);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.stdin!.end();
    await exited;
  }
}

/** ssh's start → first output byte; the process is reaped after the clock stops. */
async function sshFirstOutput(ctx: BenchContext): Promise<number> {
  const t0 = performance.now();
  const child = ctx.peer.spawn(["echo", "x"]);
  child.stdin!.end();
  const exited = once(child, "exit");
  const [first] = (await Promise.race([once(child.stdout!, "data"), exited])) as [unknown];
  const ms = performance.now() - t0;
  child.stdout!.resume();
  child.stderr!.resume();
  const [code] = (await exited) as [number | null];
  if (!Buffer.isBuffer(first) || code !== 0) throw new TetherError(ErrorCode.Internal, `ssh echo exited ${code} without output`);
  return ms;
}

export const concurrency: Benchmark = {
  name: "concurrency",
  title: "Many processes: attach and start latency with N processes held and C clients attached",
  unit: "ms",
  better: "lower",
  rounds: (quick) => {
    const s = quick ? QUICK : FULL;
    // The attach row samples one attach per round, made in waves of C concurrent ones.
    return { warmup: s.clients, measured: s.clients * s.waves };
  },
  subjects(ctx: BenchContext): Subject[] {
    const size = ctx.quick ? QUICK : FULL;
    const found: Findings = { size, attachMs: [], setupRssMiB: 0, serverRssMiB: 0, serverFds: 0, nodeRssMiB: 0, setupAt: 0, lastAt: 0 };
    findings.set(ctx, found);
    const bin = resolve(process.env.TETHER_BIN ?? "bin/tether.js");
    let server: ExecServerProcess | undefined;
    let serverPid = 0;
    let load: LoadClient | undefined;
    // The Node parent spawns its N children before tether's clients connect: that spawn storm
    // starved every process here for seconds, and the exec server's keepalive (ping, 10 s
    // timeout) then dropped the clients' connections mid-call.
    let nodeStarting: Promise<NodeParent> | undefined;
    const startNode = () => (nodeStarting ??= NodeParent.start(size.processes));
    let node: NodeParent | undefined;
    let wave = 0;
    let queued: number[] = [];
    let extra = 0;
    let single = 0;
    const watch = (fds = false) => {
      found.serverRssMiB = Math.max(found.serverRssMiB, rssMiB(serverPid));
      // Counting fds reads /proc/PID/fd, ~4000 entries here: a synchronous readdir of several
      // ms in this process, whose event loop times the calls (7 s of its CPU over a run when it
      // was done every sample). So only with List, once per wave or per C samples.
      if (fds) found.serverFds = Math.max(found.serverFds, fdCount(serverPid));
      found.lastAt = performance.now();
    };
    const observe = async () => {
      const running = await load!.running();
      found.minRunning = Math.min(found.minRunning ?? running, running);
      if (running < size.processes) throw new TetherError(ErrorCode.Internal, `List shows ${running} of ${size.processes} processes running`);
      watch(true);
    };
    return [
      {
        name: `tether Attach → first output (${size.processes} held, ${size.clients} clients)`,
        role: "tether",
        setup: async () => {
          if (!existsSync(bin)) return `${bin} not found (make build)`;
          await startNode().catch(() => undefined);
          const dir = await mkdtemp(join(ctx.tmp, "concurrency-"));
          server = await ExecServerProcess.start(bin, dir);
          serverPid = findPid(join(dir, "exec-server.sock"));
          load = await LoadClient.open(server.url, size.clients);
          await load.startAll(size.processes, { argv: PRODUCER, stdinOpen: true, output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: 64n << 10n } });
          load.attachAllLive();
          await observe();
          found.setupRssMiB = found.serverRssMiB;
          found.setupAt = performance.now();
          return undefined;
        },
        sample: async () => {
          if (queued.length === 0) {
            load!.throwIfFailed();
            queued = await load!.attachWave(wave++);
            // The first wave is the warm-up rounds; the notes' p99 is over the measured ones.
            if (wave > 1) found.attachMs.push(...queued);
            await observe();
          }
          return queued.shift()!;
        },
        teardown: async () => {
          load?.close();
          await server?.close();
        },
      },
      {
        name: "tether Attach → first output, one call at a time (same load)",
        role: "tether",
        setup: async () => (server ? undefined : "no tether server"),
        sample: () => {
          const k = single++;
          watch();
          return load!.attachFirstOutput(load!.clients[k % size.clients]!, load!.ids[(k * 7) % size.processes]!);
        },
      },
      {
        name: "tether Start → first output (one more process, same load)",
        role: "tether",
        setup: async () => (server ? undefined : "no tether server"),
        sample: async () => {
          // List here too, so the count and RSS are watched even if the attach row failed.
          if (extra % size.clients === 0) await observe();
          else watch();
          return load!.startFirstOutput(`extra-${extra++}`, { argv: ["echo", "x"] });
        },
      },
      {
        name: `node parent holding ${size.processes} children: spawn → first output`,
        role: "limit",
        setup: async () => {
          node = await startNode();
          return undefined;
        },
        sample: async () => {
          found.nodeRssMiB = Math.max(found.nodeRssMiB, rssMiB(node!.pid));
          return node!.spawnFirstOutput();
        },
        teardown: async () => (node ?? (await nodeStarting?.catch(() => undefined)))?.close(),
      },
      {
        name: "ssh multiplexed: start `echo x` → first output",
        role: "peer",
        sample: () => sshFirstOutput(ctx),
      },
    ];
  },
  notes: (ctx) => {
    const f = findings.get(ctx);
    if (!f) return [];
    const { processes: n, clients: c } = f.size;
    const p99 = percentile([...f.attachMs].sort((a, b) => a - b), 99);
    const mark = (ok: boolean) => (ok ? "met" : "MISSED");
    return [
      `${n} processes: bash printing a line a second (\`read -t 1\` on its open stdin as the sleep, no fork per line); DROP_OLDEST, 64 KiB retained each. ${c} clients, each its own grpc-js channel (local subchannel pool), together hold one live Attach stream on every process and re-attach round-robin in waves of ${c} concurrent Attach calls (from seq 0: the first output event is retained history).`,
      `tether exec server: List showed at least ${f.minRunning ?? "–"} of ${n} running; RSS ${f.setupRssMiB.toFixed(0)} MiB once all were started and attached, peak ${f.serverRssMiB.toFixed(0)} MiB over the next ${((f.lastAt - f.setupAt) / 1000).toFixed(0)} s (the Start row leaves one exited process per sample, and the server keeps up to 1000 exited); peak fds ${f.serverFds}. Node parent holding the same ${n} children: peak RSS ${f.nodeRssMiB.toFixed(0)} MiB.`,
      `Targets: all ${n} held ${mark((f.minRunning ?? 0) >= n)}; RSS < ${TARGET.rssMiB} MiB ${mark(f.serverRssMiB < TARGET.rssMiB)}; p99 Attach → first output ${p99.toFixed(1)} ms < ${TARGET.p99AttachMs} ms ${mark(p99 < TARGET.p99AttachMs)}${f.size === QUICK ? " (quick sizes: not the target scale)" : ""}.`,
      "ssh has no attach to a running command (that takes tmux or screen), so its row is start → first output over the ControlMaster, with sshd not holding the N processes; holding them over ssh would take N sessions (MaxSessions 10 per connection).",
    ];
  },
};
