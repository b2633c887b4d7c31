// `tether exec-server` as a real process: where it listens, and what it refuses.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TETHER_BIN, ensureBuilt, startExecServerProcess } from "../../test/support/exec-server-process.js";

function execServer(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [TETHER_BIN, "exec-server", ...args], { stdio: ["ignore", "pipe", "pipe"], env });
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
    // The operator's flag to change: a usage error (exit 2), as README's exit statuses say.
    const r = await execServer(["--listen", "tcp://0.0.0.0:0"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0:0 without TLS: pass --tls-cert and --tls-key, or bind to 127\.0\.0\.1/);
    const token = path.join(dir, "token");
    await writeFile(token, "secret\n", { mode: 0o600 });
    const withToken = await execServer(["--listen", "tcp://0.0.0.0:0", "--token-file", token]);
    expect(withToken.code).toBe(2);
    expect(withToken.stderr).toMatch(/without TLS/);
  });

  it("wants --tls-cert and --tls-key together, files it can read, and a listen address it understands (exit 2)", async () => {
    const half = await execServer(["--listen", "tcp://127.0.0.1:0", "--tls-cert", "/nonexistent.pem"]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);
    const missing = await execServer(["--listen", "tcp://127.0.0.1:0", "--token-file", path.join(dir, "no-such-token")]);
    expect(missing.stderr).toMatch(/--token-file \S+no-such-token: ENOENT/);
    expect(missing.code).toBe(2);
    const bad = await execServer(["--listen", "http://127.0.0.1:80"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/use unix:\/\/\/path\/to\.sock or tcp:\/\/host:port/);
  });
});

describe("tether exec-server's V8 heap flag", () => {
  const nodeArgs = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter(Boolean);

  it("runs the server under node --initial-old-space-size=128 (same pid, bin/tether.js re-executes node), or the flags TETHER_EXEC_SERVER_NODE_FLAGS names", async () => {
    await using server = await startExecServerProcess();
    const argv = await nodeArgs(server.pid);
    expect(argv.slice(1, argv.indexOf(TETHER_BIN))).toEqual(["--initial-old-space-size=128"]);
    expect(argv.slice(argv.indexOf(TETHER_BIN) + 1, argv.indexOf(TETHER_BIN) + 2)).toEqual(["exec-server"]);
    await using plain = await startExecServerProcess({ env: { ...process.env, TETHER_EXEC_SERVER_NODE_FLAGS: "" } });
    const plainArgv = await nodeArgs(plain.pid);
    expect(plainArgv.slice(1, plainArgv.indexOf(TETHER_BIN))).toEqual([]);
    await using custom = await startExecServerProcess({ env: { ...process.env, TETHER_EXEC_SERVER_NODE_FLAGS: "--initial-old-space-size=64 --no-memory-reducer" } });
    const customArgv = await nodeArgs(custom.pid);
    expect(customArgv.slice(1, customArgv.indexOf(TETHER_BIN))).toEqual(["--initial-old-space-size=64", "--no-memory-reducer"]);
  });

  it("refuses TETHER_EXEC_SERVER_NODE_FLAGS that node would not start with: exit 2, naming the flag and what to fix", async () => {
    const withFlags = (flags: string) => execServer(["--listen", `unix://${dir}/flags.sock`, "--cwd", dir], { ...process.env, TETHER_EXEC_SERVER_NODE_FLAGS: flags });
    // Node itself refuses it (without the check: node's "bad option" and exit 9 after the re-exec).
    const unknown = await withFlags("--initial-old-space-size=64 --no-such-flag");
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toMatch(/^tether: TETHER_EXEC_SERVER_NODE_FLAGS="--initial-old-space-size=64 --no-such-flag": node refuses it \(.*bad option: --no-such-flag/);
    expect(unknown.stderr).toMatch(/fix TETHER_EXEC_SERVER_NODE_FLAGS or unset it .*\(INVALID_ARGUMENT\)\n$/);
    const badValue = await withFlags("--initial-old-space-size=lots");
    expect(badValue.code, badValue.stderr).toBe(2);
    expect(badValue.stderr).toMatch(/illegal value for flag --initial-old-space-size=lots/);
    // Not a --flag: it would reach node's command line as the script to run, or as an argument.
    for (const word of ["heap", "-r"]) {
      const odd = await withFlags(`--no-memory-reducer ${word}`);
      expect(odd.code, odd.stderr).toBe(2);
      expect(odd.stderr).toContain(`TETHER_EXEC_SERVER_NODE_FLAGS has "${word}", which is not a --name or --name=value flag`);
    }
    expect(await stat(path.join(dir, "flags.sock")).catch(() => undefined)).toBeUndefined();
  });

  it("does not re-execute when node already has the flag (the image's deploy/tether passes it)", async () => {
    const child = spawn(process.execPath, ["--initial-old-space-size=96", TETHER_BIN, "exec-server", "--listen", `unix://${dir}/given.sock`, "--cwd", dir], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s).includes("listening") && resolve());
        child.once("exit", (code) => reject(new Error(`exec-server exited ${code} before listening`)));
      });
      const argv = await nodeArgs(child.pid!);
      expect(argv.slice(1, argv.indexOf(TETHER_BIN))).toEqual(["--initial-old-space-size=96"]);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });
});

