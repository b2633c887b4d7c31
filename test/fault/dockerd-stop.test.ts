// The Docker daemon stops under a container environment. A private dockerd (its own data
// root, exec root and socket, so the shared daemon other tests use is never touched) runs
// the exec server's container; SIGTERM to that dockerd takes the container down with it
// (live-restore is off). The client's open stream and its next call fail within a bounded
// time with an error naming the container, and nothing of that daemon is left on the host.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DockerEnvironment, startDockerEnvironment } from "../../clients/environment/docker-provider.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { DOCKER_IMAGE } from "../support/backends.js";
import { dockerImageExists, dockerOrSkip } from "../support/dockerd.js";
import { failure } from "../support/failure.js";
import { attachLive } from "./seq-output.js";

const docker = await dockerOrSkip();
const dockerdBin = ["/usr/sbin/dockerd", "/usr/bin/dockerd"].find((p) => existsSync(p));
let skipReason = docker.ok ? undefined : docker.reason;
if (docker.ok && !dockerdBin) skipReason = "no dockerd binary to start a private daemon with (apt-get install -y docker.io)";
if (docker.ok && dockerdBin && !(await dockerImageExists(docker.socketPath, DOCKER_IMAGE))) skipReason = `${DOCKER_IMAGE} is not built: run scripts/build-image.sh`;
if (skipReason) {
  if (process.env.CI === "true") throw new Error(`CI=true but the dockerd stop test cannot run: ${skipReason}`);
  console.warn(`skipping the dockerd stop test: ${skipReason}`);
}

