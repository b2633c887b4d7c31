// The Codex front door's transport: bad frames are answered with JSON-RPC errors and the
// connection keeps serving; the bearer token is checked at the upgrade; wss:// with TLS;
// a frame over the size bound closes only its own connection.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa } from "../../../test/support/test-ca.js";
import { ExecCore } from "../exec-core.js";
import { type CodexServer, startCodexServer } from "./codex-server.js";
import { CodexTestClient } from "./codex-test-client.js";

let dir: string;
let core: ExecCore;
let server: CodexServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-codex-srv-"));
  core = await ExecCore.create({ defaultCwd: dir, cgroups: false });
  server = await startCodexServer(core, { listen: "ws://127.0.0.1:0", maxMessageBytes: 4 << 20 });
});
afterAll(async () => {
  await server?.close();
  await core?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A request that must still work on the same connection after each bad frame. */
async function stillServes(c: CodexTestClient): Promise<void> {
  const answer = await c.request("fs/getMetadata", { path: `file://${dir}`, sandbox: null });
  expect(answer.result).toMatchObject({ isDirectory: true });
}

describe("Codex front door: bad frames", () => {
  it("answers each bad frame with a JSON-RPC error and keeps serving the connection", async () => {
    const c = await CodexTestClient.connect(server.url);
    await c.initialize();
    c.ws.send("this is not json");
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    c.ws.send("[1,2]");
    c.ws.send('{"id":{"x":1},"method":"fs/getMetadata","params":{}}');
    c.ws.send('{"method":"process/bogus","params":{}}');
    const strays = await c.waitForStray(5);
    expect(strays.map((s) => [s.id, s.error?.code])).toEqual([
      [null, -32700],
      [null, -32700],
      [null, -32600],
      [null, -32600],
      [-1, -32600],
    ]);
    expect(strays[0]!.error!.message).toMatch(/not JSON/);
    expect(strays[1]!.error!.message).toMatch(/binary frames are not accepted/);
    expect(strays[2]!.error!.message).toMatch(/batches are not supported/);
    expect(strays[4]!.error!.message).toMatch(/only client notification is initialized/);

    const unknown = await c.request("process/teleport", {});
    expect(unknown.error).toMatchObject({ code: -32601 });
    expect(unknown.error!.message).toMatch(/not served by tether's Codex front door/);

    const wrongTypes = await c.request("process/start", { processId: "p1", argv: "echo hi", cwd: `file://${dir}`, env: {}, tty: "yes" });
    expect(wrongTypes.error).toMatchObject({ code: -32602 });
    expect(wrongTypes.error!.message).toMatch(/^process\/start: argv /);

    const notUrl = await c.request("fs/readFile", { path: "/etc/passwd", sandbox: null });
    expect(notUrl.error).toMatchObject({ code: -32602 });
    expect(notUrl.error!.message).toMatch(/path .* is not a file:\/\/ URL/);

    // Huge but under the frame bound: the core's own limit answers, naming it.
    const hugeArgv = await c.request("process/start", { processId: "p2", argv: ["/bin/echo", "x".repeat(900_000), "y".repeat(200_000)], cwd: `file://${dir}`, env: {}, tty: false });
    expect(hugeArgv.error).toMatchObject({ code: -32602 });
    expect(hugeArgv.error!.message).toMatch(/spec\.argv is \d+ bytes; the limit is 1048576/);

    const noParams = await c.request("process/terminate", null);
    expect(noParams.error).toMatchObject({ code: -32602 });
    await stillServes(c);
    await c.close();
  });

  it("answers 500 pipelined requests, past the in-flight bound (the socket is paused, not dropped)", async () => {
    const c = await CodexTestClient.connect(server.url);
    await c.initialize();
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => c.request("fs/getMetadata", { path: `file://${dir}/missing-${i}`, sandbox: null })));
    expect(answers.every((a) => a.error?.code === -32004)).toBe(true);
    await stillServes(c);
    await c.close();
  });

  it("refuses methods before initialize and a second initialize", async () => {
    const c = await CodexTestClient.connect(server.url);
    const early = await c.request("fs/getMetadata", { path: `file://${dir}`, sandbox: null });
    expect(early.error).toMatchObject({ code: -32600, message: "fs/getMetadata before initialize: send initialize first" });
    await c.initialize();
    const again = await c.request("initialize", { clientName: "x" });
    expect(again.error).toMatchObject({ code: -32600, message: "initialize was already called on this connection" });
    await stillServes(c);
    await c.close();
  });

  it("closes a connection whose frame is over the bound (1009) and goes on serving others", async () => {
    const c = await CodexTestClient.connect(server.url);
    await c.initialize();
    c.ws.send(JSON.stringify({ id: 9, method: "fs/writeFile", params: { path: `file://${dir}/big`, dataBase64: "A".repeat(5 << 20), sandbox: null } }));
    expect((await c.closed).code).toBe(1009);
    const next = await CodexTestClient.connect(server.url);
    await next.initialize();
    await stillServes(next);
    await next.close();
  });
});

describe("Codex front door: bearer token and TLS", () => {
  it("wants `Authorization: Bearer <token>` at the upgrade", async () => {
    await using guarded = await startCodexServer(core, { listen: "ws://127.0.0.1:0", token: "s3cret" });
    await expect(CodexTestClient.connect(guarded.url)).rejects.toThrow(/HTTP 401/);
    await expect(CodexTestClient.connect(guarded.url, { headers: { authorization: "Bearer wrong" } })).rejects.toThrow(/HTTP 401/);
    const c = await CodexTestClient.connect(guarded.url, { headers: { authorization: "Bearer s3cret" } });
    await c.initialize();
    await stillServes(c);
    await c.close();
  });

  it("serves wss:// with the server's certificate", async () => {
    const ca = await createTestCa(path.join(dir, "ca"), ["127.0.0.1"]);
    await using tls = await startCodexServer(core, { listen: "wss://127.0.0.1:0", tls: { cert: ca.serverCertPem, key: ca.serverKeyPem } });
    expect(tls.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    await expect(CodexTestClient.connect(tls.url)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    const c = await CodexTestClient.connect(tls.url, { ca: ca.caCertPem });
    await c.initialize();
    await stillServes(c);
    await c.close();
  });

  it("refuses plain ws:// off loopback and wss:// without a certificate", async () => {
    await expect(startCodexServer(core, { listen: "ws://0.0.0.0:0" })).rejects.toThrow(/without TLS: use wss:\/\//);
    await expect(startCodexServer(core, { listen: "wss://127.0.0.1:0" })).rejects.toThrow(/wss:\/\/ needs --tls-cert and --tls-key/);
    await expect(startCodexServer(core, { listen: "ws://127.0.0.1" })).rejects.toThrow(/not understood|use ws:\/\//);
  });
});
