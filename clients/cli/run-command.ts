// `tether run`: an ssh-like client. Pipes stdio byte-exact (or drives a PTY with -t),
// forwards signals and window size, and exits with the remote exit code (128+signal
// when the command was killed). Reconnects and resumes are the RunTarget's job.
//
// Start-up time matters here (a `tether run -- true` should cost little more than node
// itself), so this module loads only what every run needs. Where the command runs sits
// behind RunTarget: the lean client (lean-run.ts: node:http2 and hand-written codecs) for
// exec servers on unix://, grpc:// and grpcs://, an Environment (env-run-target.ts) for
// everything else: local, docker, zsh-fork, sandbox flags.
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SandboxPolicySchema } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError, errnoCode } from "../../services/common/tether-error.js";
import type { StdinWriter } from "../environment/environment.js";
import type { ProcessSpecInit as LeanSpec } from "../environment/lean/process-wire.js";
import { TETHER_FAILURE, reportError } from "./cli-error.js";
import { parseChoice, parseEnvVars, parseIntOption, readSecretFile } from "./cli-options.js";
import { hasSandboxFlags, leanEligible } from "./run-argv.js";
import { randomUuid } from "../../services/common/random-uuid.js";
import { stdinIsDevNull } from "./stdin-null.js";

export interface RunFlags {
  env: string;
  tokenFile?: string;
  caFile?: string;
  tty?: boolean;
  cwd?: string;
  envVar: string[];
  timeout?: string;
  sandbox?: string;
  writableRoot: string[];
  deny: string[];
  network?: string;
  shell: string;
  decide: string;
  verbose?: boolean;
}

/** What the run needs to know of how a command ended (ExitStatus, in either client's shape). */
export interface RunExit {
  code?: number;
  signal?: number;
  /** Why the server ended it (timeout, shutdown, session expiry), or empty. */
  reason: string;
}

export type RunEvent = { kind: "output"; stream: number; data: Uint8Array } | { kind: "exited"; status?: RunExit };

/** OutputStream.STDERR of process.proto, by value: the lean bundle carries no generated code (a test pins it). */
export const STDERR_STREAM = 2;

/** The process spec a run sends: the lean codec's fields, and a sandbox on the Environment path. */
export type RunSpec = LeanSpec & { sandbox?: MessageInitShape<typeof SandboxPolicySchema> };

/**
 * Where a run's one command lives: an exec server session, however it is reached. Each
 * call survives connection drops on its own (retried by id, attach resumed by seq).
 */
export interface RunTarget {
  start(processId: string, spec: RunSpec): Promise<void>;
  /** Output in order, then the exit; nothing lost or repeated across reconnects. */
  attach(processId: string): AsyncIterable<RunEvent>;
  write(processId: string, data: Uint8Array, opts?: { eof?: boolean }): Promise<void>;
  /** Stdin as one stream (WriteStream), where the target has it: a keystroke costs no round trip. */
  openStdin?(processId: string): StdinWriter;
  /** A signal by name, to the process group. */
  signal(processId: string, signal: string): Promise<void>;
  resize(processId: string, rows: number, cols: number): Promise<void>;
  /** Ends the session (its processes are killed) and releases the connection. */
  close(): Promise<void>;
}

/** What a shell reports for a command killed by SIGPIPE. */
const SIGPIPE_EXIT = 128 + 13;

export function exitCodeOf(status: Omit<RunExit, "reason"> | undefined): number {
  if (!status) return TETHER_FAILURE;
  if (status.code !== undefined) return status.code;
  if (status.signal !== undefined) return 128 + status.signal;
  return TETHER_FAILURE;
}

async function writeOut(stream: Writable, data: Uint8Array): Promise<void> {
  if (!stream.write(data)) await once(stream, "drain");
}

export async function runCommand(command: string[], flags: RunFlags): Promise<number> {
  if (command.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "no command given: tether run --env ENV -- CMD ARGS…");
  const shell = parseChoice("--shell", flags.shell, ["direct", "zsh-fork"] as const);
  const decide = parseChoice("--decide", flags.decide, ["run", "escalate", "deny"] as const);
  const token = flags.tokenFile ? await readSecretFile(flags.tokenFile, "--token-file") : undefined;
  const tty = flags.tty ?? false;
  const spec: RunSpec = {
    argv: shell === "zsh-fork" ? [command.join(" ")] : command,
    cwd: flags.cwd ?? "",
    env: parseEnvVars(flags.envVar),
    // Nothing to send from /dev/null: the command gets the server's /dev/null, and process.stdin is never made.
    stdinOpen: tty || !stdinIsDevNull(),
    shell: shell === "zsh-fork" ? 2 : 1,
    tty: tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined,
    timeouts: flags.timeout ? { wallMs: parseIntOption("--timeout", flags.timeout, 1, 2 ** 32 - 1) } : undefined,
    // The generated SandboxPolicy costs start-up time: load it only when a flag asks for it.
    sandbox: hasSandboxFlags(flags) ? (await import("./sandbox-flags.js")).sandboxFromFlags(flags) : undefined,
  };
  if (tty && !spec.env?.TERM) spec.env = { ...spec.env, TERM: process.env.TERM ?? "xterm-256color" };

  const open = { token, caFile: flags.caFile, verbose: flags.verbose };
  const target: RunTarget = leanEligible(flags)
    ? await (await import("./lean-run.js")).openLeanRunTarget(flags.env, open)
    : await (await import("./env-run-target.js")).openEnvRunTarget(flags.env, { ...open, decide: shell === "zsh-fork" ? decide : undefined });
  try {
    return await runIn(target, spec, tty);
  } finally {
    await target.close().catch((err: unknown) => reportError(err));
  }
}

