// Starts an exec server in a Docker container and hands back an Environment on it.
// The client reaches the server over a Unix socket in a bind-mounted host directory,
// so nothing depends on container networking; closing the environment removes the container.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import Dockerode from "dockerode";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { DEFAULT_IMAGE } from "./env-target.js";
import type { Environment } from "./environment.js";
import { GrpcEnvironment, type GrpcEnvironmentOptions } from "./grpc-environment.js";
import { sleep } from "./reconnect.js";

/** Per-session settings, for the first session and for `openSession`. */
export type DockerSessionOptions = Pick<GrpcEnvironmentOptions, "defaultSandbox" | "reconnect" | "keepaliveMs" | "detachedTtlMs">;

export interface DockerEnvironmentOptions extends DockerSessionOptions {
  /** Default tether-exec-server:latest; must be present locally (no registry is ever asked). */
  image?: string;
  docker?: Dockerode;
  /** Container name; default tether-env-<random>. */
  name?: string;
  /** From create to the first answered OpenSession; default 30 s. */
  startTimeoutMs?: number;
  /** Docker network mode; default "bridge" when the daemon has one, else "none". */
  network?: string;
  log?: (msg: string) => void;
  signal?: AbortSignal;
}

/** An Environment whose exec server runs in a container; `close()` removes the container. */
export interface DockerEnvironment extends Environment {
  readonly containerName: string;
  /** The exec server's socket on this host (0600, root's). */
  readonly socketPath: string;
  /** Another session on the same container (same files and processes); closing it keeps the container. */
  openSession(options?: DockerSessionOptions): Promise<Environment>;
}

export const ENV_LABEL = "tether.env";
const OWNER_PID_LABEL = "tether.owner-pid";
const OWNER_HOST_LABEL = "tether.owner-host";
const SOCKET_DIR_IN_CONTAINER = "/run/tether";
const SOCKET_NAME = "exec.sock";
const SOCKET_POLL_MS = 10;
/** A dead container should fail calls quickly, not after the default minute of retries. */
const CONTAINER_RECONNECT = { giveUpAfterMs: 3_000, initialBackoffMs: 50, maxBackoffMs: 500 };
const LOG_TAIL_LINES = 20;

/**
 * What bubblewrap needs as root inside a container (measured with
 * `bwrap --ro-bind / / --unshare-net --unshare-pid --proc /proc --dev /dev true`):
 * SYS_ADMIN for the namespaces and mounts, NET_ADMIN to bring up loopback in the new
 * network namespace, and seccomp=unconfined because Docker's default profile refuses
 * pivot_root. apparmor=unconfined because docker-default forbids mount() where AppArmor
 * is on. Far less than --privileged (which also fails where runc cannot apply every cap).
 */
export const SANDBOX_HOST_CONFIG = {
  CapAdd: ["SYS_ADMIN", "NET_ADMIN"],
  SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
} as const;

