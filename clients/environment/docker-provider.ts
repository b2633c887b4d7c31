// Starts an exec server in a Docker container and hands back an Environment on it.
// The client reaches the server over a Unix socket in a bind-mounted host directory,
// so nothing depends on container networking; closing the environment removes the container.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import Dockerode from "dockerode";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { logTail } from "./container-log.js";
import { DeadContainerGuard } from "./dead-container-guard.js";
import { dockerError, statusOf } from "./docker-error.js";
import { DEFAULT_IMAGE } from "./env-target.js";
import type { Environment } from "./environment.js";
import type { GrpcEnvironment, GrpcEnvironmentOptions } from "./grpc-environment.js";
import { SOCKET_DIR_PREFIX, ownerLabels, removeStaleContainers } from "./stale-containers.js";
import { waitForSocket } from "./socket-ready.js";

export { ENV_LABEL } from "./stale-containers.js";

/** Per-session settings, for the first session and for `openSession`. */
export type DockerSessionOptions = Pick<GrpcEnvironmentOptions, "defaultSandbox" | "reconnect" | "keepaliveMs" | "detachedTtlMs" | "decisionTimeoutMs">;

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
  /**
   * Settles once the container is removed after `close()`. close() returns when the session
   * is closed and the socket directory gone; the removal (the daemon's kill and cleanup)
   * goes on meanwhile, and its pending request keeps this process alive until it is done.
   */
  readonly removed: Promise<void>;
  /** Another session on the same container (same files and processes); closing it keeps the container. */
  openSession(options?: DockerSessionOptions): Promise<Environment>;
}

const SOCKET_DIR_IN_CONTAINER = "/run/tether";
const SOCKET_NAME = "exec.sock";
/** A dead container should fail calls quickly, not after the default minute of retries. */
const CONTAINER_RECONNECT = { giveUpAfterMs: 3_000, initialBackoffMs: 50, maxBackoffMs: 500 };

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
  const docker = options.docker ?? defaultClient();
  const image = options.image ?? DEFAULT_IMAGE;
  const name = options.name ?? `tether-env-${randomBytes(4).toString("hex")}`;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const log = options.log ?? (() => {});
  // The gRPC client is needed only once the socket is there: it loads while the container starts.
  const grpcEnvironment = import("./grpc-environment.js");
  grpcEnvironment.catch(() => undefined); // awaited in connectSession; an early failure must not leave it unhandled
  const staleSweep = sweepOnce(docker, log);

  const created = performance.now();
  const madeDir = mkdtemp(SOCKET_DIR_PREFIX);
  const [network, dir] = await Promise.all([options.network ?? defaultNetwork(docker), madeDir]).catch(async (err: unknown) => {
    await madeDir.then((d) => rm(d, { recursive: true, force: true }), () => undefined);
    await staleSweep;
    throw TetherError.from(err);
  });
  const socketPath = path.join(dir, SOCKET_NAME);
  let container: Dockerode.Container | undefined;
  const waitAbort = new AbortController();
  const removeContainer = async (): Promise<void> => {
    waitAbort.abort();
    try {
      await container?.remove({ force: true, v: true });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw dockerError(docker, err, `docker rm -f ${name}`);
    }
  };
  try {
    container = await docker.createContainer({
      name,
      Image: image,
      Cmd: ["tether", "exec-server", "--listen", `unix://${SOCKET_DIR_IN_CONTAINER}/${SOCKET_NAME}`],
      Labels: ownerLabels(),
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
    }).catch((err: unknown) => { throw createError(docker, err, image); });
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
        await waitForSocket(socketPath, Math.max(1, deadline - Date.now()), options.signal);
        socketMs = performance.now() - created;
        return connectSession(grpcEnvironment, socketPath, description, options, Math.max(1, deadline - Date.now()));
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
    const removal = deferred();
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= env.close().finally(async () => {
        // Not awaited: the daemon's kill and cleanup take longer than everything before it.
        removal.settle(removeContainer());
        await rm(dir, { recursive: true, force: true });
      }));
    // Nobody may await `removed`: a failure is reported here too (on stderr without a log).
    removal.promise.catch((err: unknown) => (options.log ?? console.error)(`docker: could not remove ${name}: ${TetherError.from(err).message}`));
    return {
      ...guard.wrap(env, close),
      containerName: name,
      socketPath,
      removed: removal.promise,
      openSession: async (more = {}) => {
        const extra = await guard.guardPromise(connectSession(grpcEnvironment, socketPath, description, more, 5_000));
        return guard.wrap(extra, () => extra.close());
      },
    };
  } catch (err) {
    await removeContainer().catch((e: unknown) => log(`docker: could not clean up ${name}: ${TetherError.from(e).message}`));
    await rm(dir, { recursive: true, force: true });
    await staleSweep;
    throw TetherError.from(err);
  }
}

/** One client for every environment that brings none, so what is learnt about its daemon is kept. */
let sharedClient: Dockerode | undefined;
function defaultClient(): Dockerode {
  return (sharedClient ??= new Dockerode());
}

const networks = new WeakMap<Dockerode, Promise<string>>();
/** "bridge" when the daemon has one (dockerd --bridge=none has not), asked once per client. */
function defaultNetwork(docker: Dockerode): Promise<string> {
  let known = networks.get(docker);
  if (!known) {
    known = docker.getNetwork("bridge").inspect().then(
      () => "bridge",
      (err: unknown) => {
        if (statusOf(err) === 404) return "none";
        networks.delete(docker); // not learnt: ask again next time
        throw dockerError(docker, err, "docker network inspect bridge");
      },
    );
    networks.set(docker, known);
  }
  return known;
}

const swept = new WeakSet<Dockerode>();
/** Containers of dead owners are swept once per client: later ones come from this process's own leaks only. */
function sweepOnce(docker: Dockerode, log: (msg: string) => void): Promise<void> {
  if (swept.has(docker)) return Promise.resolve();
  swept.add(docker);
  return removeStaleContainers(docker, SOCKET_DIR_IN_CONTAINER, log);
}

/** A missing image is reported by create itself: no inspect round trip before it. */
function createError(docker: Dockerode, err: unknown, image: string): TetherError {
  if (statusOf(err) === 404 && /no such image/i.test(err instanceof Error ? err.message : String(err))) {
    return new TetherError(ErrorCode.NotFound, `docker image ${image} is not present locally: build it with \`make image\``, { cause: err });
  }
  return dockerError(docker, err, `docker create ${image}`);
}

async function connectSession(
  module: Promise<typeof import("./grpc-environment.js")>,
  socketPath: string,
  description: string,
  options: DockerSessionOptions,
  connectTimeoutMs: number,
): Promise<GrpcEnvironment> {
  const { GrpcEnvironment } = await module;
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
      decisionTimeoutMs: options.decisionTimeoutMs,
    },
  );
}

/** A promise settled later by another promise. */
function deferred(): { promise: Promise<void>; settle(p: Promise<void>): void } {
  let settle!: (p: Promise<void>) => void;
  const promise = new Promise<void>((resolve) => (settle = resolve));
  return { promise, settle };
}