/** Runs a command to its end; rejects with its stderr when it fails. */
function run(cmd: string, args: string[], stdin?: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [stdin ? "pipe" : "ignore", "ignore", "pipe"] });
    if (stdin) stdin.pipe(child.stdin!);
    let err = "";
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (err = (err + s).slice(-4096)));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.trim()}`))));
  });
}

/** Pids of live processes whose command line mentions any of `needles`. */
async function processesMentioning(needles: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (needles.some((n) => cmdline.includes(n))) found.push(`${pid}: ${cmdline.replaceAll("\0", " ").trim()}`);
  }
  return found;
}

async function mountsUnder(dir: string): Promise<string[]> {
  const mounts = await readFile("/proc/self/mountinfo", "utf8");
  return mounts.split("\n").filter((l) => l.split(" ")[4]?.startsWith(dir));
}

interface PrivateDockerd {
  dir: string;
  socketPath: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  log(): Promise<string>;
}

async function startPrivateDockerd(): Promise<PrivateDockerd> {
  // Short: the socket path must fit in sun_path (108 bytes), containerd's included.
  const dir = await mkdtemp(path.join(tmpdir(), "tether-pdd-"));
  const socketPath = path.join(dir, "docker.sock");
  const logFd = openSync(`${dir}/dockerd.log`, "w");
  // Its own network namespace: a daemon started with --bridge=none deletes the host's docker0
  // (moby's removeDefaultBridgeInterface), which would cut the shared daemon's containers off.
  // The client needs no network: it reaches the exec server through a bind-mounted socket.
  const child = spawn(
    "unshare",
    [
      "--net",
      "--",
      dockerdBin!,
      `--data-root=${dir}/data`,
      `--exec-root=${dir}/exec`,
      `--pidfile=${dir}/dockerd.pid`,
      `--host=unix://${socketPath}`,
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
      "--ip-forward=false",
    ],
    // Its own session: a signal meant for the test runner does not reach it first.
    { stdio: ["ignore", logFd, logFd], detached: true, env: { ...process.env, DOCKER_HOST: "" } },
  );
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pd = { dir, socketPath, child, exited, log: () => readFile(`${dir}/dockerd.log`, "utf8").catch(() => "") };
  const client = new Dockerode({ socketPath });
  const deadline = Date.now() + 30_000;
  // Readiness has no event to wait on but the socket answering; each ping is one round trip.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the private dockerd exited during start-up with code ${child.exitCode}: ${(await pd.log()).slice(-2000)}`);
    if (await client.ping().then(() => true, () => false)) return pd;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("the private dockerd did not answer within 30 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skipReason !== undefined)("dockerd stops under a container environment", () => {
  let pd: PrivateDockerd;
  let env: DockerEnvironment | undefined;

  // The shared daemon's bridge: the private daemon must leave the host's network alone.
  const hostBridge = "/sys/class/net/docker0";
  let hostBridgeBefore = false;

  beforeAll(async () => {
    hostBridgeBefore = existsSync(hostBridge);
    pd = await startPrivateDockerd();
    const t0 = Date.now();
    const save = spawn("docker", ["-H", `unix://${docker.ok ? docker.socketPath : ""}`, "save", DOCKER_IMAGE], { stdio: ["ignore", "pipe", "inherit"] });
    await run("docker", ["-H", `unix://${pd.socketPath}`, "load", "-q"], save.stdout);
    console.log(`dockerd-stop: image loaded into the private daemon in ${Date.now() - t0} ms`);
  }, 90_000);

  afterAll(async () => {
    if (pd && pd.child.exitCode === null) {
      pd.child.kill("SIGTERM");
      const timer = setTimeout(() => pd.child.kill("SIGKILL"), 20_000);
      await pd.exited;
      clearTimeout(timer);
    }
    if (pd) await rm(pd.dir, { recursive: true, force: true });
  }, 30_000);

  it("fails the open stream and the next call naming the container, and leaves no process behind", async () => {
    env = await startDockerEnvironment({ docker: new Dockerode({ socketPath: pd.socketPath }), image: DOCKER_IMAGE, network: "none" });
    const info = await new Dockerode({ socketPath: pd.socketPath }).getContainer(env.containerName).inspect();
    const containerId = info.Id;
    const { stream, pending } = await attachLive(env, "long");
    // The container's processes run under a shim of the private daemon's containerd.
    expect(await processesMentioning([containerId])).not.toEqual([]);

    pd.child.kill("SIGTERM");
    // dockerd stops its containers first (SIGTERM, then SIGKILL after the stop timeout): the
    // exec server may still end its processes and report the exit before it goes, or the
    // stream breaks first. Either way the stream ends and says which.
    const streamEnd = await pending.then(
      (next) => ({ exited: next.value?.event.case === "exited" ? next.value.event.value.status : undefined, case: next.value?.event.case, done: next.done }),
      (err: unknown) => ({ err: err as Error }),
    );
    const callErr = await failure(env.processes.list());
    console.log(`dockerd-stop: the open stream ended with ${"err" in streamEnd ? `error ${String(streamEnd.err)}` : JSON.stringify(streamEnd, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    console.log(`dockerd-stop: the next call failed with ${callErr.code}: ${callErr.message}`);
    if ("err" in streamEnd) {
      const err = TetherError.from(streamEnd.err);
      expect([ErrorCode.Unavailable, ErrorCode.FailedPrecondition]).toContain(err.code);
      expect(err.message).toContain(env.containerName);
    } else {
      expect(streamEnd.case).toBe("exited");
      // Afterwards the stream has nothing more to give, or fails naming the container.
      const rest = await stream.next().then((n) => n.done, (err: unknown) => TetherError.from(err).message);
      expect(rest === true || (typeof rest === "string" && rest.includes(env.containerName))).toBe(true);
    }
    expect([ErrorCode.Unavailable, ErrorCode.FailedPrecondition]).toContain(callErr.code);
    // UNAVAILABLE or FAILED_PRECONDITION naming the container: the client noticed the daemon
    // go (never DEADLINE_EXCEEDED, which is what a hang would end in).
    expect(callErr.message).toContain(env.containerName);

    expect(await pd.exited).toBe(0);
    // With the daemon gone for good, calls still fail at once and name the container.
    const laterErr = await failure(env.info());
    expect(laterErr.message).toContain(env.containerName);
    expect(ErrorCode[laterErr.code]).not.toBe("DeadlineExceeded");
    // Closing ends: it cannot remove the container through a daemon that is gone, and says
    // so naming the daemon it tried (the private socket, not DOCKER_HOST's).
    const closeErr = await env.close().then(() => undefined, (err: unknown) => TetherError.from(err));
    console.log(`dockerd-stop: close ${closeErr ? `reported ${closeErr.code}: ${closeErr.message}` : "succeeded"}`);
    // Either it closed, or its error names both the container and the daemon it tried.
    const named = (m: string) => m.includes(env!.containerName) && m.includes(pd.socketPath);
    expect(closeErr === undefined ? "closed" : named(closeErr.message) ? "named" : closeErr.message).toMatch(/^(closed|named)$/);
    expect(await processesMentioning([pd.dir, containerId])).toEqual([]);
    expect(await mountsUnder(pd.dir)).toEqual([]);
    expect(existsSync(hostBridge)).toBe(hostBridgeBefore);
    // The environment's socket directory went with it.
    expect(existsSync(path.dirname(env.socketPath))).toBe(false);
    await rm(pd.dir, { recursive: true, force: true });
    expect(existsSync(pd.dir)).toBe(false);
  }, 60_000);
});
