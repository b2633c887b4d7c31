// What a plain `tether exec PROMPT` loads before its first model request (issue 15: ≤ 60 ms from
// process start): bin/tether.js, which reads and runs dist/exec-fast.cjs itself (vm.Script, with
// a code cache made after it ran), and nothing else of tether (not dist/tether.cjs,
// no ES module chunk of the split CLI, nothing from node_modules), and none of the builtins that
// cost milliseconds at start-up and are not needed before it (node:crypto, node:fs/promises).
// The real process against a real scripted Responses server; a preload records what was loaded
// when node's http client starts the first request. A new import on that path fails here by name:
// load it after the request (a dynamic import that scripts/build.mjs sends to dist/late/), or
// name it in EXEC_EARLY there if it truly must come first.
import { appendFile, chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startResponsesServer } from "../support/responses-server.js";
import { runTether } from "../support/tether-cli.js";
import { REPO_ROOT } from "../support/exec-server-process.js";

const HOOK = `const { registerHooks } = require("node:module");
const dc = require("node:diagnostics_channel");
const files = [];
registerHooks({ load(url, context, next) { if (!url.startsWith("node:")) files.push(url); return next(url, context); } });
let seen = false;
dc.subscribe("http.client.request.start", () => {
  if (seen) return;
  seen = true;
  require("node:fs").writeFileSync(process.env.FIRST_REQUEST_LOG, JSON.stringify({ files, builtins: process.moduleLoadList }));
});
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-first-request-"));
  await mkdir(path.join(dir, "work", ".git"), { recursive: true });
  await writeFile(path.join(dir, "work", "AGENTS.md"), "Be brief.\n");
  await writeFile(path.join(dir, "hook.cjs"), HOOK);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tether exec before its first model request", () => {
  it("loads no module but bin/tether.js (which runs dist/exec-fast.cjs), and neither node:crypto nor node:fs/promises", async () => {
    await using server = await startResponsesServer({ script: () => [{ type: "message" as const, text: "hi" }] });
    const log = path.join(dir, "first-request.json");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TETHER_HOME: path.join(dir, "home"),
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: "sk-test",
      NODE_OPTIONS: `--require ${path.join(dir, "hook.cjs")}`,
      FIRST_REQUEST_LOG: log,
    };
    delete env.TETHER_LEAN;
    const result = await runTether(["exec", "-C", path.join(dir, "work"), "--sandbox", "workspace-write", "say hi"], { env });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("hi");
    const first = JSON.parse(await readFile(log, "utf8")) as { files: string[]; builtins: string[] };
    const files = first.files.map((f) => path.relative(REPO_ROOT, f.replace(/^file:\/\//, "")));
    expect(files).toEqual(["bin/tether.js"]);
    expect(first.builtins.filter((m) => /^NativeModule (crypto|fs\/promises|readline)$/.test(m))).toEqual([]);
  });

  it("keeps dist/exec-fast.cjs's code cache made after a run that reached its model request: the next run takes it (not rewritten); none from a refused run or with NODE_DISABLE_COMPILE_CACHE=1", async () => {
    await using server = await startResponsesServer({ script: () => [{ type: "message" as const, text: "hi" }] });
    const cacheDir = path.join(dir, "compile-cache");
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home2"), OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", NODE_COMPILE_CACHE: cacheDir };
    delete env.TETHER_LEAN;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const args = ["exec", "-C", path.join(dir, "work"), "say hi"];
    // This user's own directory in node's cache directory (the temp dir is every user's).
    const ours = path.join(cacheDir, `tether-${process.getuid!()}`);
    const caches = async () => (await readdir(ours).catch(() => [] as string[])).filter((n) => n.startsWith("tether-exec-fast-"));
    // A run refused before its model request (no key: exit 2) makes none: it would lack the exec path.
    const noKey = { ...env };
    delete noKey.OPENAI_API_KEY;
    expect((await runTether(args, { env: noKey })).code).toBe(2);
    expect(await caches()).toEqual([]);
    expect((await runTether(args, { env })).code).toBe(0);
    const [made, ...more] = await caches();
    expect(made).toMatch(/\.bin$/);
    expect(more).toEqual([]);
    const before = await stat(path.join(ours, made!));
    expect(before.mode & 0o777).toBe(0o600);
    expect((await stat(ours)).mode & 0o777).toBe(0o700);
    expect((await runTether(args, { env })).code).toBe(0);
    expect(await caches()).toEqual([made]);
    expect((await stat(path.join(ours, made!))).mtimeMs).toBe(before.mtimeMs);
    // A cache someone else could have written is not run (V8 would run its code): made anew.
    await chmod(path.join(ours, made!), 0o666);
    expect((await runTether(args, { env })).code).toBe(0);
    expect((await stat(path.join(ours, made!))).mode & 0o777).toBe(0o600);
    await rm(cacheDir, { recursive: true, force: true });
    expect((await runTether(args, { env: { ...env, NODE_DISABLE_COMPILE_CACHE: "1" } })).code).toBe(0);
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it("tether exec resume --last and resume ID take the same path (bin/tether.js only); the local environment stays unopened, and a session recorded as running is still reported lost", async () => {
    await using server = await startResponsesServer({ script: () => [{ type: "message" as const, text: "hi" }] });
    const home = path.join(dir, "home-resume");
    const work = path.join(dir, "work");
    const log = path.join(dir, "resume-first-request.json");
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", FIRST_REQUEST_LOG: log };
    delete env.TETHER_LEAN;
    const started = await runTether(["exec", "-C", work, "--json", "say hi"], { env });
    expect(started.code).toBe(0);
    const threadId = (JSON.parse(started.stdout.split("\n")[0]!) as { thread_id: string }).thread_id;
    // A unified-exec session the rollout says was running (its process went with the run before).
    const rollout = path.join(home, "sessions", `${threadId}.jsonl`);
    const turnId = (JSON.parse((await readFile(rollout, "utf8")).split("\n")[1]!) as { turnId: string }).turnId;
    const session = { sessionId: 1000, processId: "gone", turnId, command: "sleep 100", cwd: work, tty: false, cursor: "0" };
    await appendFile(rollout, `${JSON.stringify({ t: "exec", session })}\n`);
    const hooked = { ...env, NODE_OPTIONS: `--require ${path.join(dir, "hook.cjs")}` };
    for (const args of [["resume", "--last", "again"], ["--json", "resume", threadId, "and again"]]) {
      await rm(log, { force: true });
      const result = await runTether(["exec", "-C", work, ...args], { env: hooked });
      expect(result.code).toBe(0);
      if (args[0] === "resume") {
        expect(result.stderr).toMatch(/warning: unified-exec session 1000 ended while the thread was not loaded/);
        expect(result.stdout.trim()).toBe("hi");
      } else expect(result.stdout).toMatch(/"thread_id":"thread_[0-9a-f]+"/);
      const first = JSON.parse(await readFile(log, "utf8")) as { files: string[]; builtins: string[] };
      expect(first.files.map((f) => path.relative(REPO_ROOT, f.replace(/^file:\/\//, "")))).toEqual(["bin/tether.js"]);
      expect(first.builtins.filter((m) => /^NativeModule (crypto|fs\/promises|readline)$/.test(m))).toEqual([]);
    }
    expect(server.requests.length).toBe(3);
  });
});
