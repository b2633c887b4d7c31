import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessService } from "../../../gen/tether/exec/v1/process_pb.js";
import { parseEnvTarget } from "../../../clients/environment/env-target.js";
import { type NetworkTarget, createConnection } from "../../../clients/environment/grpc-connection.js";
import { ErrorCode } from "../../common/tether-error.js";
import { ExecCore } from "../exec-core.js";
import { type Harness, failure, startHarness } from "../../../test/support/exec-harness.js";
import { REPO_ROOT } from "../../../test/support/exec-server-process.js";
import { startExecServer } from "./exec-server.js";
import { createTestCa } from "../../../test/support/test-ca.js";

const execFileAsync = promisify(execFile);
const TOKEN = "t0ken-for-tests";

/** A throw-away server certificate (for listen checks that need TLS to get as far as binding). */
async function selfSigned(): Promise<{ cert: Buffer; key: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-ss-"));
  try {
    const ca = await createTestCa(dir, ["localhost"]);
    return { cert: ca.serverCertPem, key: ca.serverKeyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `buf curl` (the real binary from node_modules) and returns stdout, or the failure. */
async function bufCurl(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const buf = path.join(REPO_ROOT, "node_modules", ".bin", "buf");
  try {
    const { stdout, stderr } = await execFileAsync(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 30_000 });
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("exec server security on a Unix socket", () => {
  it("creates the socket with mode 0600", async () => {
    await using h = await startHarness();
    const file = new URL(h.url.replace("unix://", "file://")).pathname;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // And it serves.
    expect((await h.clients.processes.list({})).processes).toEqual([]);
  });
});

describe("exec server socket path", () => {
  let core: ExecCore;
  let dir: string;
  beforeAll(async () => {
    core = await ExecCore.create();
    dir = await mkdtemp(path.join(tmpdir(), "tether-sock-"));
  });
  afterAll(async () => {
    await core?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to take over a live server's socket", async () => {
    await using first = await startExecServer(core, { listen: `unix://${dir}/live.sock` });
    const err = await failure(startExecServer(core, { listen: first.url }));
    expect(err.code).toBe(ErrorCode.AlreadyExists);
    expect(err.message).toMatch(/another server is listening there; stop it or pick another path/);
    // The first one still serves on its socket.
    const conn = createConnection(parseEnvTarget(first.url) as NetworkTarget);
    try {
      expect((await conn.processes.list({})).processes).toEqual([]);
    } finally {
      conn.close();
    }
  });

  it("replaces a stale socket left by a dead server", async () => {
    const stale = `${dir}/stale.sock`;
    // A socket file nobody listens on, as a SIGKILLed server leaves behind.
    execFileSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`]);
    expect((await stat(stale)).isSocket()).toBe(true);
    await using server = await startExecServer(core, { listen: `unix://${stale}` });
    expect(server.url).toBe(`unix://${stale}`);
  });

  it("never deletes a file that is not a socket, and names a missing directory", async () => {
    const file = `${dir}/important.txt`;
    await writeFile(file, "keep me");
    const err = await failure(startExecServer(core, { listen: `unix://${file}` }));
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(err.message).toMatch(/a file that is not a socket is there/);
    expect(await readFile(file, "utf8")).toBe("keep me");
    const missing = await failure(startExecServer(core, { listen: `unix://${dir}/no/such/dir/x.sock` }));
    expect(missing.code).toBe(ErrorCode.NotFound);
    expect(missing.message).toMatch(/directory .*no\/such\/dir does not exist; create it or pick another path/);
  });
});

describe("exec server security on TCP loopback with a token", () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness({ listen: "tcp://127.0.0.1:0", token: TOKEN });
    base = h.url.replace(/^grpc:/, "http:");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("answers UNAUTHENTICATED without a token and with a wrong one", async () => {
    const none = await failure(h.connect({}).processes.list({}));
    expect(none.code).toBe(ErrorCode.Unauthenticated);
    expect(none.message).toMatch(/requires a bearer token/);
    const wrong = await failure(h.connect({ token: "nope" }).processes.list({}));
    expect(wrong.code).toBe(ErrorCode.Unauthenticated);
    expect(wrong.message).toMatch(/token is wrong/);
    expect((await h.clients.processes.list({})).processes).toEqual([]);
  });

  it("guards health and reflection too: buf curl works with the token only", async () => {
    const auth = ["-H", `authorization: Bearer ${TOKEN}`, "--reflect-header", `authorization: Bearer ${TOKEN}`];
    const health = await bufCurl([...auth, `${base}/grpc.health.v1.Health/Check`]);
    expect(health.stderr).toBe("");
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });

    const service = await bufCurl([...auth, "-d", '{"service":"tether.exec.v1.ProcessService"}', `${base}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(service.stdout)).toEqual({ status: "SERVING" });

    const methods = await bufCurl([...auth, "--list-methods", base]);
    expect(methods.ok).toBe(true);
    const listed = methods.stdout.trim().split("\n");
    expect(listed).toEqual(expect.arrayContaining([
      "tether.exec.v1.ProcessService/Start",
      "tether.exec.v1.ProcessService/Attach",
      "tether.exec.v1.SessionService/OpenSession",
      "grpc.health.v1.Health/Check",
    ]));

    // Without the token even reflection is refused (buf then says it cannot find the service).
    const noReflection = await bufCurl(["-v", `${base}/grpc.health.v1.Health/Check`]);
    expect(noReflection.ok).toBe(false);
    expect(noReflection.stderr).toMatch(/Grpc-Status: 16/);
    expect(noReflection.stderr).toMatch(/requires%20a%20bearer%20token/);
    // Reflection with the token, the call itself without: the call is refused.
    const noCallToken = await bufCurl(["--reflect-header", `authorization: Bearer ${TOKEN}`, `${base}/grpc.health.v1.Health/Check`]);
    expect(noCallToken.ok).toBe(false);
    expect(noCallToken.stderr).toMatch(/unauthenticated/i);
  });

  it("serves a connect-node gRPC client: Start and Attach", async () => {
    // connect-node's gRPC transport always speaks HTTP/2 (there is no httpVersion option in v2).
    const transport = createGrpcTransport({ baseUrl: base });
    const client = createClient(ProcessService, transport);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const started = await client.start({ processId: "connect-1", spec: { argv: ["sh", "-c", "echo from connect; exit 4"] } }, { headers });
    expect(started.created).toBe(true);
    let out = "";
    let code: number | undefined;
    for await (const ev of client.attach({ processId: "connect-1" }, { headers })) {
      if (ev.event.case === "output") out += Buffer.from(ev.event.value.data).toString();
      if (ev.event.case === "exited") code = ev.event.value.status?.code;
    }
    expect(out).toBe("from connect\n");
    expect(code).toBe(4);
    await expect(client.list({}, {})).rejects.toMatchObject({ code: 16 });
  });
});

describe("exec server listen checks", () => {
  let core: ExecCore;
  beforeAll(async () => {
    core = await ExecCore.create();
  });
  afterAll(async () => {
    await core?.close();
  });

  it("refuses a non-loopback TCP address without TLS, and without a token", async () => {
    const noTls = await failure(startExecServer(core, { listen: "tcp://0.0.0.0:0", token: TOKEN }));
    expect(noTls.code).toBe(ErrorCode.FailedPrecondition);
    expect(noTls.message).toMatch(/refusing to listen on 0\.0\.0\.0:0 without TLS: pass --tls-cert and --tls-key, or bind to 127\.0\.0\.1/);
    const noToken = await failure(
      startExecServer(core, { listen: "tcp://0.0.0.0:0", tls: { cert: Buffer.from("x"), key: Buffer.from("y") } }),
    );
    expect(noToken.code).toBe(ErrorCode.FailedPrecondition);
    expect(noToken.message).toMatch(/without a bearer token/);
  });

  it("says when the port is taken, or the address is not this machine's", async () => {
    await using first = await startExecServer(core, { listen: "tcp://127.0.0.1:0" });
    const port = first.url.split(":").at(-1);
    const taken = await failure(startExecServer(core, { listen: `tcp://127.0.0.1:${port}` }));
    expect(taken.code).toBe(ErrorCode.AlreadyExists);
    expect(taken.message).toMatch(/the address is in use; stop the other server or pick another port/);
    const foreign = await failure(startExecServer(core, { listen: "tcp://192.0.2.1:0", token: TOKEN, tls: await selfSigned() }));
    expect(foreign.code).toBe(ErrorCode.InvalidArgument);
    expect(foreign.message).toMatch(/no interface of this machine has that address/);
  });

  it("rejects listen addresses it does not understand, naming the expected forms", async () => {
    const relative = await failure(startExecServer(core, { listen: "unix://relative.sock" }));
    expect(relative.code).toBe(ErrorCode.InvalidArgument);
    expect(relative.message).toMatch(/must be absolute/);
    const junk = await failure(startExecServer(core, { listen: "http://x" }));
    expect(junk.message).toMatch(/use unix:\/\/\/path\/to\.sock or tcp:\/\/host:port/);
  });
});
