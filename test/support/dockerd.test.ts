import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dockerImageExists, dockerSocketPath } from "./dockerd.js";

// A fake daemon on a private socket: the probe's answers must not depend on whether the
// machine runs Docker.
describe("dockerd support", () => {
  let dir: string;
  let socketPath: string;
  let server: Server;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-dockerd-"));
    socketPath = join(dir, "docker.sock");
    server = createServer((req, res) => {
      if (req.url === "/_ping") return void res.end("OK");
      if (req.url === "/images/present%3Alatest/json") return void res.end("{}");
      res.statusCode = 404;
      res.end('{"message":"no such image"}');
    });
    server.listen(socketPath);
    await once(server, "listening");
  });

  afterAll(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("takes the socket from a unix:// DOCKER_HOST and defaults otherwise", () => {
    expect(dockerSocketPath({ DOCKER_HOST: "unix:///tmp/x.sock" })).toBe("/tmp/x.sock");
    expect(dockerSocketPath({ DOCKER_HOST: "tcp://1.2.3.4:2375" })).toBe("/var/run/docker.sock");
    expect(dockerSocketPath({})).toBe("/var/run/docker.sock");
  });

  it("tells present images from missing ones", async () => {
    await expect(dockerImageExists(socketPath, "present:latest")).resolves.toBe(true);
    await expect(dockerImageExists(socketPath, "absent:latest")).resolves.toBe(false);
  });

  it("answers ok with the socket when a daemon pings back, and names the fix when none does", async () => {
    // ensureDocker caches per process, so a fresh module instance sees this DOCKER_HOST.
    const saved = process.env.DOCKER_HOST;
    try {
      process.env.DOCKER_HOST = `unix://${socketPath}`;
      vi.resetModules();
      const up = await import("./dockerd.js");
      await expect(up.ensureDocker()).resolves.toEqual({ ok: true, socketPath });

      process.env.DOCKER_HOST = `unix://${join(dir, "missing.sock")}`;
      vi.resetModules();
      const down = await import("./dockerd.js");
      const status = await down.ensureDocker();
      expect(status.ok).toBe(false);
      if (!status.ok) expect(status.reason).toMatch(/no Docker daemon socket at .*missing\.sock: start one with/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      vi.resetModules();
    }
  });
});
