// `tether run` on an exec server (the lean client in dist/tether.cjs) starts from a V8 code
// cache that bin/tether.js makes after a run reached its command's exit status (issue 18: node's
// compile cache holds only top-level code, so each start compiled the run path's functions
// again). The real CLI against a real exec server: the cache is made once, taken by the next run
// (not rewritten), not made by a run that never reached a command (no server, `run --help`),
// nor with NODE_DISABLE_COMPILE_CACHE=1; what `tether run` guarantees holds with it taken
// (stdin and stdout byte-exact, the command's exit status, a signal's 128+n), and the split
// CLI it imports for other runs prints no warning about the loader.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, TETHER_BIN, startExecServerProcess } from "../support/exec-server-process.js";
import { runTether } from "../support/tether-cli.js";

let dir: string;
let server: ExecServerProcess;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-run-cache-"));
  server = await startExecServerProcess();
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tether run's code cache", () => {
  it("is made by a run that reached its command's exit status, then taken (not rewritten); none from a run that reached no command, or with NODE_DISABLE_COMPILE_CACHE=1", async () => {
    const cacheDir = path.join(dir, "compile-cache");
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home"), NODE_COMPILE_CACHE: cacheDir };
    delete env.TETHER_LEAN;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const ours = path.join(cacheDir, `tether-${process.getuid!()}`); // this user's own directory in node's
    const caches = async () => (await readdir(ours).catch(() => [] as string[])).filter((n) => n.startsWith("tether-run-"));

    // No server: the lean client ran, but never as far as a command.
    const unreachable = await runTether(["run", "--env", `unix://${path.join(dir, "none.sock")}`, "--", "true"], { env });
    expect(unreachable.code).toBe(255);
    expect(unreachable.stderr).toMatch(/cannot reach/);
    const help = await runTether(["run", "--help"], { env });
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(await caches()).toEqual([]);

    const first = await runTether(["run", "--env", server.url, "--", "sh", "-c", "cat; exit 7"], { env, input: "hello\n" });
    expect(first).toMatchObject({ code: 7, stdout: "hello\n", stderr: "" });
    const [made, ...more] = await caches();
    expect(made).toMatch(/\.bin$/);
    expect(more).toEqual([]);
    const before = await stat(path.join(ours, made!));

    // Taken: the same guarantees, and the cache stays as it was.
    const second = await runTether(["run", "--env", server.url, "--", "sh", "-c", "cat; exit 3"], { env, input: "again\n" });
    expect(second).toMatchObject({ code: 3, stdout: "again\n", stderr: "" });
    const killed = await runTether(["run", "--env", server.url, "--", "sh", "-c", "kill -TERM $$"], { env });
    expect(killed.code).toBe(143);
    expect(await caches()).toEqual([made]);
    expect((await stat(path.join(ours, made!))).mtimeMs).toBe(before.mtimeMs);

    await rm(cacheDir, { recursive: true, force: true });
    const plain = await runTether(["run", "--env", server.url, "--", "true"], { env: { ...env, NODE_DISABLE_COMPILE_CACHE: "1" } });
    expect(plain.code).toBe(0);
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it("a run the full CLI reads (a malformed flag) says what is wrong, with no warning about how the bundle was loaded", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home"), NODE_COMPILE_CACHE: path.join(dir, "compile-cache-2") };
    delete env.TETHER_LEAN;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const result = await runTether(["run", "--env", server.url, "--shell", "nope", "--", "true"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--shell "nope" must be one of/);
    expect(result.stderr).not.toMatch(/Warning/);
  });

  it("a run loads neither node:fs/promises nor node:crypto (≈ 1 and 4 ms of start-up; --ca-file and ids do without them)", async () => {
    const hook = path.join(dir, "builtins.cjs");
    const log = path.join(dir, "builtins.json");
    await writeFile(hook, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(log)}, JSON.stringify(process.moduleLoadList)));`);
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home"), NODE_OPTIONS: `--require ${hook}` };
    delete env.TETHER_LEAN;
    const result = await runTether(["run", "--env", server.url, "--", "sh", "-c", "cat"], { env, input: "piped\n" });
    expect(result).toMatchObject({ code: 0, stdout: "piped\n" });
    const loaded = JSON.parse(await readFile(log, "utf8")) as string[];
    expect(loaded).toContain("NativeModule net");
    expect(loaded.filter((m) => /^NativeModule (fs\/promises|crypto)$/.test(m))).toEqual([]);
  });

  it("a run whose stdin is /dev/null starts the command without stdin (it reads EOF, as from /dev/null) and never makes process.stdin; a piped stdin still goes through", async () => {
    const hook = path.join(dir, "streams.cjs");
    const log = path.join(dir, "streams.json");
    await writeFile(hook, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(log)}, JSON.stringify(process.moduleLoadList)));`);
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home"), NODE_OPTIONS: `--require ${hook}` };
    delete env.TETHER_LEAN;
    const argv = [TETHER_BIN, "run", "--env", server.url, "--", "sh", "-c", "n=$(wc -c); echo read $n; ls -l /proc/$$/fd/0 | grep -c /dev/null; exit 5"];
    // stdin "ignore": node gives the child /dev/null.
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s.slice(0, 4096)));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s.slice(0, 4096)));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect({ code, stdout, stderr }).toEqual({ code: 5, stdout: "read 0\n1\n", stderr: "" });
    const loaded = JSON.parse(await readFile(log, "utf8")) as string[];
    // process.stdin on /dev/null would be an fs.ReadStream (node's fs streams).
    expect(loaded).not.toContain("NativeModule internal/fs/streams");

    const piped = await runTether(argv.slice(1), { env, input: "abc" });
    expect(piped).toMatchObject({ code: 5, stdout: "read 3\n0\n", stderr: "" });
  });
});
