// tether exec --env grpcs://… with the system's CAs (no --ca-file, no --token-file): the thread's
// exec session opens on the lean client (early-session.ts) over TLS, AGENTS.md is read through
// it, and the full environment runs the model's command on the lean transport, TLS too. The
// test's CA is a "system" CA for the CLI by NODE_EXTRA_CA_CERTS; one from another CA must fail
// the run clearly (exit 255, saying what to check). With --token-file (and --ca-file) the same
// lean path carries them. grpc-js's trace (GRPC_TRACE) shows it is never loaded.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, startExecServerProcess } from "../../../test/support/exec-server-process.js";
import { runsEchoThere, startResponsesServer, type Script } from "../../../test/support/responses-server.js";
import { type TestCa, createTestCa } from "../../../test/support/test-ca.js";
import { agentCliEnv, runTether } from "../../../test/support/tether-cli.js";

let dir: string;
let work: string;
let ca: TestCa;
let otherCa: TestCa;
let server: ExecServerProcess;
let tokenServer: ExecServerProcess;
let tokenFile: string;
let wrongTokenFile: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-lean-tls-"));
  work = path.join(dir, "work");
  await mkdir(work);
  ca = await createTestCa(path.join(dir, "ca"), ["127.0.0.1"]);
  otherCa = await createTestCa(path.join(dir, "other-ca"), ["127.0.0.1"], { commonName: "tether-other-ca" });
  server = await startExecServerProcess({ listen: "tcp://127.0.0.1:0", args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey] });
  tokenFile = path.join(dir, "token");
  wrongTokenFile = path.join(dir, "wrong-token");
  await writeFile(tokenFile, "s3cret-token-for-the-lean-path\n", { mode: 0o600 });
  await writeFile(wrongTokenFile, "not-the-token\n", { mode: 0o600 });
  tokenServer = await startExecServerProcess({ listen: "tcp://127.0.0.1:0", args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey, "--token-file", tokenFile] });
});
afterAll(async () => {
  await server?.close();
  await tokenServer?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs tether exec against `url` with grpc-js's trace on: a line of it means grpc-js was loaded. */
async function exec(script: Script, url: string, extraCaFile: string | undefined, flags: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await using model = await startResponsesServer({ script });
  const env = agentCliEnv(path.join(dir, "home"), model.url, { GRPC_TRACE: "channel", GRPC_VERBOSITY: "DEBUG" });
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCaFile !== undefined) env.NODE_EXTRA_CA_CERTS = extraCaFile;
  const r = await runTether(["exec", "--env", url, ...flags, "-C", work, "--sandbox", "workspace-write", "go"], { env, cwd: work });
  if (r.code === 0) model.check();
  return r;
}

const GRPC_JS_TRACE = /\| (channel|subchannel) \|/;


describe("tether exec --env grpcs://… trusting the server by the system's CAs", () => {
  it("reads AGENTS.md there for the first request, then runs the model's command there, over TLS", async () => {
    expect(server.url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    await writeFile(path.join(work, "AGENTS.md"), "Answer in French.\n");
    const turn = runsEchoThere("ran-over-tls");
    try {
      const r = await exec(turn.script, server.url, ca.caCert);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe("ran");
      expect(r.stderr).not.toMatch(GRPC_JS_TRACE);
      expect(turn.instructions()).toContain("Answer in French.");
    } finally {
      await rm(path.join(work, "AGENTS.md"), { force: true });
    }
  });

  it("fails clearly when the server's certificate is from a CA the client does not trust: exit 255, what to check", async () => {
    const r = await exec([[{ type: "message", text: "never asked" }]], server.url, otherCa.caCert);
    expect(r.code, r.stderr).toBe(255);
    expect(r.stderr).toContain(`cannot reach ${server.url}`);
    expect(r.stderr).toContain("the server's certificate is not trusted here: pass --ca-file with the CA that signed it");
  });
});


describe("tether exec --env grpcs://… --token-file (and --ca-file)", () => {
  it("opens the session and runs the command on the lean client too, token and CA carried", async () => {
    const r = await exec(runsEchoThere("ran-over-tls").script, tokenServer.url, undefined, ["--token-file", tokenFile, "--ca-file", ca.caCert]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("ran");
    expect(r.stderr).not.toMatch(GRPC_JS_TRACE);
  });

  it("with the system's CAs and a token alone", async () => {
    const r = await exec(runsEchoThere("ran-over-tls").script, tokenServer.url, ca.caCert, ["--token-file", tokenFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("ran");
    expect(r.stderr).not.toMatch(GRPC_JS_TRACE);
  });

  it("a wrong token fails the start (exit 255) saying the token is wrong", async () => {
    const r = await exec([[{ type: "message", text: "never asked" }]], tokenServer.url, undefined, ["--token-file", wrongTokenFile, "--ca-file", ca.caCert]);
    expect(r.code, r.stderr).toBe(255);
    expect(r.stderr).toContain("the bearer token is wrong");
  });

  it("--ca-file with another CA fails clearly (exit 255)", async () => {
    const r = await exec([[{ type: "message", text: "never asked" }]], tokenServer.url, undefined, ["--token-file", tokenFile, "--ca-file", otherCa.caCert]);
    expect(r.code, r.stderr).toBe(255);
    expect(r.stderr).toContain("the server's certificate is not trusted here: pass --ca-file");
  });
});
