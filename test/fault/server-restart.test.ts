// A call made while the exec server restarts waits for it and completes once it is back,
// within its deadline (waitForReady, which grpc-js reads from metadata options only), and
// without it the same call fails fast: the option is what makes it wait.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnection, type ExecClients } from "../../clients/environment/grpc-connection.js";
import { createLeanConnection } from "../../clients/environment/lean-connection.js";
import { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { type ExecServerProcess, startExecServerProcess } from "../support/exec-server-process.js";
import { failure } from "../support/failure.js";

/** Resolves once the channel has noticed the server is gone (it left READY). */
function notReady(client: grpc.Client): Promise<void> {
  const channel = client.getChannel();
  return new Promise((resolve) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.IDLE) return resolve();
      channel.watchConnectivityState(state, Infinity, check);
    };
    check();
  });
}

const transports = [
  {
    name: "grpc-js",
    connect: (socket: string) => createConnection({ kind: "unix", path: socket }),
    // grpc-js queues calls while it is still CONNECTING even without waitForReady: wait until it gave up.
    settle: (conn: ExecClients) => notReady((conn.environment as unknown as { raw: grpc.Client }).raw),
  },
  { name: "lean" as const, connect: (socket: string) => createLeanConnection({ kind: "unix", path: socket }), settle: async () => {} },
];

describe.each(transports)("a call made while the exec server restarts ($name)", (transport) => {
  let dir: string;
  let socket: string;
  let server: ExecServerProcess | undefined;
  let conn: ExecClients;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-restart-"));
    socket = path.join(dir, "exec.sock");
    server = await startExecServerProcess({ listen: `unix://${socket}` });
    conn = transport.connect(socket);
    await conn.environment.getInfo({}, { timeoutMs: 10_000 });
  });
  afterAll(async () => {
    conn?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function restart(during: () => Promise<void>): Promise<void> {
    await server!.close();
    await transport.settle(conn);
    await during();
    server = await startExecServerProcess({ listen: `unix://${socket}` });
  }

  it("fails fast without waitForReady, and with it completes once the server is back, within its deadline", async () => {
    let waiting: Promise<unknown> | undefined;
    await restart(async () => {
      const fast = await failure(conn.environment.getInfo({}, { timeoutMs: 30_000 }));
      expect(fast.code).toBe(ErrorCode.Unavailable);
      waiting = conn.environment.getInfo({}, { timeoutMs: 30_000, waitForReady: true });
    });
    const info = (await waiting) as { serverVersion: string };
    expect(info.serverVersion).not.toBe("");
  });

  it("gives up UNAVAILABLE when the server is not back within readyTimeoutMs", async () => {
    await restart(async () => {
      const err = await failure(conn.environment.getInfo({}, { timeoutMs: 30_000, waitForReady: true, readyTimeoutMs: 200 }));
      expect(err.code).toBe(ErrorCode.Unavailable);
      expect(err.message).toMatch(/no connection within 200 ms/);
    });
  });

  it("GrpcEnvironment.info() issued during the restart completes once the server is back", async () => {
    const env = await GrpcEnvironment.connect({ kind: "unix", path: socket }, { connectTimeoutMs: 10_000, transport: transport.name === "lean" ? "lean" : "grpc-js" });
    try {
      let waiting: Promise<unknown> | undefined;
      await restart(async () => {
        waiting = env.info();
      });
      expect(((await waiting) as { serverVersion: string }).serverVersion).not.toBe("");
    } finally {
      await env.close();
    }
  });
});
