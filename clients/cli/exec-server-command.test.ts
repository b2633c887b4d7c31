// `tether exec-server` as a real process: where it listens, and what it refuses.
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TETHER_BIN, ensureBuilt, startExecServerProcess } from "../../test/support/exec-server-process.js";

function execServer(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [TETHER_BIN, "exec-server", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "tether-es-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tether exec-server", () => {
  it("prints `listening <url>` first, with the real port for tcp://127.0.0.1:0", async () => {
    await using tcp = await startExecServerProcess({ listen: "tcp://127.0.0.1:0" });
    expect(tcp.url).toMatch(/^grpc:\/\/127\.0\.0\.1:[1-9]\d*$/);
    await using unix = await startExecServerProcess();
    expect(unix.url).toMatch(/^unix:\/\/\/.*\.sock$/);
    expect((await stat(unix.url.slice("unix://".length))).mode & 0o777).toBe(0o600);
  });

  it("refuses a non-loopback address without TLS and a token, saying what to pass", async () => {
    const r = await execServer(["--listen", "tcp://0.0.0.0:0"]);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0:0 without TLS: pass --tls-cert and --tls-key, or bind to 127\.0\.0\.1/);
    const token = path.join(dir, "token");
    await writeFile(token, "secret\n", { mode: 0o600 });
    const withToken = await execServer(["--listen", "tcp://0.0.0.0:0", "--token-file", token]);
    expect(withToken.code).toBe(255);
    expect(withToken.stderr).toMatch(/without TLS/);
  });

  it("wants --tls-cert and --tls-key together, and a listen address it understands", async () => {
    const half = await execServer(["--listen", "tcp://127.0.0.1:0", "--tls-cert", "/nonexistent.pem"]);
    expect(half.code).toBe(255);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);
    const bad = await execServer(["--listen", "http://127.0.0.1:80"]);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toMatch(/use unix:\/\/\/path\/to\.sock or tcp:\/\/host:port/);
  });
});
