// A `tether exec-server` process with two doors on one core, for Codex tests: Codex's
// WebSocket (ws://127.0.0.1:PORT) and gRPC on a Unix socket, through which a test looks
// at what the server did (List shows every process Codex started, with its labels).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { openEnvironment } from "../../clients/environment/open-environment.js";
import type { Environment } from "../../clients/environment/environment.js";
import { TETHER_BIN, ensureBuilt } from "./exec-server-process.js";

export interface CodexExecServer extends AsyncDisposable {
  /** ws://127.0.0.1:PORT (or what `listen` asked for). */
  readonly wsUrl: string;
  readonly grpcUrl: string;
  readonly pid: number;
  /** A gRPC environment on the same server (opened on first use, closed with the server). */
  grpc(): Promise<Environment>;
  stderr(): string;
  close(): Promise<void>;
}

export interface CodexExecServerOptions {
  cwd: string;
  args?: string[];
  /** Codex's door; default ws://127.0.0.1:0. */
  listen?: string;
  /** Required on both doors (--token-file). */
  token?: string;
}

export async function startCodexExecServer(options: CodexExecServerOptions = { cwd: process.cwd() }): Promise<CodexExecServer> {
  ensureBuilt();
  const dir = await mkdtemp(path.join(tmpdir(), "tether-codex-es-"));
  const tokenArgs: string[] = [];
  if (options.token !== undefined) {
    await writeFile(path.join(dir, "token"), `${options.token}\n`, { mode: 0o600 });
    tokenArgs.push("--token-file", path.join(dir, "token"));
  }
  const grpcListen = `unix://${dir}/exec.sock`;
  const child: ChildProcess = spawn(
    process.execPath,
    [TETHER_BIN, "exec-server", "--listen", options.listen ?? "ws://127.0.0.1:0", "--listen", grpcListen, "--cwd", options.cwd, ...tokenArgs, ...(options.args ?? [])],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(-16_384)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const urls: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => {
      const m = /^listening (\S+)$/.exec(line);
      if (m) urls.push(m[1]!);
      if (urls.length === 2) resolve();
    });
    void exited.then(() => reject(new Error(`tether exec-server exited before listening:\n${stderr}`)));
  });
  let env: Promise<Environment> | undefined;
  const close = async () => {
    await env?.then((e) => e.close()).catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  return {
    wsUrl: urls[0]!,
    grpcUrl: urls[1]!,
    pid: child.pid!,
    grpc: () => (env ??= openEnvironment(urls[1]!, { token: options.token })),
    stderr: () => stderr,
    close,
    [Symbol.asyncDispose]: close,
  };
}
