// The opt-in warm pool against a real dockerd and the locally built exec-server image.
import Dockerode from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { skipOutsideCi } from "../../test/support/ci-must-run.js";
import { dockerImageExists, dockerOrSkip } from "../../test/support/dockerd.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { DEFAULT_IMAGE } from "./env-target.js";
import { ENV_LABEL } from "./docker-provider.js";
import { DockerEnvironmentPool } from "./docker-environment-pool.js";

const docker = await dockerOrSkip();
const skip = skipOutsideCi(
  !docker.ok ? docker.reason : (await dockerImageExists(docker.socketPath, DEFAULT_IMAGE)) ? undefined : `image ${DEFAULT_IMAGE} is missing (make image)`,
  "the docker pool test",
);

/** Names of the containers this test process owns. */
async function ours(client: Dockerode): Promise<string[]> {
  const all = await client.listContainers({ all: true, filters: { label: [`${ENV_LABEL}=1`, `tether.owner-pid=${process.pid}`] } });
  return all.map((c) => c.Names[0]!.replace(/^\//, "")).sort();
}

describe.skipIf(skip)("DockerEnvironmentPool", () => {
  const client = new Dockerode();
  const pool = new DockerEnvironmentPool({ size: 1 });
  afterAll(() => pool.close());

  it("hands out a started environment, starts its replacement, and removes what nobody took on close", async () => {
    await pool.ready();
    const env = await pool.take();
    await env.processes.start("hi", { argv: ["echo", "warm"], stdinOpen: false });
    let out = "";
    for await (const ev of env.processes.attach("hi")) if (ev.event.case === "output") out += Buffer.from(ev.event.value.data).toString();
    expect(out).toBe("warm\n");

    await pool.ready();
    const both = await ours(client);
    expect(both).toHaveLength(2);
    expect(both).toContain(env.containerName);

    await env.close();
    await env.removed;
    await pool.close();
    expect(await ours(client)).toEqual([]);
    await expect(pool.take()).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
  });
});
