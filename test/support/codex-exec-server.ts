// A `tether exec-server` process with two doors on one core, for Codex tests: Codex's
// WebSocket (ws://127.0.0.1:PORT) and gRPC on a Unix socket, through which a test looks
// at what the server did (List shows every process Codex started, with its labels).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openEnvironment } from "../../clients/environment/open-environment.js";
import type { Environment } from "../../clients/environment/environment.js";
import { startTetherProcess } from "./exec-server-process.js";

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
  const dir = await mkdtemp(path.join(tmpdir(), "tether-codex-es-"));
  const tokenArgs: string[] = [];
  if (options.token !== undefined) {
    await writeFile(path.join(dir, "token"), `${options.token}\n`, { mode: 0o600 });
    tokenArgs.push("--token-file", path.join(dir, "token"));
  }
  const removeDir = () => rm(dir, { recursive: true, force: true });
  const server = await startTetherProcess({
    args: ["exec-server", "--listen", options.listen ?? "ws://127.0.0.1:0", "--listen", `unix://${dir}/exec.sock`, "--cwd", options.cwd, ...tokenArgs, ...(options.args ?? [])],
    listeners: 2,
    afterExit: removeDir,
  }).catch(async (err: unknown) => {
    await removeDir();
    throw err;
  });
  const urls = server.urls;
  let env: Promise<Environment> | undefined;
  const close = async () => {
    await env?.then((e) => e.close()).catch(() => undefined);
    await server.close();
  };
  return {
    wsUrl: urls[0]!,
    grpcUrl: urls[1]!,
    pid: server.pid,
    grpc: () => (env ??= openEnvironment(urls[1]!, { token: options.token })),
    stderr: server.stderr,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The same two doors from a `tether exec-server` inside a Docker container. Nothing depends
 * on container networking (--network none): both doors are Unix sockets in a bind-mounted
 * directory, and Codex (which speaks only TCP) reaches the WebSocket one through a loopback
 * TCP bridge on the host. `share` is bind-mounted at the same path, so Codex's cwd and the
 * paths of apply_patch mean the same file on both sides.
 */
export async function startCodexDockerServer(options: { image: string; share: string; cwd: string; token?: string }): Promise<CodexExecServer> {
  const { default: Dockerode } = await import("dockerode");
  const { SANDBOX_HOST_CONFIG } = await import("../../clients/environment/docker-provider.js");
  const { waitForSocket } = await import("../../clients/environment/socket-ready.js");
  const { logTail } = await import("../../clients/environment/container-log.js");
  const { startTcpProxy } = await import("./tcp-proxy.js");
  const docker = new Dockerode();
  const dir = await mkdtemp(path.join(tmpdir(), "tether-codex-docker-"));
  const tokenArgs: string[] = [];
  if (options.token !== undefined) {
    await writeFile(path.join(dir, "token"), `${options.token}\n`, { mode: 0o600 });
    tokenArgs.push("--token-file", "/run/tether/token");
  }
  const container = await docker.createContainer({
    Image: options.image,
    Cmd: ["tether", "exec-server", "--listen", "ws+unix:///run/tether/codex.sock", "--listen", "unix:///run/tether/exec.sock", "--cwd", options.cwd, ...tokenArgs],
    Labels: { "tether.test": "codex-docker" },
    HostConfig: {
      Binds: [`${dir}:/run/tether`, `${options.share}:${options.share}`],
      NetworkMode: "none",
      Init: true,
      CapAdd: [...SANDBOX_HOST_CONFIG.CapAdd],
      SecurityOpt: [...SANDBOX_HOST_CONFIG.SecurityOpt],
    },
  });
  let log = "";
  let env: Promise<Environment> | undefined;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
  const close = async () => {
    await env?.then((e) => e.close()).catch(() => undefined);
    await proxy?.close();
    await container.remove({ force: true }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await container.start();
    await waitForSocket(path.join(dir, "exec.sock"), 30_000);
    await waitForSocket(path.join(dir, "codex.sock"), 30_000);
    proxy = await startTcpProxy({ path: path.join(dir, "codex.sock") });
  } catch (err) {
    log = await logTail(container).catch(() => "");
    await close();
    throw new Error(`the exec server container did not come up: ${String(err)}\n${log}`);
  }
  const grpcUrl = `unix://${dir}/exec.sock`;
  return {
    wsUrl: `ws://127.0.0.1:${proxy.port}`,
    grpcUrl,
    pid: 0,
    grpc: () => (env ??= openEnvironment(grpcUrl, { token: options.token })),
    stderr: () => log,
    close,
    [Symbol.asyncDispose]: close,
  };
}
