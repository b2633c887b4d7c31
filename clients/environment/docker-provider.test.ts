// The container provider against a real dockerd and the locally built exec-server image.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Dockerode from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { dockerImageExists, dockerOrSkip } from "../../test/support/dockerd.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { DEFAULT_IMAGE } from "./env-target.js";
import type { Environment } from "./environment.js";
import { copyFiles } from "./copy-files.js";
import { ENV_LABEL, startDockerEnvironment } from "./docker-provider.js";

const docker = await dockerOrSkip();
let skip = docker.ok ? undefined : docker.reason;
if (docker.ok && !(await dockerImageExists(docker.socketPath, DEFAULT_IMAGE))) {
  const reason = `image ${DEFAULT_IMAGE} is missing: build it with \`make image\``;
  if (process.env.CI === "true") throw new TetherError(ErrorCode.FailedPrecondition, `CI=true but ${reason}`);
  console.warn(`skipping docker provider tests: ${reason}`);
  skip = reason;
}

async function run(env: Environment, id: string, argv: string[], sandbox?: { mode: number }): Promise<{ out: string; code: number | undefined }> {
  await env.processes.start(id, { argv, stdinOpen: false, sandbox });
  let out = "";
  let code: number | undefined;
  for await (const ev of env.processes.attach(id)) {
    if (ev.event.case === "output") out += Buffer.from(ev.event.value.data).toString("utf8");
    if (ev.event.case === "exited") code = ev.event.value.status?.code;
  }
  return { out, code };
}

async function containerExists(client: Dockerode, name: string): Promise<boolean> {
  try {
    await client.getContainer(name).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

describe.skipIf(skip !== undefined)("startDockerEnvironment", () => {
  const client = new Dockerode();
  const opened: Environment[] = [];
  afterAll(async () => {
    for (const env of opened) await env.close().catch(() => undefined);
  });

  it("runs commands and files in a container, sandbox included, and removes it on close", async () => {
    const logs: string[] = [];
    const name = `tether-test-${process.pid}-a`;
    const env = await startDockerEnvironment({ name, log: (m) => logs.push(m) });
    opened.push(env);
    expect(env.kind).toBe("docker");
    expect(env.description).toContain(name);
    expect(logs.some((l) => /answered \d+ ms after create/.test(l))).toBe(true);
    const labels = (await client.getContainer(name).inspect()).Config.Labels;
    expect(labels[ENV_LABEL]).toBe("1");

    expect(await run(env, "echo", ["sh", "-c", "echo hello from $(cat /etc/os-release | grep ^ID=)"])).toEqual({ out: "hello from ID=debian\n", code: 0 });
    // bubblewrap works inside: read-only sandbox, no network namespace escape.
    const sandboxed = await run(env, "ro", ["sh", "-c", "touch /etc/x 2>&1; echo rc=$?"], { mode: SandboxMode.READ_ONLY });
    expect(sandboxed.out).toMatch(/Read-only file system[\s\S]*rc=1/);

    await env.files.writeFile({ path: "/opt/t/greeting.txt", createParents: true, mode: 0o640 }, new TextEncoder().encode("héllo"));
    const { chunks, info } = env.files.readFile("/opt/t/greeting.txt");
    let text = "";
    for await (const c of chunks) text += Buffer.from(c).toString("utf8");
    expect(text).toBe("héllo");
    expect((await info).mode).toBe(0o640);

    // A second session on the same container sees the same files and has its own sandbox.
    const second = await env.openSession({ defaultSandbox: { mode: SandboxMode.READ_ONLY } });
    expect((await second.files.stat("/opt/t/greeting.txt")).size).toBe(6n);
    expect((await run(second, "ro2", ["sh", "-c", "touch /opt/t/x 2>/dev/null; echo rc=$?"])).out).toBe("rc=1\n");
    await second.close();
    expect(await containerExists(client, name)).toBe(true);

    await env.close();
    // close() leaves the daemon's kill and cleanup running; `removed` says when they are done.
    await env.removed;
    expect(await containerExists(client, name)).toBe(false);
  });

  it("copies a tree into the container and back (tether cp's path)", async () => {
    const env = await startDockerEnvironment({});
    opened.push(env);
    const local = await mkdtemp(path.join(tmpdir(), "tether-docker-cp-"));
    try {
      const blob = randomBytes(3 << 20);
      await mkdir(path.join(local, "src/ünïcödé"), { recursive: true });
      await writeFile(path.join(local, "src/ünïcödé/blob.bin"), blob, { mode: 0o751 });
      await symlink("ünïcödé/blob.bin", path.join(local, "src/link"));
      const up = await copyFiles(env, { side: "local", path: path.join(local, "src") }, { side: "remote", path: "/opt/copied" });
      expect(up).toMatchObject({ files: 1, directories: 2, symlinks: 1, bytes: blob.length });
      expect(await run(env, "sum", ["sh", "-c", "sha256sum /opt/copied/link | cut -c1-64; stat -c %a /opt/copied/ünïcödé/blob.bin"])).toEqual({
        out: `${createHash("sha256").update(blob).digest("hex")}\n751\n`,
        code: 0,
      });
      await copyFiles(env, { side: "remote", path: "/opt/copied" }, { side: "local", path: path.join(local, "back") });
      // Hashes, not buffers: a deep equal over megabytes takes vitest tens of seconds.
      const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      expect(digest(await readFile(path.join(local, "back/link")))).toBe(digest(blob));
      expect((await stat(path.join(local, "back/ünïcödé/blob.bin"))).mode & 0o777).toBe(0o751);
    } finally {
      await rm(local, { recursive: true, force: true });
      await env.close();
    }
  });

  it("names the missing image and how to build it, without pulling", async () => {
    const err = await startDockerEnvironment({ image: "tether-no-such-image:nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.NotFound);
    expect((err as TetherError).message).toBe("docker image tether-no-such-image:nope is not present locally: build it with `make image`");
  });

  it("says how to start Docker when the daemon does not answer", async () => {
    const nowhere = new Dockerode({ socketPath: "/nonexistent/docker.sock" });
    const err = await startDockerEnvironment({ docker: nowhere }).catch((e: unknown) => e);
    expect((err as TetherError).code).toBe(ErrorCode.Unavailable);
    expect((err as TetherError).message).toMatch(/cannot reach the Docker daemon.*start-dockerd\.sh/);
  });

  it("fails calls with the container's name and state once it was killed", async () => {
    const name = `tether-test-${process.pid}-b`;
    const env = await startDockerEnvironment({ name });
    opened.push(env);
    await env.processes.start("sleeper", { argv: ["sleep", "1000"], stdinOpen: false });
    const attach = (async () => {
      for await (const ev of env.processes.attach("sleeper")) void ev;
    })();
    const waitCall = env.processes.wait("sleeper");
    await client.getContainer(name).kill();
    const pattern = new RegExp(`docker container ${name} is exited \\(exit code 137\\)`);
    await expect(waitCall).rejects.toThrow(pattern);
    await expect(attach).rejects.toThrow(pattern);
    // Later calls fail at once with the same explanation.
    await expect(env.files.stat("/")).rejects.toThrow(pattern);
    await env.close();
    await env.removed;
    expect(await containerExists(client, name)).toBe(false);
  });

  it("reports the exit code and log when the server dies during start-up", async () => {
    const err = await startDockerEnvironment({ image: "tether-base:bookworm" }).catch((e: unknown) => e);
    expect((err as TetherError).code).toBe(ErrorCode.FailedPrecondition);
    expect((err as TetherError).message).toMatch(/exited with code 127 during start-up; last lines of its log:\n.*tether/);
  });
});
