import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, createWrongCa, type TestCa } from "./test-ca.js";

describe("createTestCa", () => {
  let dir: string;
  let ca: TestCa;
  let wrong: TestCa;
  let server: Server;
  let port: number;
  let served = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-test-ca-"));
    [ca, wrong] = await Promise.all([
      createTestCa(join(dir, "ca"), ["127.0.0.1", "localhost"]),
      createWrongCa(join(dir, "wrong"), ["127.0.0.1", "localhost"]),
    ]);
    server = createServer({
      cert: ca.serverCertPem,
      key: ca.serverKeyPem,
      ca: ca.caCertPem,
      requestCert: true,
      rejectUnauthorized: true,
    }, (socket) => {
      served += 1;
      socket.end("hello");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dial(opts: { ca: Buffer; cert: Buffer; key: Buffer; servername?: string }): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = connect({ host: "127.0.0.1", port, ...opts });
      let data = "";
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => (data += d));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
  }

  it("lets a client that trusts the CA talk mTLS to the server by IP", async () => {
    await expect(dial({ ca: ca.caCertPem, cert: ca.clientCertPem, key: ca.clientKeyPem })).resolves.toBe("hello");
  });

  it("names DNS hosts in the server certificate", async () => {
    await expect(
      dial({ ca: ca.caCertPem, cert: ca.clientCertPem, key: ca.clientKeyPem, servername: "localhost" }),
    ).resolves.toBe("hello");
  });

  it("makes a client that trusts another CA reject the server", async () => {
    // The server sends its CA along with its certificate, so the client sees a foreign root.
    const err: unknown = await dial({ ca: wrong.caCertPem, cert: ca.clientCertPem, key: ca.clientKeyPem }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });

  it("gives a client certificate the server refuses when it comes from the wrong CA", async () => {
    // Under TLS 1.3 the client completes its side of the handshake before the server checks
    // the client certificate, so the refusal shows as the server closing without serving.
    const before = served;
    const outcome: unknown = await dial({ ca: ca.caCertPem, cert: wrong.clientCertPem, key: wrong.clientKeyPem }).catch((e: unknown) => e);
    expect(served).toBe(before);
    expect(outcome).not.toBe("hello");
  });

  it("refuses an empty host list with a message saying what to pass", async () => {
    await expect(createTestCa(join(dir, "none"), [])).rejects.toThrow(/hosts is empty/);
  });
});