export async function startDockerEnvironment(options: DockerEnvironmentOptions = {}): Promise<DockerEnvironment> {
  const docker = options.docker ?? new Dockerode();
  const image = options.image ?? DEFAULT_IMAGE;
  const name = options.name ?? `tether-env-${randomBytes(4).toString("hex")}`;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const log = options.log ?? (() => {});

  const [network] = await Promise.all([
    options.network ?? defaultNetwork(docker),
    docker.getImage(image).inspect().catch((err: unknown) => {
      if (statusOf(err) === 404) {
        throw new TetherError(ErrorCode.NotFound, `docker image ${image} is not present locally: build it with \`make image\``, { cause: err });
      }
      throw dockerError(docker, err, `docker image inspect ${image}`);
    }),
  ]);
  const staleSweep = removeStaleContainers(docker, log);

  const dir = await mkdtemp(path.join(tmpdir(), "tether-docker-"));
  const socketPath = path.join(dir, SOCKET_NAME);
  const created = performance.now();
  let container: Dockerode.Container | undefined;
  const waitAbort = new AbortController();
  const remove = async (): Promise<void> => {
    waitAbort.abort();
    try {
      await container?.remove({ force: true, v: true });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw dockerError(docker, err, `docker rm -f ${name}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    container = await docker.createContainer({
      name,
      Image: image,
      Cmd: ["tether", "exec-server", "--listen", `unix://${SOCKET_DIR_IN_CONTAINER}/${SOCKET_NAME}`],
      Labels: { [ENV_LABEL]: "1", [OWNER_PID_LABEL]: String(process.pid), [OWNER_HOST_LABEL]: hostname() },
      HostConfig: {
        // The directory is 0700 and the socket 0600: only root on this host reaches the server.
        Binds: [`${dir}:${SOCKET_DIR_IN_CONTAINER}`],
        NetworkMode: network,
        // docker-init as PID 1 reaps orphans re-parented to it and forwards signals, so
        // node does not have to play init.
        Init: true,
        CapAdd: [...SANDBOX_HOST_CONFIG.CapAdd],
        SecurityOpt: [...SANDBOX_HOST_CONFIG.SecurityOpt],
      },
    }).catch((err: unknown) => { throw dockerError(docker, err, `docker create ${image}`); });
    const c = container;
    const createdMs = performance.now() - created;
    await c.start().catch((err: unknown) => { throw dockerError(docker, err, `docker start ${name}`); });
    // "not-running" after start answers at once if the server already died: no exit is missed
    // (a "next-exit" wait sent before start may reach the daemon after a quick exit).
    const exited = c.wait({ condition: "not-running", abortSignal: waitAbort.signal }) as Promise<{ StatusCode: number }>;
    exited.catch(() => undefined);
    const startedMs = performance.now() - created;
    let socketMs = 0;

    const died = exited.then(async (r) => {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `the exec server in container ${name} (${image}) exited with code ${r.StatusCode} during start-up; last lines of its log:\n${await logTail(c)}`,
      );
    });
    died.catch(() => undefined);
    const description = `docker container ${name} (${image})`;
    const deadline = Date.now() + timeoutMs;
    const env = await Promise.race([
      died,
      (async () => {
        await waitForSocket(socketPath, deadline, options.signal);
        socketMs = performance.now() - created;
        return connectSession(socketPath, description, options, Math.max(1, deadline - Date.now()));
      })(),
    ]).catch(async (err: unknown) => {
      if (err instanceof TetherError && err.code === ErrorCode.DeadlineExceeded) {
        throw new TetherError(ErrorCode.DeadlineExceeded, `${err.message}; last lines of the container's log:\n${await logTail(c)}`, { cause: err });
      }
      throw err;
    });
    const ms = (t: number) => Math.round(t);
    log(
      `docker: ${description} answered ${ms(performance.now() - created)} ms after create ` +
        `(created ${ms(createdMs)}, started ${ms(startedMs)}, socket ${ms(socketMs)} ms)`,
    );
    await staleSweep;
    const guard = new DeadContainerGuard(c, name, exited);
    const close = (): Promise<void> => env.close().finally(remove);
    return {
      ...guard.wrap(env, close),
      containerName: name,
      socketPath,
      openSession: async (more = {}) => {
        const extra = await guard.guardPromise(connectSession(socketPath, description, more, 5_000));
        return guard.wrap(extra, () => extra.close());
      },
    };
  } catch (err) {
    await remove().catch((e: unknown) => log(`docker: could not clean up ${name}: ${TetherError.from(e).message}`));
    await staleSweep;
    throw TetherError.from(err);
  }
}

async function defaultNetwork(docker: Dockerode): Promise<string> {
  try {
    await docker.getNetwork("bridge").inspect();
    return "bridge";
  } catch (err) {
    if (statusOf(err) === 404) return "none"; // dockerd --bridge=none
    throw dockerError(docker, err, "docker network inspect bridge");
  }
}

async function waitForSocket(socketPath: string, deadline: number, signal?: AbortSignal): Promise<void> {
  // The socket appears once the server listens; polling a stat is cheaper than a failed connect.
  for (;;) {
    try {
      if ((await stat(socketPath)).isSocket()) return;
    } catch {
      // ENOENT until the server binds: keep polling.
    }
    if (Date.now() >= deadline) {
      throw new TetherError(ErrorCode.DeadlineExceeded, `the exec server did not create ${socketPath} in time (raise startTimeoutMs if the machine is slow)`);
    }
    await sleep(SOCKET_POLL_MS, signal);
  }
}

