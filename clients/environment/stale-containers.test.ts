// The stale-container sweep against a real dockerd, as a user meets it (and `tether run
// --env docker` running a command in a container): containers left by
// a tether process that died are removed (with their socket directory) the next time a
// `tether run --env docker` starts; containers of live owners, of other hosts and of
// anything that is not tether stay. The sweep runs in a fresh process because it spares
// containers created after its own start (they may belong to a process that just began).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname } from "node:os";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipOutsideCi } from "../../test/support/ci-must-run.js";
import { dockerImageExists, dockerOrSkip } from "../../test/support/dockerd.js";
import { TETHER_BIN, ensureBuilt } from "../../test/support/exec-server-process.js";
import { DEFAULT_IMAGE } from "./env-target.js";
import { ENV_LABEL, SOCKET_DIR_PREFIX } from "./stale-containers.js";

const docker = await dockerOrSkip();
const skip = skipOutsideCi(
  !docker.ok ? docker.reason : (await dockerImageExists(docker.socketPath, DEFAULT_IMAGE)) ? undefined : `image ${DEFAULT_IMAGE} is missing (make image)`,
  "the stale-container sweep test",
);

/** A pid that certainly ran and is gone: a `true` that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

describe.skipIf(skip)("removeStaleContainers through tether run --env docker", () => {
  const client = new Dockerode();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const names = { stale: `tether-sweep-stale-${tag}`, live: `tether-sweep-live-${tag}`, otherHost: `tether-sweep-host-${tag}`, foreign: `tether-sweep-foreign-${tag}` };
  let socketDir: string;

  beforeAll(async () => {
    ensureBuilt();
    const dead = await deadPid();
    socketDir = await mkdtemp(SOCKET_DIR_PREFIX);
    const create = (name: string, labels: Record<string, string>, binds: string[] = []) =>
      client.createContainer({ name, Image: DEFAULT_IMAGE, Cmd: ["true"], Labels: labels, HostConfig: { Binds: binds } });
    const owner = (pid: number, host = hostname()) => ({ [ENV_LABEL]: "1", "tether.owner-pid": String(pid), "tether.owner-host": host });
    await create(names.stale, owner(dead), [`${socketDir}:/run/tether`]);
    await create(names.live, owner(process.pid));
    await create(names.otherHost, owner(dead, `not-${hostname()}`));
    await create(names.foreign, { "tether.owner-pid": String(dead) });
  });

  afterAll(async () => {
    for (const name of Object.values(names)) await client.getContainer(name).remove({ force: true }).catch(() => undefined);
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  });

  const exists = (name: string) => client.getContainer(name).inspect().then(() => true, (err: { statusCode?: number }) => {
    if (err.statusCode === 404) return false;
    throw err;
  });

  it("removes only the dead owner's container and its socket directory", async () => {
    expect(await exists(names.stale)).toBe(true);
    expect(existsSync(socketDir)).toBe(true);
    // Docker records Created in whole seconds and the sweep spares containers created at or
    // after its own process started: start it in a later second than the containers'.
    const created = Math.max(...(await client.listContainers({ all: true, filters: { name: [tag] } })).map((c) => c.Created));
    while (Math.floor(Date.now() / 1000) <= created) await new Promise((resolve) => setTimeout(resolve, 50));
    // `--env docker` really runs the command in a container (its hostname is the container's).
    const child = spawn(process.execPath, [TETHER_BIN, "run", "--env", "docker", "--", "sh", "-c", "echo in-container; hostname"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const [said, host] = stdout.trim().split("\n");
    expect(said).toBe("in-container");
    expect(host).not.toBe(hostname());
    expect(await exists(names.stale)).toBe(false);
    expect(existsSync(socketDir)).toBe(false);
    expect({ live: await exists(names.live), otherHost: await exists(names.otherHost), foreign: await exists(names.foreign) }).toEqual({
      live: true,
      otherHost: true,
      foreign: true,
    });
  });
});