/** As a shell (and ssh, docker) exits when the program cannot be run: 127 not found, 126 not executable. */
const EXEC_FAILURE_EXIT: Readonly<Record<string, number>> = { not_found: 127, not_executable: 126 };

async function runIn(target: RunTarget, spec: RunSpec, tty: boolean): Promise<number> {
  const processId = `run-${randomUuid()}`;
  try {
    await target.start(processId, spec);
  } catch (err) {
    const exit = err instanceof TetherError ? EXEC_FAILURE_EXIT[err.details.exec_failure ?? ""] : undefined;
    if (exit === undefined) throw err;
    reportError(err);
    return exit;
  }
  const cleanups: (() => void)[] = [];
  let finished = false;
  const stdinDone = spec.stdinOpen ? pumpStdin(target, processId, tty, cleanups) : Promise.resolve();
  stdinDone.catch((err: unknown) => {
    // The command may exit before reading all of stdin, and stdin is torn down when the
    // run ends: neither is an error of the run.
    if (finished || (err instanceof TetherError && err.code === ErrorCode.FailedPrecondition)) return;
    reportError(err);
  });
  forwardSignals(target, processId, tty, cleanups);
  // A reader that went away (`tether run … | head -1`) ends the run quietly, as SIGPIPE
  // ends a local command in a pipeline; closing the target then kills the remote one.
  let localClosed = false;
  const onLocalError = (err: unknown) => {
    if (errnoCode(err) === "EPIPE") localClosed = true;
    else reportError(err);
  };
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", onLocalError);
    cleanups.push(() => stream.off("error", onLocalError));
  }
  try {
    let status: RunExit | undefined;
    for await (const ev of target.attach(processId)) {
      if (ev.kind === "output") {
        const out = ev.stream === STDERR_STREAM ? process.stderr : process.stdout;
        try {
          await writeOut(out, ev.data);
        } catch (err) {
          if (errnoCode(err) !== "EPIPE") throw err;
          localClosed = true;
        }
        if (localClosed) return SIGPIPE_EXIT;
      } else {
        status = ev.status;
      }
    }
    // The server ended it (timeout, shutdown, session expiry, terminate): say why, as ssh does.
    if (status?.reason) process.stderr.write(`tether: ${status.reason}\n`);
    return exitCodeOf(status);
  } finally {
    finished = true;
    for (const cleanup of cleanups) cleanup();
  }
}

/** Sends local stdin to the process, one chunk at a time (backpressure), then EOF. */
async function pumpStdin(target: RunTarget, processId: string, tty: boolean, cleanups: (() => void)[]): Promise<void> {
  const stdin = process.stdin;
  if (tty && stdin.isTTY) {
    stdin.setRawMode(true);
    // Restores the terminal's saved modes, output processing included.
    cleanups.push(() => stdin.setRawMode(false));
    await rawOutput();
  }
  cleanups.push(() => {
    stdin.pause();
    stdin.destroy();
  });
  const stream = target.openStdin?.(processId);
  if (stream === undefined) {
    for await (const chunk of stdin) await target.write(processId, chunk as Buffer);
    await target.write(processId, new Uint8Array(0), { eof: true });
    return;
  }
  cleanups.push(() => void stream.close());
  // write() returns once the bytes are on their way (it waits only when too much is unacknowledged).
  for await (const chunk of stdin) await stream.write(chunk as Buffer);
  await stream.end();
}

/**
 * libuv's raw mode keeps output processing (OPOST with ONLCR) on, but the remote PTY has
 * already translated newlines: doing it again turns \r\n into \r\r\n and a full-screen
 * app's bare \n (line down, same column) into \r\n. Turn it off, as ssh does.
 */
async function rawOutput(): Promise<void> {
  // Loaded here: child_process costs a run without -t start-up time for nothing.
  const { spawnSync } = await import("node:child_process");
  const result = spawnSync("stty", ["-opost"], { stdio: ["inherit", "ignore", "pipe"] });
  if (result.error || result.status !== 0) {
    // Cosmetic only (an extra \r per line): say so and carry on.
    process.stderr.write(`tether: could not turn off output processing (stty -opost): ${result.error?.message ?? result.stderr.toString().trim()}\n`);
  }
}

/** Without a PTY, local signals go to the remote process group; with one, the size follows the terminal. */
function forwardSignals(target: RunTarget, processId: string, tty: boolean, cleanups: (() => void)[]): void {
  const on = (sig: NodeJS.Signals, handler: () => void) => {
    process.on(sig, handler);
    cleanups.push(() => process.off(sig, handler));
  };
  if (tty) {
    on("SIGWINCH", () => {
      void target.resize(processId, process.stdout.rows || 24, process.stdout.columns || 80).catch(reportError);
    });
  }
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    on(sig, () =>
      void target.signal(processId, sig).catch((err: unknown) => {
        // A command that already exited needs no signal; anything else is worth saying.
        if (!(err instanceof TetherError && err.code === ErrorCode.FailedPrecondition)) reportError(err);
      }),
    );
  }
}
