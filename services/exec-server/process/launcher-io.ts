// The exec server's ends of one tether-launch (launcher/tether-launch.c), however it was
// started: spawned by Node directly, or forked by the zygote (zygote.ts).
import { spawn as spawnProcess, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";

export interface LaunchSpec {
  file: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** slave: the exec server holds the master (PtyPair); the target opens this /dev/pts path. */
  tty?: { rows: number; cols: number; slave?: string };
  stdinOpen: boolean;
  /** A cgroup directory the launcher joins before forking the target (see PidsCgroup). */
  cgroup?: string;
}

export interface LauncherExit {
  /** Unknown (both null) when the launcher is not our child (zygote). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LauncherIo {
  /** The target's stdin (PTY: the relay's input); null when stdin is not open. */
  stdin: Writable | null;
  /** The target's stdout, or the PTY output. */
  stdout: Readable;
  /** The target's stderr, or the launcher's diagnostics in PTY mode. */
  stderr: Readable;
  /** Control lines to the launcher; the status lines come back on `status` (may be the same socket). */
  ctl: Socket;
  status: Socket;
  /** Resolves once the launcher is gone. */
  exit: Promise<LauncherExit>;
  /** Calls back if the launcher could not be started at all (a direct spawn's 'error'). */
  onSpawnError(listener: (err: Error) => void): void;
  /** Asks the launcher to kill the target and leave (before the target's pid is known). */
  stop(): void;
}

/** The launcher's command line for a spec (see the usage in tether-launch.c). */
function launcherArgs(spec: LaunchSpec): string[] {
  const args = spec.tty?.slave !== undefined ? ["--pty-slave", spec.tty.slave] : spec.tty ? ["--pty", String(spec.tty.rows), String(spec.tty.cols)] : [];
  if (spec.cgroup) args.push("--cgroup", spec.cgroup);
  args.push("--", spec.file, ...spec.argv);
  return args;
}

/** Spawns tether-launch from Node: forks this (large) process, so it is the slow path. */
export function spawnLauncher(spec: LaunchSpec, launcher: string): LauncherIo {
  // A PTY always gets a stdin pipe: /dev/null there would read as an immediate ^D.
  const stdin = spec.stdinOpen || (spec.tty !== undefined && spec.tty.slave === undefined) ? "pipe" : "ignore";
  let proc: ChildProcess;
  try {
    proc = spawnProcess(launcher, launcherArgs(spec), { cwd: spec.cwd, env: spec.env, stdio: [stdin, "pipe", "pipe", "pipe", "pipe"] });
  } catch (err) {
    // Synchronous throws: errno failures (E2BIG for a huge argv/env, ...) or invalid
    // arguments such as NUL bytes in argv or env.
    if (errnoCode(err) !== undefined) throw TetherError.from(err, `cannot start ${spec.file}`);
    throw new TetherError(ErrorCode.InvalidArgument, `cannot start ${spec.file}: ${String(err)}`, { cause: err });
  }
  return {
    stdin: proc.stdin,
    stdout: proc.stdout as Readable,
    stderr: proc.stderr as Readable,
    ctl: proc.stdio[3] as Socket,
    status: proc.stdio[4] as Socket,
    exit: new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal }))),
    onSpawnError: (listener) => proc.on("error", listener),
    // SIGTERM is what the launcher treats as "stop": it kills and reaps the target.
    stop: () => proc.kill("SIGTERM"),
  };
}

/** What spawn() would refuse: NUL bytes cannot cross an exec (or the zygote's framing). */
export function checkNoNul(spec: LaunchSpec): void {
  const fields = [spec.file, spec.cwd, spec.cgroup ?? "", spec.tty?.slave ?? "", ...spec.argv, ...Object.entries(spec.env).flat()];
  if (fields.some((f) => f.includes("\0"))) {
    throw new TetherError(ErrorCode.InvalidArgument, `cannot start ${spec.file}: argv, env, cwd and file must not contain NUL bytes`);
  }
}