function connectSession(socketPath: string, description: string, options: DockerSessionOptions, connectTimeoutMs: number): Promise<GrpcEnvironment> {
  return GrpcEnvironment.connect(
    { kind: "unix", path: socketPath },
    {
      kind: "docker",
      description,
      connectTimeoutMs,
      reconnect: { ...CONTAINER_RECONNECT, ...options.reconnect },
      keepaliveMs: options.keepaliveMs,
      defaultSandbox: options.defaultSandbox,
      detachedTtlMs: options.detachedTtlMs,
    },
  );
}

/**
 * Calls that fail while the container is gone say so (name and state) instead of the
 * generic connection error, and calls made after its death fail at once.
 */
class DeadContainerGuard {
  readonly #container: Dockerode.Container;
  readonly #name: string;
  /** Rejecters of the calls in flight; a settled call removes its own (no growth per call). */
  readonly #inFlight = new Set<(err: TetherError) => void>();
  #deadReason: TetherError | undefined;

  constructor(container: Dockerode.Container, name: string, exited: Promise<unknown>) {
    this.#container = container;
    this.#name = name;
    exited.then(
      async () => {
        const reason = await this.#explain(new TetherError(ErrorCode.Unavailable, "container exited"));
        for (const fail of this.#inFlight) fail(reason);
      },
      () => undefined, // the wait was aborted: the environment closed
    );
  }

  async #explain(err: unknown): Promise<TetherError> {
    const te = TetherError.from(err);
    if (te.code !== ErrorCode.Unavailable && te.code !== ErrorCode.Internal && te.code !== ErrorCode.Unknown) return te;
    if (this.#deadReason) return this.#deadReason;
    try {
      const info = await this.#container.inspect();
      if (info.State.Running) return te;
      this.#deadReason = new TetherError(
        ErrorCode.Unavailable,
        `docker container ${this.#name} is ${info.State.Status} (exit code ${info.State.ExitCode}${info.State.OOMKilled ? ", killed for running out of memory" : ""}): start a new environment`,
        { cause: te },
      );
    } catch (e) {
      if (statusOf(e) !== 404) return te;
      this.#deadReason = new TetherError(ErrorCode.Unavailable, `docker container ${this.#name} no longer exists (removed): start a new environment`, { cause: te });
    }
    return this.#deadReason;
  }

  guardPromise<T>(p: Promise<T>): Promise<T> {
    if (this.#deadReason) {
      p.catch(() => undefined);
      return Promise.reject(this.#deadReason);
    }
    // Not Promise.race with a shared "dead" promise: each race would stay registered on it,
    // keeping every settled value (every file chunk) alive until the container dies.
    return new Promise<T>((resolve, reject) => {
      const fail = (err: TetherError) => {
        this.#inFlight.delete(fail);
        reject(err);
      };
      this.#inFlight.add(fail);
      p.then(
        (value) => {
          this.#inFlight.delete(fail);
          resolve(value);
        },
        async (err: unknown) => {
          this.#inFlight.delete(fail);
          reject(await this.#explain(err));
        },
      );
    });
  }

  async *#guardIterable<T>(it: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = it[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.guardPromise(iterator.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Not awaited: after a failure the inner generator may still be parked in its
      // reconnect loop, and an async generator's return() queues behind that.
      void iterator.return?.()?.catch(() => undefined);
    }
  }

  #guard(value: unknown): unknown {
    if (value instanceof Promise) return this.guardPromise(value);
    if (isAsyncIterable(value)) return this.#guardIterable(value);
    // readFile: { info, chunks }
    if (typeof value === "object" && value !== null && "info" in value && "chunks" in value) {
      const v = value as { info: Promise<unknown>; chunks: AsyncIterable<unknown> };
      const info = this.guardPromise(v.info);
      info.catch(() => undefined);
      return { info, chunks: this.#guardIterable(v.chunks) };
    }
    return value;
  }

