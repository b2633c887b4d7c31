// Keystroke echo through a PTY: one byte to a raw-mode `cat` and back. tether's PTY against
// `ssh -tt` (multiplexed) and a local PTY (node-pty) as the limit.
import { spawn, type ChildProcess } from "node:child_process";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { timeMs } from "../benchmark.js";
import type { EchoSession } from "../targets.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

const SCRIPT = "stty raw -echo && printf READY && exec cat";
const KEY = 0x78; // "x"

/** Echo over any byte stream pair: waits for READY, then one byte out, one byte back. */
class StreamEcho implements EchoSession {
  private pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private seen = "";
  private ready: Promise<void>;
  private failReady: (e: Error) => void = () => {};

  constructor(
    private readonly write: (b: Buffer) => void,
    onData: (cb: (b: Buffer | string) => void) => void,
    private readonly stop: () => Promise<void>,
  ) {
    let markReady!: () => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      this.failReady = reject;
    });
    let isReady = false;
    onData((chunk) => {
      const text = typeof chunk === "string" ? chunk : chunk.toString("latin1");
      if (!isReady) {
        this.seen = (this.seen + text).slice(-64);
        if (this.seen.includes("READY")) {
          isReady = true;
          markReady();
        }
        return;
      }
      const p = this.pending;
      this.pending = undefined;
      p?.resolve();
    });
  }

  waitReady(): Promise<void> {
    return this.ready;
  }

  roundTrip(byte: number): Promise<void> {
    if (this.pending) return Promise.reject(new TetherError(ErrorCode.FailedPrecondition, "one keystroke at a time"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.write(Buffer.of(byte));
    });
  }

  /** The other side went away: a waiting round trip fails instead of hanging. */
  fail(why: string): void {
    const err = new TetherError(ErrorCode.Unavailable, why);
    this.failReady(err);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  close(): Promise<void> {
    return this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function sshEcho(ctx: BenchContext): Promise<StreamEcho> {
  const child: ChildProcess = spawn("ssh", ctx.peer.sshArgs([SCRIPT], { tty: true }), { stdio: ["pipe", "pipe", "ignore"] });
  const echo = new StreamEcho(
    (b) => child.stdin!.write(b),
    (cb) => child.stdout!.on("data", cb),
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  );
  child.once("exit", (code) => echo.fail(`ssh -tt exited with ${code}`));
  await echo.waitReady();
  return echo;
}

async function localPtyEcho(): Promise<StreamEcho> {
  // node-pty is native: load it only when this subject runs.
  const pty = await import("node-pty");
  const term = pty.spawn("/bin/sh", ["-c", SCRIPT], { cols: 80, rows: 24 });
  const echo = new StreamEcho(
    (b) => term.write(b.toString("latin1")),
    (cb) => term.onData(cb),
    async () => {
      const exited = new Promise((r) => term.onExit(r));
      term.kill();
      await exited;
    },
  );
  term.onExit(({ exitCode }) => echo.fail(`local pty child exited with ${exitCode}`));
  await echo.waitReady();
  return echo;
}

function echoSubject(name: string, role: Subject["role"], open: () => Promise<EchoSession> | undefined): Subject {
  let session: EchoSession | undefined;
  return {
    name,
    role,
    async setup() {
      const opening = open();
      if (!opening) return "no local tether target";
      session = await opening;
      return undefined;
    },
    sample: () => timeMs(() => session!.roundTrip(KEY)),
    async teardown() {
      await session?.close();
    },
  };
}

export const ptyEcho: Benchmark = {
  name: "pty-echo",
  title: "Keystroke echo through a PTY (raw `cat`)",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 5, measured: 20 } : { warmup: 100, measured: 2000 }),
  subjects: (ctx) => [
    echoSubject("tether PTY", "tether", () => ctx.tether.local?.openEcho()),
    echoSubject("ssh -tt (multiplexed)", "peer", () => sshEcho(ctx)),
    echoSubject("local PTY (node-pty)", "limit", () => localPtyEcho()),
  ],
};
