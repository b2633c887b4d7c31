// Keystroke echo through a PTY: one byte to a raw-mode `cat` and back. tether's PTY against
// `ssh -tt` (multiplexed), Codex's exec-server PTY over stdio, and a local PTY (node-pty) as
// the limit.
import { spawn, type ChildProcess } from "node:child_process";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { timeMs } from "../benchmark.js";
import { CodexStdioPeer } from "../codex-stdio-peer.js";
import type { EchoSession } from "../targets.js";
import { ECHO_SCRIPT, StreamEcho } from "../stream-echo.js";

const KEY = 0x78; // "x"

async function sshEcho(ctx: BenchContext): Promise<StreamEcho> {
  const child: ChildProcess = spawn("ssh", ctx.peer.sshArgs([ECHO_SCRIPT], { tty: true }), { stdio: ["pipe", "pipe", "ignore"] });
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
  child.stdin!.on("error", (err) => echo.fail(`writing to ssh -tt: ${err.message}`));
  await echo.waitReady();
  return echo;
}

/** Echo through a whole client process on pipes, as ssh -tt is run here: ssh itself, or `tether run -t`. */
async function processEcho(what: string, argv: string[]): Promise<StreamEcho> {
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "ignore"] });
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
  child.once("exit", (code) => echo.fail(`${what} exited with ${code}`));
  child.stdin!.on("error", (err) => echo.fail(`writing to ${what}: ${err.message}`));
  await echo.waitReady();
  return echo;
}

async function localPtyEcho(): Promise<StreamEcho> {
  // node-pty is native: load it only when this subject runs.
  const pty = await import("node-pty");
  const term = pty.spawn("/bin/sh", ["-c", ECHO_SCRIPT], { cols: 80, rows: 24 });
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

/** Codex's exec-server (stdio) with one PTY `cat`; the reason instead when Codex is not installed. */
async function codexEcho(ctx: BenchContext): Promise<EchoSession | string> {
  const peer = await CodexStdioPeer.start(ctx.tmp);
  if (typeof peer === "string") return peer;
  try {
    const echo = await peer.openEcho();
    const close = async () => {
      await echo.close();
      await peer.close();
    };
    return { roundTrip: (b) => echo.roundTrip(b), close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await peer.close();
    throw err;
  }
}

function echoSubject(name: string, role: Subject["role"], open: () => Promise<EchoSession | string> | undefined): Subject {
  let session: EchoSession | undefined;
  return {
    name,
    role,
    async setup() {
      const opened = await open();
      if (opened === undefined) return "no local tether target";
      if (typeof opened === "string") return opened;
      session = opened;
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
    echoSubject("tether run -t (CLI, lean client)", "tether", () => {
      const cli = ctx.tether.cli;
      if (!cli) return undefined;
      // runTrueArgv is [node, bin, "run", "--env", url, "--", "true"].
      const [node, bin, run, envFlag, url] = cli.runTrueArgv;
      return processEcho("tether run -t", [node!, bin!, run!, "-t", envFlag!, url!, "--", "/bin/sh", "-c", ECHO_SCRIPT]);
    }),
    echoSubject("ssh -tt (multiplexed)", "peer", () => sshEcho(ctx)),
    echoSubject("codex exec-server (stdio) PTY process/write → process/output", "peer", () => codexEcho(ctx)),
    echoSubject("local PTY (node-pty)", "limit", () => localPtyEcho()),
  ],
};
