// The locally built images (scripts/build-image.sh) run: the base starts, and the exec-server
// image carries a working node 20 with zsh and bubblewrap beside it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dockerImageExists, dockerOrSkip } from "./dockerd.js";

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

  it("runs node 20, zsh and bwrap in the exec-server image", async (ctx) => {
    await requireImage(SERVER, (note) => ctx.skip(note));
    const { stdout } = await execFileAsync("docker", [
      "run", "--rm", "--network", "none", SERVER,
      "sh", "-c", "node -p process.versions.node && for c in zsh bwrap tether; do command -v $c; done",
    ]);
    const [version, ...paths] = stdout.trim().split("\n");
    expect(version).toMatch(/^20\./);
    expect(paths).toEqual(["/usr/bin/zsh", "/usr/bin/bwrap", "/usr/local/bin/tether"]);
  });
});
