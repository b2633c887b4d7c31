// mTLS against `tether exec-server --tls-client-ca`: a client certificate signed by that CA
// gets in (and runs a command); no certificate, or one from another CA, does not.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectionOptions, type NetworkTarget, createConnection } from "../../../clients/environment/grpc-connection.js";
import { parseEnvTarget } from "../../../clients/environment/env-target.js";
import { ErrorCode } from "../../common/tether-error.js";
import { type ExecServerProcess, startExecServerProcess } from "../../../test/support/exec-server-process.js";
import { failure } from "../../../test/support/failure.js";
import { type TestCa, createTestCa, createWrongCa } from "../../../test/support/test-ca.js";
import { drain } from "../../../test/support/exec-harness.js";

describe("exec server with --tls-client-ca (mTLS)", () => {
  let dir: string;
  let ca: TestCa;
  let wrong: TestCa;
  let server: ExecServerProcess;
  let target: NetworkTarget;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-mtls-"));
    ca = await createTestCa(path.join(dir, "ca"), ["127.0.0.1"]);
    wrong = await createWrongCa(path.join(dir, "wrong"), ["127.0.0.1"]);
    server = await startExecServerProcess({
      listen: "tcp://127.0.0.1:0",
      args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey, "--tls-client-ca", ca.caCert],
    });
    const port = server.url.split(":").at(-1)!;
    target = parseEnvTarget(`grpcs://127.0.0.1:${port}`) as NetworkTarget;
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function withClient<T>(options: ConnectionOptions, use: (c: ReturnType<typeof createConnection>) => Promise<T>): Promise<T> {
    const c = createConnection(target, options);
    try {
      return await use(c);
    } finally {
      c.close();
    }
  }

  it("serves a client whose certificate the CA signed: a command runs", async () => {
    expect(server.url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    const out = await withClient({ caPem: ca.caCertPem, clientCertPem: ca.clientCertPem, clientKeyPem: ca.clientKeyPem }, async (c) => {
      await c.processes.start({ processId: "mtls", spec: { argv: ["echo", "over mtls"] } });
      return drain(c.processes.attach({ processId: "mtls" }));
    });
    expect(out.stdout.toString()).toBe("over mtls\n");
    expect(out.exit?.code).toBe(0);
  });

  it.each([
    ["no client certificate", () => ({ caPem: ca.caCertPem })],
    ["a certificate from another CA", () => ({ caPem: ca.caCertPem, clientCertPem: wrong.clientCertPem, clientKeyPem: wrong.clientKeyPem })],
  ])("refuses a client with %s before any call runs", async (_name, options) => {
    const err = await withClient({ ...options(), keepaliveMs: 1000 }, (c) => failure(c.environment.getInfo({}, { timeoutMs: 20_000 })));
    // The handshake fails, so the call never reaches a handler: UNAVAILABLE, not a status of ours.
    expect(ErrorCode[err.code]).toBe("Unavailable");
  });

  it("is not reached by a client that trusts another CA (the server's certificate is checked too)", async () => {
    const err = await withClient({ caPem: wrong.caCertPem, clientCertPem: ca.clientCertPem, clientKeyPem: ca.clientKeyPem }, (c) =>
      failure(c.environment.getInfo({}, { timeoutMs: 20_000 })),
    );
    expect(ErrorCode[err.code]).toBe("Unavailable");
  });
});
