// The exec server dies under a client: SIGKILL of the server process, and `docker kill`
// of the container behind a docker environment. The client answers UNAVAILABLE with a
// message that says what happened, within its reconnect budget, and never hangs.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "../../clients/environment/environment.js";
import { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { startDockerEnvironment } from "../../clients/environment/docker-provider.js";
import { DOCKER_IMAGE, dockerBackend } from "../support/backends.js";
import { type ExecServerProcess, startExecServerProcess } from "../support/exec-server-process.js";
import { failure } from "../support/failure.js";
import { attachLive } from "./seq-output.js";

const execFileAsync = promisify(execFile);
const BUDGET_MS = 1_500;


describe("the exec server is SIGKILLed", () => {
  let server: ExecServerProcess;
  let env: GrpcEnvironment;
  const socket = () => server.url.slice("unix://".length);

  beforeAll(async () => {
    server = await startExecServerProcess();
    env = await GrpcEnvironment.connect({ kind: "unix", path: socket() }, { reconnect: { giveUpAfterMs: BUDGET_MS, initialBackoffMs: 20, maxBackoffMs: 200 } });
  });
  afterAll(async () => {
    await env?.close();
    await server?.close();
  });

  it("fails calls and open streams with UNAVAILABLE naming the server, within the reconnect budget", async () => {
    const { pending } = await attachLive(env, "long");

    server.kill("SIGKILL");
    expect((await server.exited).signal).toBe("SIGKILL");

    const streamErr = await failure(pending);
    const callErr = await failure(env.processes.list());
    for (const err of [streamErr, callErr]) {
      expect(err.code).toBe(ErrorCode.Unavailable);
      expect(err.message).toContain(`unix://${socket()}`);
      expect(err.message).toMatch(/could not reconnect within 1500 ms/);
    }
    // The message names the 1500 ms reconnect budget as what ended them: not a call deadline,
    // not the default minute (no wall-clock bound, which a loaded machine would break).
    // Closing a dead environment does not hang or throw.
    await env.close();
  });
});

const docker = await dockerBackend.available();
if (!docker.ok) {
  if (process.env.CI === "true") throw new Error(`CI=true but the docker fault test cannot run: ${docker.reason}`);
  console.warn(`skipping the docker kill test: ${docker.reason}`);
}

describe.skipIf(!docker.ok)("the container under a docker environment is killed", () => {
  const name = `tether-fault-${randomBytes(4).toString("hex")}`;
  let env: Environment;

  beforeAll(async () => {
    env = await startDockerEnvironment({ name, image: DOCKER_IMAGE });
  });
  afterAll(async () => {
    await env?.close();
  });

  it("reports the dead container on the next call and on open streams instead of hanging", async () => {
    const { pending } = await attachLive(env, "long");

    await execFileAsync("docker", ["kill", name]);

    for (const err of [await failure(pending), await failure(env.processes.list()), await failure(env.info())]) {
      expect(err.code).toBe(ErrorCode.Unavailable);
      expect(err.message).toContain(`docker container ${name}`);
      expect(err.message).toMatch(/exited|no longer exists/);
    }
  });
});