describe("tether exec-server logs", () => {
  it("writes one JSON object per stderr line: start, each call at debug, stop", async () => {
    const server = await startExecServerProcess({ args: ["--log-level", "debug"] });
    const run = spawn(process.execPath, [TETHER_BIN, "run", "--env", server.url, "--", "true"], { stdio: "ignore" });
    expect(await new Promise((resolve) => run.once("close", resolve))).toBe(0);
    server.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const lines = server.stderr().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: "info", name: "exec-server", msg: "listening", url: server.url });
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ level: "debug", msg: "call", method: "/tether.exec.v1.ProcessService/Start", code: "OK" })]));
    expect(lines.at(-2)).toMatchObject({ msg: expect.stringMatching(/^stopping/), signal: "SIGTERM" });
    expect(lines.at(-1)).toMatchObject({ msg: "stopped" });
    await server.close();
  });

  it("takes the level from TETHER_LOG, and refuses a level it does not know with exit 2", async () => {
    const quiet = await startExecServerProcess({ env: { ...process.env, TETHER_LOG: "warn" } });
    quiet.kill("SIGTERM");
    await quiet.exited;
    expect(quiet.stderr()).toBe("");
    await quiet.close();
    const bad = await execServer(["--listen", `unix://${dir}/log.sock`, "--log-level", "loud"]);
    expect(bad.stderr).toMatch(/--log-level "loud" must be one of: trace, debug, info/);
    expect(bad.code).toBe(2);
  });
});

describe("tether exec-server with Codex's door", () => {
  it("serves gRPC and Codex's WebSocket from one server: one `listening` line per --listen, in order", async () => {
    const child = spawn(process.execPath, [TETHER_BIN, "exec-server", "--listen", "ws://127.0.0.1:0", "--listen", `unix://${dir}/both.sock`, "--cwd", dir], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    let stdout = "";
    child.stdout.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (s: string) => {
        stdout += s;
        if (stdout.split("\n").length > 2) resolve();
      });
      child.once("exit", () => reject(new Error(`exited early:\n${stdout}`)));
    });
    child.kill("SIGTERM");
    await exited;
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^listening ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(lines[1]).toBe(`listening unix://${dir}/both.sock`);
  });

  it("refuses Codex's ws:// off loopback, naming wss:// and the TLS flags", async () => {
    const r = await execServer(["--listen", "ws://0.0.0.0:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to serve Codex on 0\.0\.0\.0:0 without TLS: use wss:\/\/ with --tls-cert and --tls-key/);
  });
});
