// The backends the conformance suite runs against, each a real way of reaching an exec
// server: in-process, a separate process on a Unix socket (over grpc-js, and over the lean
// node:http2 client that `tether run` uses), a server inside a second
// network namespace reached over TLS ("remote VM"), and a Docker container.
import { type ChildProcess, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { startDockerEnvironment } from "../../clients/environment/docker-provider.js";
import type { Environment } from "../../clients/environment/environment.js";
import { GrpcEnvironment, type GrpcEnvironmentOptions } from "../../clients/environment/grpc-environment.js";
import { inProcessClients } from "../../clients/environment/local-environment.js";
import { ExecCore } from "../../services/exec-server/exec-core.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { ensureDocker, dockerImageExists } from "./dockerd.js";
import { TETHER_BIN, ensureBuilt, startExecServerProcess } from "./exec-server-process.js";
import { type NetnsHost, createNetnsHost, netnsAvailable } from "./netns-host.js";
import { type TestCa, createTestCa } from "./test-ca.js";

export type Availability = { ok: true } | { ok: false; reason: string };

/** What a test may ask of any backend; each passes on what it can. */
export type BackendOptions = Pick<GrpcEnvironmentOptions, "defaultSandbox" | "reconnect" | "keepaliveMs" | "decisionTimeoutMs">;

export interface BackendInstance {
  env: Environment;
  /**
   * Another session on the same exec server (same machine, same files), e.g. with a
   * default sandbox. Closed by cleanup(). Throws when the backend cannot do it.
   */
  openSession(options: BackendOptions): Promise<Environment>;
  cleanup(): Promise<void>;
}

/**
 * One instance: `env`, more sessions through `open`; cleanup closes those, then `env`, then
 * calls `release` (what serves them: a server, a core).
 */
function instance(env: Environment, open: (options: BackendOptions) => Promise<Environment>, release: () => Promise<unknown> = async () => undefined): BackendInstance {
  const opened: Environment[] = [];
  return {
    env,
    openSession: async (options) => {
      const session = await open(options);
      opened.push(session);
      return session;
    },
    cleanup: async () => {
      for (const session of opened.splice(0)) await session.close();
      await env.close();
      await release();
    },
  };
}

export interface Backend {
  name: string;
  available(): Promise<Availability>;
  create(options?: BackendOptions): Promise<BackendInstance>;
}

/** TETHER_DOCKER_IMAGE picks another image (e.g. one built from a work-in-progress tree). */
export const DOCKER_IMAGE = process.env.TETHER_DOCKER_IMAGE ?? "tether-exec-server:latest";
/** A scratch working directory for processes of the in-process backend. */
async function scratchDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-conf-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

const localBackend: Backend = {
  name: "local",
  available: async () => ({ ok: true }),
  async create(options = {}) {
    const scratch = await scratchDir();
    // What LocalEnvironment.create does, with the core kept so more sessions can join it.
    // (Its options intersect ExecCoreOptions.defaultSandbox, a mode name, with the session's
    // defaultSandbox, a policy, so no policy can be passed through it.)
    const core = await ExecCore.create({ defaultCwd: scratch.dir });
    const open = (o: BackendOptions) =>
      GrpcEnvironment.open(inProcessClients(core), { kind: "local", description: "this process (local)", defaultSandbox: o.defaultSandbox, decisionTimeoutMs: o.decisionTimeoutMs });
    return instance(await open(options), open, async () => {
      await core.close();
      await scratch.remove();
    });
  },
};

const unixBackend: Backend = {
  name: "unix",
  available: async () => ({ ok: true }),
  async create(options = {}) {
    const server = await startExecServerProcess();
    try {
      const open = (o: BackendOptions) => GrpcEnvironment.connect({ kind: "unix", path: server.url.slice("unix://".length) }, { ...o, connectTimeoutMs: 10_000 });
      return instance(await open(options), open, () => server.close());
    } catch (err) {
      await server.close();
      throw err;
    }
  },
};

/**
 * The lean client (node:http2, no grpc-js: what `tether run` uses) under the same engine,
 * against a separate exec server on a Unix socket.
 */
const leanBackend: Backend = {
  name: "lean",
  available: async () => ({ ok: true }),
  async create(options = {}) {
    const server = await startExecServerProcess();
    try {
      const open = (o: BackendOptions) =>
        GrpcEnvironment.connect({ kind: "unix", path: server.url.slice("unix://".length) }, { ...o, transport: "lean", connectTimeoutMs: 10_000 });
      return instance(await open(options), open, () => server.close());
    } catch (err) {
      await server.close();
      throw err;
    }
  },
};

export const remoteBackend: Backend = {
  name: "remote",
  available: async () => {
    const netns = netnsAvailable();
    if (!netns.ok) return netns;
    if (spawnSync("openssl", ["version"]).status !== 0) return { ok: false, reason: "openssl is missing: the remote backend needs it for its test CA (scripts/setup.sh installs it)" };
    return { ok: true };
  },
  async create(options = {}) {
    const remote = await startRemoteExecServer();
    try {
      return instance(await remote.connect(options), (o) => remote.connect(o), () => remote.close());
    } catch (err) {
      await remote.close();
      throw err;
    }
  },
};

export const dockerBackend: Backend = {
  name: "docker",
  available: async () => {
    const docker = await ensureDocker();
    if (!docker.ok) return docker;
    if (!(await dockerImageExists(docker.socketPath, DOCKER_IMAGE))) return { ok: false, reason: `image ${DOCKER_IMAGE} is missing: build it with \`make image\`` };
    return { ok: true };
  },
  async create(options = {}) {
    const env = await startDockerEnvironment({ image: DOCKER_IMAGE, ...options });
    return instance(env, (o) => env.openSession(o));
  },
};

export const backends: Backend[] = [localBackend, unixBackend, leanBackend, remoteBackend, dockerBackend];

/**
 * Resolves each backend's availability once. Outside CI an unavailable backend is
 * skipped with a printed reason; in CI (CI=true) it is kept, so its create() fails the suite.
 */
export async function backendsToRun(): Promise<Array<Backend & { skip: string | undefined }>> {
  const inCi = process.env.CI === "true";
  // TETHER_BACKENDS=local,unix narrows a run while working on one backend (never in CI).
  const only = !inCi && process.env.TETHER_BACKENDS ? process.env.TETHER_BACKENDS.split(",") : undefined;
  return Promise.all(
    backends.filter((b) => !only || only.includes(b.name)).map(async (b) => {
      const status = await b.available().catch((err: unknown): Availability => ({ ok: false, reason: TetherError.from(err).message }));
      if (status.ok) return { ...b, skip: undefined };
      if (inCi) {
        // Nothing is skipped in CI: the backend's tests fail with the reason.
        return { ...b, skip: undefined, create: () => Promise.reject(new TetherError(ErrorCode.FailedPrecondition, `CI=true but the ${b.name} backend is unavailable: ${status.reason}`)) };
      }
      console.warn(`skipping the ${b.name} backend: ${status.reason}`);
      return { ...b, skip: status.reason };
    }),
  );
}

const REMOTE_PORT = 7070;

export interface RemoteExecServer {
  host: NetnsHost;
  ca: TestCa;
  token: string;
  /** The server process (as seen from our namespace: same pid namespace). */
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  connect(options?: BackendOptions & Pick<GrpcEnvironmentOptions, "connectTimeoutMs">): Promise<GrpcEnvironment>;
  close(): Promise<void>;
}

/**
 * `tether exec-server` inside a fresh network namespace, on its address only, with a bearer
 * token and TLS from a test CA: the client reaches it as it would a remote VM.
 */
export async function startRemoteExecServer(args: string[] = []): Promise<RemoteExecServer> {
  ensureBuilt();
  const dir = await mkdtemp(path.join(tmpdir(), "tether-remote-"));
  let host: NetnsHost | undefined;
  try {
    host = await createNetnsHost();
    const ca = await createTestCa(path.join(dir, "ca"), [host.address]);
    const token = randomBytes(24).toString("hex");
    const tokenFile = path.join(dir, "token");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const child = host.exec(
      [process.execPath, TETHER_BIN, "exec-server", "--listen", `tcp://${host.address}:${REMOTE_PORT}`, "--token-file", tokenFile,
        "--tls-cert", ca.serverCert, "--tls-key", ca.serverKey, "--cwd", dir, ...args],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const started = await awaitListening(child);
    const h = host;
    let closing: Promise<void> | undefined;
    return {
      host: h,
      ca,
      token,
      child,
      exited: started.exited,
      stderr: started.stderr,
      connect: (options = {}) =>
        GrpcEnvironment.connect({ kind: "grpcs", host: h.address, port: REMOTE_PORT }, { token, caPem: ca.caCertPem, connectTimeoutMs: 10_000, ...options }),
      close: () =>
        (closing ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
            await started.exited;
            clearTimeout(timer);
          }
          await h.close();
          await rm(dir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Waits for the server's `listening <url>` line; fails with its stderr when it exits first. */
async function awaitListening(child: ChildProcess): Promise<{
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}> {
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    // Bounded: only the tail matters for a failure message.
    stderr = (stderr + s).slice(-16_384);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      const m = /^listening (\S+)$/.exec(line);
      if (m) resolve(m[1]!);
      else reject(new TetherError(ErrorCode.Internal, `exec-server printed ${JSON.stringify(line)} instead of "listening <url>"`));
    });
    void exited.then(({ code, signal }) =>
      reject(new TetherError(ErrorCode.Unavailable, `exec-server exited (${code ?? signal}) before listening: ${stderr.trim() || "(no stderr)"}`)),
    );
  });
  return { url, exited, stderr: () => stderr };
}
