// `tether exec --agent grpcs://…` against a real `tether agent-server` with TLS from a private
// CA and a bearer token: the CA comes from --agent-ca-file, the token from --agent-token-file.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentServerProcess } from "../support/agent-server-process.js";
import { startResponsesServer } from "../support/responses-server.js";
import { runTether } from "../support/tether-cli.js";
import { type TestCa, createTestCa } from "../support/test-ca.js";

describe("tether exec --agent grpcs:// with a private CA", () => {
  let dir: string;
  let ca: TestCa;
  let tokenFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-agent-tls-"));
    ca = await createTestCa(path.join(dir, "ca"), ["127.0.0.1"], { commonName: "tether-agent-test-ca" });
    tokenFile = path.join(dir, "token");
    await writeFile(tokenFile, "agent-secret\n", { mode: 0o600 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the turn through the TLS agent server when the CA is given, and says what to do when it is not", async () => {
    await using model = await startResponsesServer({ script: [[{ type: "message", text: "over tls" }]] });
    const serverEnv = { ...process.env, TETHER_HOME: path.join(dir, "server-home"), OPENAI_BASE_URL: model.url, OPENAI_API_KEY: "test-key", TETHER_LOG: "warn" };
    await using agent = await startAgentServerProcess({
      listen: "tcp://127.0.0.1:0",
      env: serverEnv,
      args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey, "--token-file", tokenFile],
    });
    expect(agent.url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    const clientEnv: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "client-home") };
    for (const key of ["OPENAI_API_KEY", "OPENAI_BASE_URL", "TETHER_AGENT", "TETHER_ENV"]) delete clientEnv[key];
    const args = ["exec", "--agent", agent.url, "--agent-token-file", tokenFile, "-s", "full-access", "-C", dir];

    const ok = await runTether([...args, "--agent-ca-file", ca.caCert, "say hi"], { env: clientEnv, cwd: dir, timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe("over tls\n");
    // grpc-js names the IP as TLS servername; Node's DEP0123 about it is not for the user.
    expect(ok.stderr).not.toContain("DeprecationWarning");

    const untrusted = await runTether([...args, "say hi"], { env: clientEnv, cwd: dir, timeoutMs: 60_000 });
    expect(untrusted.code).toBe(255);
    expect(untrusted.stderr).toMatch(/cannot reach the agent server at grpcs:\/\/127\.0\.0\.1:\d+.*--agent-ca-file/);

    const missing = await runTether([...args, "--agent-ca-file", path.join(dir, "nope.pem"), "say hi"], { env: clientEnv, cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--agent-ca-file");
  });
});
