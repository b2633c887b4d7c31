// Runs the real `tether` command (bin/tether.js over the bundled dist/) as a user would, with
// its own environment, working directory and stdin, and collects what it printed.
import { type ChildProcess, spawn } from "node:child_process";
import { TETHER_BIN, ensureBuilt } from "./exec-server-process.js";

export interface TetherResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface TetherRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long, so a hang fails the test by name; default 60 s. */
  timeoutMs?: number;
}

/** Output kept per stream: enough for any assertion, bounded against a runaway child. */
const MAX_OUTPUT = 8 << 20;

export function runTether(args: string[], options: TetherRunOptions = {}): Promise<TetherResult> & { child: ChildProcess } {
  ensureBuilt();
  const child = spawn(process.execPath, [TETHER_BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    if (stdout.length < MAX_OUTPUT) stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < MAX_OUTPUT) stderr += s;
  });
  child.stdin.on("error", () => {
    // EPIPE when tether exits before reading its input: the test checks the outcome.
  });
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise<TetherResult>((resolve) =>
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return Object.assign(done, { child });
}

/**
 * The environment of a `tether` agent command against a scripted model server: its own
 * TETHER_HOME, the server's URL and a key, and none of the caller's TETHER_PROFILE/TETHER_MODEL
 * (a developer's own settings must not change what the test sees). `extra` goes on top.
 */
export function agentCliEnv(home: string, modelUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: modelUrl, OPENAI_API_KEY: "sk-test", ...extra };
  delete env.TETHER_PROFILE;
  delete env.TETHER_MODEL;
  return env;
}
