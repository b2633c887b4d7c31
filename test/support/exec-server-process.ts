// Runs `tether exec-server` as a real, separate process (the bundled CLI in dist/,
// rebuilt once when missing or older than the sources) and tells the test where it
// listens: the first stdout line is `listening <url>`.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/**
 * Scratch space a sandboxed command can still see: the checkout's .tether-run (ignored by git),
 * unless the checkout is under /tmp, which tether's sandbox hides whole (and where Codex refuses
 * a CODEX_HOME); then a per-user cache directory.
 */
export const VISIBLE_RUN_DIR = REPO_ROOT.startsWith("/tmp/") ? path.join(homedir(), ".cache", "tether-test-runs") : path.join(REPO_ROOT, ".tether-run");
export const TETHER_BIN = path.join(REPO_ROOT, "bin", "tether.js");

export interface ExecServerProcess extends TetherProcess {
  readonly url: string;
}

export interface ExecServerProcessOptions {
  /** Default: a fresh socket in a temp dir. `tcp://127.0.0.1:0` picks a port. */
  listen?: string;
  /** More `tether exec-server` flags, e.g. ["--token-file", f]. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds dist/ (and the native launcher) unless it is newer than every source file.
 * Test workers may race: flock serialises them and the check runs again under the lock,
 * so a fresh bundle is never rebuilt under a running server.
 */
export function ensureBuilt(): void {
  // Every helper, whenever a source is newer (build-native.sh is a no-op otherwise): a launcher
  // or zygote left stale by a pull failed every Start after the first with EINVAL.
  execFileSync("flock", ["/tmp/tether-native-build.lock", "scripts/build-native.sh"], { cwd: REPO_ROOT, stdio: "inherit" });
  const script =
    '[ -f dist/tether.js ] && [ -z "$(find clients services gen scripts/build.mjs -newer dist/tether.js \\( -name "*.ts" -o -name "*.tsx" \\) ! -name "*.test.ts" -print -quit)" ] || node scripts/build.mjs';
  execFileSync("flock", ["/tmp/tether-dist-build.lock", "sh", "-c", script], { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
}

export async function startExecServerProcess(options: ExecServerProcessOptions = {}): Promise<ExecServerProcess> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-es-"));
  const listen = options.listen ?? `unix://${dir}/exec.sock`;
  const removeDir = () => rm(dir, { recursive: true, force: true });
  const server = await startTetherProcess({
    args: ["exec-server", "--listen", listen, "--cwd", dir, ...(options.args ?? [])],
    env: options.env,
    afterExit: removeDir,
  }).catch(async (err: unknown) => {
    await removeDir();
    throw err;
  });
  return { ...server, url: server.urls[0]! };
}

export interface TetherProcess extends AsyncDisposable {
  /** The `listening <url>` lines, in order. */
  readonly urls: string[];
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The tail of stderr (for failure messages). */
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; then `afterExit`. */
  close(): Promise<void>;
}

/**
 * The built CLI (`bin/tether.js ARGS`) as a child process, resolved once it printed `listeners`
 * lines of `listening <url>` (a server with two `--listen` doors prints two). If it exits or
 * prints anything else first, it is killed and the promise rejects with its stderr.
 */
export async function startTetherProcess(options: { args: string[]; env?: NodeJS.ProcessEnv; listeners?: number; afterExit?: () => Promise<void> }): Promise<TetherProcess> {
  ensureBuilt();
  const name = options.args[0] ?? "tether";
  const child = spawn(process.execPath, [TETHER_BIN, ...options.args], { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    // Bounded: only the tail matters for a failure message.
    stderr = (stderr + s).slice(-16_384);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  try {
    const urls = await listeningUrls(child, name, options.listeners ?? 1, exited, () => stderr);
    const close = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await options.afterExit?.();
    };
    return {
      urls,
      pid: child.pid!,
      exited,
      stderr: () => stderr,
      kill: (signal) => void child.kill(signal),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
}

function listeningUrls(child: ChildProcess, name: string, count: number, exited: Promise<unknown>, stderr: () => string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const urls: string[] = [];
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (urls.length === count) return;
      const m = /^listening (\S+)$/.exec(line);
      if (!m) {
        reject(new TetherError(ErrorCode.Internal, `${name} printed ${JSON.stringify(line)} instead of "listening <url>"`));
        return;
      }
      urls.push(m[1]!);
      if (urls.length === count) resolve(urls);
    });
    void exited.then(() =>
      reject(new TetherError(ErrorCode.Unavailable, `${name} exited before listening: ${stderr().trim() || "(no stderr)"}`)),
    );
  });
}
