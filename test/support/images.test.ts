// The locally built images (scripts/build-image.sh) run: the base starts, and the exec-server
// image carries the project's node (the same as the host's, 24) with zsh and bubblewrap beside it.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dockerImageExists, dockerOrSkip } from "./dockerd.js";
import { createTestCa } from "./test-ca.js";

const execFileAsync = promisify(execFile);
const docker = await dockerOrSkip();
const BASE = "tether-base:bookworm";
const SERVER = "tether-exec-server:latest";

/** Missing images fail in CI (make test builds them) and skip elsewhere, with the fix. */
async function requireImage(image: string, skip: (note: string) => void): Promise<void> {
  if (!docker.ok || (await dockerImageExists(docker.socketPath, image))) return;
  const reason = `image ${image} is missing: build it with scripts/build-image.sh (make image)`;
  if (process.env.CI === "true") throw new Error(reason);
  skip(reason);
}

describe.skipIf(!docker.ok)("local images", () => {
  it("starts the base image", async (ctx) => {
    await requireImage(BASE, (note) => ctx.skip(note));
    await expect(execFileAsync("docker", ["run", "--rm", BASE, "true"])).resolves.toBeDefined();
  });

  it("runs the project's node, zsh and bwrap in the exec-server image", async (ctx) => {
    await requireImage(SERVER, (note) => ctx.skip(note));
    const { stdout } = await execFileAsync("docker", [
      "run", "--rm", "--network", "none", SERVER,
      "sh", "-c", "node -p process.versions.node && for c in zsh bwrap tether; do command -v $c; done",
    ]);
    const [version, ...paths] = stdout.trim().split("\n");
    expect(version).toBe(process.versions.node);
    expect(paths).toEqual(["/usr/bin/zsh", "/usr/bin/bwrap", "/usr/local/bin/tether"]);
  });

  it("serves TLS with h2 from the default command once token and certificates are mounted", async (ctx) => {
    await requireImage(SERVER, (note) => ctx.skip(note));
    const dir = await mkdtemp(join(tmpdir(), "tether-image-"));
    const name = `tether-images-test-${process.pid}`;
    try {
      const ca = await createTestCa(join(dir, "ca"), ["tether-exec-server"]);
      const secrets = join(dir, "secrets");
      await mkdir(secrets);
      await copyFile(ca.serverCert, join(secrets, "tls.crt"));
      await copyFile(ca.serverKey, join(secrets, "tls.key"));
      await writeFile(join(secrets, "token"), "image-test-token\n", { mode: 0o600 });
      await execFileAsync("docker", ["run", "-d", "--name", name, "-v", `${secrets}:/run/secrets:ro`, SERVER]);

      // Ready when the server says it listens; its log is the only event the container gives.
      const logs = spawn("docker", ["logs", "-f", name], { stdio: ["ignore", "pipe", "pipe"] });
      let seen = "";
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer): void => {
          seen += d.toString();
          if (/listening/i.test(seen)) resolve();
        };
        logs.stdout.on("data", onData);
        logs.stderr.on("data", onData);
        logs.on("exit", () => reject(new Error(`the exec server exited before listening: ${seen}`)));
      });
      logs.kill();

      const { stdout: ip } = await execFileAsync("docker", ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name]);
      const socket = connect({ host: ip.trim(), port: 7070, servername: "tether-exec-server", ca: ca.caCertPem, ALPNProtocols: ["h2"] });
      await once(socket, "secureConnect");
      expect(socket.authorized).toBe(true);
      expect(socket.alpnProtocol).toBe("h2");
      socket.destroy();
    } finally {
      await execFileAsync("docker", ["rm", "-f", name]).catch(() => undefined /* never started */);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
