// `tether exec` exit statuses as a user meets them (the real CLI process): what the user named
// wrongly is a usage error (2) that says what to fix; an agent server that is not there is 255
// at once, not after a minute's wait.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startResponsesServer } from "../../../test/support/responses-server.js";
import { runTether } from "../../../test/support/tether-cli.js";

let dir: string;
let work: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-status-"));
  work = path.join(dir, "work");
  await mkdir(work);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh TETHER_HOME per case; no model server is reached unless one is named (the turn never starts). */
async function exec(args: string[], home: { config?: string; rules?: string } = {}, modelUrl = "http://127.0.0.1:9/v1", apiKey: string | null = "sk-test") {
  const tetherHome = await mkdtemp(path.join(dir, "home-"));
  if (home.config !== undefined) await writeFile(path.join(tetherHome, "config.toml"), home.config);
  if (home.rules !== undefined) {
    await mkdir(path.join(tetherHome, "rules"));
    await writeFile(path.join(tetherHome, "rules", "default.rules"), home.rules);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: tetherHome, OPENAI_BASE_URL: modelUrl, OPENAI_API_KEY: apiKey ?? "" };
  if (apiKey === null) delete env.OPENAI_API_KEY;
  for (const key of ["TETHER_PROFILE", "TETHER_MODEL", "TETHER_ENV", "TETHER_AGENT", "TETHER_SANDBOX"]) delete env[key];
  return { ...(await runTether(["exec", "-C", work, ...args], { env, cwd: work, timeoutMs: 30_000 /* a 60 s wait for an absent agent server fails here */ })), home: tetherHome };
}

describe("tether exec exit status 2: what the user named is wrong, and the error says what to fix", () => {
  it("a config.toml that is not TOML", async () => {
    const r = await exec(["go"], { config: 'model = "gpt-5.5"\nsandbox_mode = \n' });
    expect(r.stderr).toMatch(/config\.toml:2:\d+: invalid TOML/);
    expect(r.code).toBe(2);
  });

  it("a rule file that does not load: its file, line and column", async () => {
    const r = await exec(["go"], { rules: 'prefix_rule(pattern = ["git", "push"], decision = "maybe")\n' });
    expect(r.stderr).toMatch(/rules\/default\.rules:1:\d+: decision must be allow, prompt, forbidden/);
    expect(r.code).toBe(2);
  });

  it("an --env that is not understood, with --json too (stdout stays JSONL-only: nothing there)", async () => {
    const r = await exec(["--json", "--env", "bogus", "go"]);
    expect(r.stderr).toMatch(/environment "bogus" is not understood: use local, unix:\/\/\/path/);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("a working directory that does not exist (commands would run on this machine)", async () => {
    const r = await exec(["-C", path.join(dir, "no-such-dir"), "go"]);
    expect(r.stderr).toContain(`--cwd ${path.join(dir, "no-such-dir")} is not a directory`);
    expect(r.code).toBe(2);
  });

  it("-o into a directory that does not exist, and an empty --model: said before any thread is made", async () => {
    const out = path.join(dir, "no-such-dir", "last.txt");
    const r = await exec(["-o", out, "go"]);
    expect(r.stderr).toContain(`-o ${out}: the directory ${path.dirname(out)} does not exist`);
    expect(r.code).toBe(2);
    expect(existsSync(path.join(r.home, "sessions"))).toBe(false);
    const empty = await exec(["-m", "", "go"]);
    expect(empty.stderr).toContain("--model is empty");
    expect(empty.code).toBe(2);
  });

  it("no API key for the model: said before any thread is made", async () => {
    const r = await exec(["--json", "go"], {}, "http://127.0.0.1:9/v1", null);
    expect(r.stderr).toContain("no API key for the model server at http://127.0.0.1:9/v1: set OPENAI_API_KEY");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(existsSync(path.join(r.home, "sessions"))).toBe(false);
  });

  it("resume of a thread that is not stored names the way to find one", async () => {
    const r = await exec(["resume", "thread_nope", "go"]);
    expect(r.stderr).toMatch(/no thread thread_nope .*tether exec resume --last/);
    expect(r.code).toBe(2);
  });
});

describe("tether exec --agent with no agent server there", () => {
  it("exits 255 at once, saying how to start one (one JSON error line with --json)", async () => {
    const sock = path.join(dir, "no-agent.sock");
    const r = await exec(["--json", "--agent", `unix://${sock}`, "go"]);
    expect(r.code, r.stderr).toBe(255);
    expect(r.stderr).toContain(`start one with: tether agent-server --listen unix://${sock}`);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([
      { type: "error", message: expect.stringContaining(`cannot reach the agent server at unix://${sock}`) as unknown },
    ]);
  });
});

describe("tether exec takes a Codex user's command line", () => {
  it("--cd, -s danger-full-access and --skip-git-repo-check, as `codex exec` spells them", async () => {
    await using server = await startResponsesServer({ script: [[{ type: "message", text: "done" }]] });
    const r = await exec(["--skip-git-repo-check", "-s", "danger-full-access", "--cd", work, "go"], {}, server.url);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`sandbox full-access · ${work}`);
    expect(r.stdout).toBe("done\n");
  });
});

describe("tether exec takes Codex's --add-dir and --dangerously-bypass-approvals-and-sandbox", () => {
  const touch = (file: string) => [
    [{ type: "function_call" as const, name: "exec_command", callId: "call_1", arguments: { cmd: `touch ${file}`, login: false } }],
    [{ type: "message" as const, text: "done" }],
  ];

  it("the bypass runs what the approval policy would have asked about, without a sandbox", async () => {
    const config = 'approval_policy = "untrusted"\n';
    const asked = path.join(work, "asked");
    await using strict = await startResponsesServer({ script: touch(asked) });
    const declined = await exec(["go"], { config }, strict.url);
    expect(declined.code, declined.stderr).toBe(0);
    expect(existsSync(asked)).toBe(false);

    const bypassed = path.join(work, "bypassed");
    await using server = await startResponsesServer({ script: touch(bypassed) });
    const r = await exec(["--dangerously-bypass-approvals-and-sandbox", "go"], { config }, server.url);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`sandbox full-access · ${work}`);
    expect(existsSync(bypassed)).toBe(true);
  });

  it("the bypass with a sandbox named is a contradiction (exit 2)", async () => {
    const r = await exec(["--dangerously-bypass-approvals-and-sandbox", "-s", "read-only", "go"]);
    expect(r.stderr).toContain("drop -s read-only");
    expect(r.code).toBe(2);
  });

  it("--add-dir makes another directory writable under workspace-write", async () => {
    const extra = path.join(dir, "extra");
    await mkdir(extra);
    await using refused = await startResponsesServer({ script: touch(path.join(extra, "without")) });
    const without = await exec(["-s", "workspace-write", "go"], {}, refused.url);
    expect(without.code, without.stderr).toBe(0);
    expect(existsSync(path.join(extra, "without"))).toBe(false);

    await using server = await startResponsesServer({ script: touch(path.join(extra, "with")) });
    const r = await exec(["-s", "workspace-write", "--add-dir", extra, "go"], {}, server.url);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(extra, "with"))).toBe(true);
  });
});
