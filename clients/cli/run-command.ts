// `tether run`: an ssh-like client. Pipes stdio byte-exact (or drives a PTY with -t),
// forwards signals and window size, and exits with the remote exit code (128+signal
// when the command was killed). Reconnects and resumes are the Environment's job.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { ExitStatus } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError, errnoCode } from "../../services/common/tether-error.js";
import type { Environment, ProcessSpecInit } from "../environment/environment.js";
import { openEnvironment } from "../environment/open-environment.js";
import { TETHER_FAILURE, reportError } from "./cli-error.js";
import { parseChoice, parseEnvVars, parseIntOption, readSecretFile } from "./cli-options.js";
import { sandboxFromFlags } from "./sandbox-flags.js";

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

/** What a shell reports for a command killed by SIGPIPE. */
const SIGPIPE_EXIT = 128 + 13;

export function exitCodeOf(status: ExitStatus | undefined): number {
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
  const spec: ProcessSpecInit = {
    argv: shell === "zsh-fork" ? [command.join(" ")] : command,
    cwd: flags.cwd ?? "",
    env: parseEnvVars(flags.envVar),
    stdinOpen: true,
    shell: shell === "zsh-fork" ? 2 : 1,
    tty: tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined,
    timeouts: flags.timeout ? { wallMs: parseIntOption("--timeout", flags.timeout, 1, 2 ** 32 - 1) } : undefined,
    sandbox: sandboxFromFlags(flags),
  };
  if (tty && !spec.env?.TERM) spec.env = { ...spec.env, TERM: process.env.TERM ?? "xterm-256color" };

  const env = await openEnvironment(flags.env, { token, caFile: flags.caFile, verbose: flags.verbose });
  try {
    if (shell === "zsh-fork") await env.session.handleEscalations(async () => ({ decision: decide, reason: `--decide ${decide}` }));
    return await runIn(env, spec, tty);
  } finally {
    await env.close().catch((err: unknown) => reportError(err));
  }
}

async function runIn(env: Environment, spec: ProcessSpecInit, tty: boolean): Promise<number> {
  const processId = `run-${randomUUID()}`;
  await env.processes.start(processId, spec);
  const cleanups: (() => void)[] = [];
  let finished = false;
  const stdinDone = pumpStdin(env, processId, tty, cleanups);
  stdinDone.catch((err: unknown) => {
    // The command may exit before reading all of stdin, and stdin is torn down when the
    // run ends: neither is an error of the run.
    if (finished || (err instanceof TetherError && err.code === ErrorCode.FailedPrecondition)) return;
    reportError(err);
  });
  forwardSignals(env, processId, tty, cleanups);
  // A reader that went away (`tether run … | head -1`) ends the run quietly, as SIGPIPE
  // ends a local command in a pipeline; closing the environment then kills the remote one.
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
    let status: ExitStatus | undefined;
    for await (const ev of env.processes.attach(processId)) {
      if (ev.event.case === "output") {
        const out = ev.event.value.stream === 2 ? process.stderr : process.stdout;
        try {
          await writeOut(out, ev.event.value.data);
        } catch (err) {
          if (errnoCode(err) !== "EPIPE") throw err;
          localClosed = true;
        }
        if (localClosed) return SIGPIPE_EXIT;
      } else if (ev.event.case === "exited") {
        status = ev.event.value.status;
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
async function pumpStdin(env: Environment, processId: string, tty: boolean, cleanups: (() => void)[]): Promise<void> {
  const stdin = process.stdin;
  if (tty && stdin.isTTY) {
    stdin.setRawMode(true);
    rawOutput();
    // Restores the terminal's saved modes, output processing included.
    cleanups.push(() => stdin.setRawMode(false));
  }
  cleanups.push(() => {
    stdin.pause();
    stdin.destroy();
  });
  for await (const chunk of stdin) {
    await env.processes.write(processId, chunk as Buffer);
  }
  await env.processes.write(processId, new Uint8Array(0), { eof: true });
}

/**
 * libuv's raw mode keeps output processing (OPOST with ONLCR) on, but the remote PTY has
 * already translated newlines: doing it again turns \r\n into \r\r\n and a full-screen
 * app's bare \n (line down, same column) into \r\n. Turn it off, as ssh does.
 */
function rawOutput(): void {
  const result = spawnSync("stty", ["-opost"], { stdio: ["inherit", "ignore", "pipe"] });
  if (result.error || result.status !== 0) {
    // Cosmetic only (an extra \r per line): say so and carry on.
    process.stderr.write(`tether: could not turn off output processing (stty -opost): ${result.error?.message ?? result.stderr.toString().trim()}\n`);
  }
}

/** Without a PTY, local signals go to the remote process group; with one, the size follows the terminal. */
function forwardSignals(env: Environment, processId: string, tty: boolean, cleanups: (() => void)[]): void {
  const on = (sig: NodeJS.Signals, handler: () => void) => {
    process.on(sig, handler);
    cleanups.push(() => process.off(sig, handler));
  };
  if (tty) {
    on("SIGWINCH", () => {
      void env.processes.resize(processId, process.stdout.rows || 24, process.stdout.columns || 80).catch(reportError);
    });
  }
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    on(sig, () => void env.processes.signal(processId, sig).catch(() => undefined));
  }
}