  #wrapOps<T extends object>(ops: T): T {
    const guard = (value: unknown) => this.#guard(value);
    return new Proxy(ops, {
      get(target, prop, receiver) {
        const member: unknown = Reflect.get(target, prop, receiver);
        if (typeof member !== "function") return member;
        return (...args: unknown[]) => guard(Reflect.apply(member, target, args));
      },
    });
  }

  wrap(env: Environment, close: () => Promise<void>): Environment {
    return {
      kind: env.kind,
      description: env.description,
      processes: this.#wrapOps(env.processes),
      files: this.#wrapOps(env.files),
      session: this.#wrapOps(env.session),
      info: (opts) => this.guardPromise(env.info(opts)),
      close,
      [Symbol.asyncDispose]: close,
    };
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** The last lines of a container's stdout and stderr (Docker multiplexes them in 8-byte framed records). */
async function logTail(container: Dockerode.Container): Promise<string> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: LOG_TAIL_LINES, follow: false })) as unknown as Buffer;
    const text: string[] = [];
    let off = 0;
    while (off + 8 <= raw.length) {
      const size = raw.readUInt32BE(off + 4);
      text.push(raw.subarray(off + 8, off + 8 + size).toString("utf8"));
      off += 8 + size;
    }
    const out = (off === 0 ? raw.toString("utf8") : text.join("")).trimEnd();
    return out === "" ? "(the log is empty)" : out;
  } catch (err) {
    return `(could not read the log: ${TetherError.from(err).message})`;
  }
}

/** Removes containers left by tether processes on this host that died without closing them. */
async function removeStaleContainers(docker: Dockerode, log: (msg: string) => void): Promise<void> {
  try {
    const startedAt = Math.floor((Date.now() - process.uptime() * 1000) / 1000);
    const stale = await docker.listContainers({ all: true, filters: { label: [`${ENV_LABEL}=1`, `${OWNER_HOST_LABEL}=${hostname()}`] } });
    for (const c of stale) {
      const pid = Number(c.Labels[OWNER_PID_LABEL]);
      if (c.Created >= startedAt || !Number.isInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      // Its socket directory, when it is one of ours.
      for (const m of c.Mounts) {
        if (m.Destination === SOCKET_DIR_IN_CONTAINER && m.Source.startsWith(path.join(tmpdir(), "tether-docker-"))) await rm(m.Source, { recursive: true, force: true });
      }
      log(`docker: removed stale container ${c.Names[0] ?? c.Id} (its owner pid ${pid} is gone)`);
    }
  } catch (err) {
    log(`docker: could not sweep stale containers: ${TetherError.from(err).message}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "statusCode" in err && typeof err.statusCode === "number") return err.statusCode;
  return undefined;
}

/** Where the client talks to its daemon: a Dockerode made with its own socket is not DOCKER_HOST's. */
function daemonAddress(docker: Dockerode): string {
  const modem = (docker as { modem?: { socketPath?: unknown; host?: unknown; port?: unknown } }).modem;
  if (typeof modem?.socketPath === "string") return modem.socketPath;
  if (typeof modem?.host === "string") return `${modem.host}:${String(modem.port ?? "")}`;
  return process.env.DOCKER_HOST ?? "/var/run/docker.sock";
}

/** Docker client failures: an unreachable daemon says how to start one; API errors keep Docker's message. */
function dockerError(docker: Dockerode, err: unknown, what: string): TetherError {
  if (err instanceof TetherError) return err;
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  if (["ENOENT", "ECONNREFUSED", "EACCES", "ECONNRESET", "ETIMEDOUT"].includes(code)) {
    return new TetherError(
      ErrorCode.Unavailable,
      `${what}: cannot reach the Docker daemon at ${daemonAddress(docker)} (${code}): start one with \`scripts/start-dockerd.sh\` (or \`dockerd &\`), or set DOCKER_HOST`,
      { cause: err },
    );
  }
  const status = statusOf(err);
  const message = err instanceof Error ? err.message.replace(/^\(HTTP code \d+\)\s*/, "") : String(err);
  const mapped = status === 404 ? ErrorCode.NotFound : status === 409 ? ErrorCode.AlreadyExists : status === 400 ? ErrorCode.InvalidArgument : ErrorCode.Internal;
  return new TetherError(mapped, `${what}: ${message}`, { cause: err });
}
