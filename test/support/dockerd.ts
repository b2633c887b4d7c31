// Whether a Docker daemon answers, for tests of the container backend: outside CI they skip
// with the reason; in CI (CI=true) a missing daemon is a failure, because `make test` starts one.
import { request } from "node:http";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

export type DockerStatus = { ok: true; socketPath: string } | { ok: false; reason: string };

const DEFAULT_SOCKET = "/var/run/docker.sock";
const PING_TIMEOUT_MS = 3_000;

/** The daemon socket: DOCKER_HOST when it is unix://, else the default. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return host.slice("unix://".length);
  return DEFAULT_SOCKET;
}

let cached: Promise<DockerStatus> | undefined;

/** Pings the daemon once per process (GET /_ping over its unix socket). */
export function ensureDocker(): Promise<DockerStatus> {
  cached ??= probe(dockerSocketPath());
  return cached;
}

/**
 * For a test file's `describe.skipIf`: resolves to the daemon when one answers, to the
 * skip reason otherwise, and throws in CI, where a missing daemon means a broken setup.
 */
export async function dockerOrSkip(): Promise<DockerStatus> {
  const status = await ensureDocker();
  if (!status.ok && process.env.CI === "true") {
    throw new TetherError(ErrorCode.FailedPrecondition, `CI=true but ${status.reason}`);
  }
  if (!status.ok) console.warn(`skipping Docker tests: ${status.reason}`);
  return status;
}

/** Whether IMAGE (e.g. "tether-exec-server:latest") exists in the daemon at socketPath. */
export async function dockerImageExists(socketPath: string, image: string): Promise<boolean> {
  const res = await get(socketPath, `/images/${encodeURIComponent(image)}/json`);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new TetherError(ErrorCode.Unavailable, `docker image inspect ${image}: daemon answered ${res.status}: ${res.body.slice(0, 200)}`);
}

async function probe(socketPath: string): Promise<DockerStatus> {
  const fix = "start one with `scripts/start-dockerd.sh` (make test starts it itself)";
  try {
    const res = await get(socketPath, "/_ping");
    if (res.status === 200 && res.body.trim() === "OK") return { ok: true, socketPath };
    return { ok: false, reason: `the Docker daemon at ${socketPath} answered ${res.status} ${res.body.trim()} to /_ping` };
  } catch (err) {
    const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
    if (code === "ENOENT") return { ok: false, reason: `no Docker daemon socket at ${socketPath}: ${fix}` };
    if (code === "ECONNREFUSED") return { ok: false, reason: `no Docker daemon listens on ${socketPath}: ${fix}` };
    const text = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `no Docker daemon answers at ${socketPath} (${text}): ${fix}` };
  }
}

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: PING_TIMEOUT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        // Answers here are tiny; cap what a confused peer can make us hold.
        if (body.length < 64 * 1024) body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}
