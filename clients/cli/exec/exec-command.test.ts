// `tether exec` end to end: the real CLI process, the agent in it, a real scripted Responses
// server on loopback, an in-process environment. Checks the JSONL against the schema file,
// the exit statuses, -o, --output-schema, resume, and what reaches the model.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { access, appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { REPO_ROOT, TETHER_BIN } from "../../../test/support/exec-server-process.js";
import { type ResponsesServer, type Script, inputItems, startResponsesServer, toolOutput } from "../../../test/support/responses-server.js";
import { agentCliEnv, runTether } from "../../../test/support/tether-cli.js";

const schema = z.fromJSONSchema(JSON.parse(readFileSync(path.join(REPO_ROOT, "docs/exec-json-events.schema.json"), "utf8")) as Parameters<typeof z.fromJSONSchema>[0]);

let dir: string;
let work: string;
let server: ResponsesServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-"));
  work = path.join(dir, "work");
  await mkdir(work);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function exec(script: Script, args: string[], options: { input?: string; home?: string } = {}) {
  server ??= await startResponsesServer({ script });
  const env = agentCliEnv(options.home ?? path.join(dir, "home"), server.url);
  const r = await runTether(["exec", "-C", work, ...args], { env, input: options.input, cwd: work });
  const lines = args.includes("--json") ? r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { ...r, lines };
}

const exists = (file: string) => access(file).then(() => true, () => false);

const types = (lines: Record<string, unknown>[]) => lines.map((l) => (l.item ? `${String(l.type)}:${String((l.item as { type: string }).type)}` : String(l.type)));

function expectValid(lines: unknown[]): void {
  for (const line of lines) {
    const result = schema.safeParse(line);
    expect(result.success, `${JSON.stringify(line)}: ${result.error?.message}`).toBe(true);
  }
}

describe("tether exec --json", () => {
  it("prints Codex's events only on stdout, valid against the schema, and exits 0", async () => {
    const out = path.join(dir, "last.txt");
    const r = await exec([[{ type: "reasoning", summary: "easy" }, { type: "message", text: "hello from the model" }, { type: "completed", usage: { inputTokens: 50, outputTokens: 7 } }]], [
      "--json",
      "-o",
      out,
      "say hello",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expectValid(r.lines);
    expect(types(r.lines)).toEqual(["thread.started", "turn.started", "item.completed:reasoning", "item.completed:agent_message", "turn.completed"]);
    expect(r.lines.at(-1)).toMatchObject({ usage: { input_tokens: 50, output_tokens: 7 } });
    expect(await readFile(out, "utf8")).toBe("hello from the model");
    // The prompt reached the model as the user's message.
    expect(JSON.stringify(inputItems(server!.requests[0]!))).toContain("say hello");
  });

  it("fails the turn (exit 1) when the model request fails: error, then turn.failed", async () => {
    const r = await exec([[{ type: "http_error", status: 400, body: { error: { message: "no such thing", type: "invalid_request_error" } } }]], ["--json", "go"]);
    expectValid(r.lines);
    expect(types(r.lines).slice(-2)).toEqual(["error", "turn.failed"]);
    expect(r.code).toBe(1);
  });

  it("exits 255 with one error line when the environment cannot be reached", async () => {
    const r = await exec([], ["--json", "--env", "unix:///tmp/tether-exec-no-such.sock", "go"]);
    expect(r.code).toBe(255);
    expectValid(r.lines);
    expect(r.lines).toEqual([{ type: "error", message: expect.stringMatching(/cannot reach unix:\/\/\/tmp\/tether-exec-no-such\.sock/) as unknown }]);
  });
});

describe("tether exec when stdout's reader goes away (tether exec --json | head -1)", () => {
  it("interrupts the turn, leaves no process behind and exits 141 without a word, as a SIGPIPE would", async () => {
    const started = path.join(work, "epipe-started");
    const cmd = (secs: string) => ({ cmd: `touch ${started}; sleep ${secs}`, yield_time_ms: 1000, login: false });
    // A turn that keeps going (a call a second) long after the reader left.
    server = await startResponsesServer({
      script: [
        [{ type: "function_call", name: "exec_command", arguments: cmd("31.71"), callId: "c1" }],
        [{ type: "function_call", name: "exec_command", arguments: cmd("31.72"), callId: "c2" }],
        [{ type: "function_call", name: "exec_command", arguments: cmd("31.73"), callId: "c3" }],
        [{ type: "message", text: "done" }],
      ],
    });
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home-epipe"), OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" };
    const child = spawn(process.execPath, [TETHER_BIN, "exec", "-C", work, "--json", "go"], { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Read until the first command runs, then close the pipe, as head does after its line.
    for (let i = 0; i < 500 && !(await exists(started)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await exists(started)).toBe(true);
    child.stdout.destroy();
    expect(await exited, stderr).toBe(141);
    expect(stderr).not.toMatch(/EPIPE/);
    expect(server.requests.length).toBeLessThan(4);
    const left = spawnSync("pgrep", ["-f", "sleep 31.7"], { encoding: "utf8" });
    expect(left.stdout, "sleeps still running").toBe("");
  });
});

describe("tether exec with the agent's tools", () => {
  it("runs a command and keeps a plan: command_execution and todo_list events, the file really made", async () => {
    const r = await exec(
      [
        [{ type: "function_call", name: "update_plan", arguments: { plan: [{ step: "make the file", status: "in_progress" }] }, callId: "p1" }],
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch made.txt && ls made.txt", login: false }, callId: "c1" }],
        [{ type: "function_call", name: "update_plan", arguments: { plan: [{ step: "make the file", status: "completed" }] }, callId: "p2" }],
        [(req) => ({ type: "message", text: `command said: ${toolOutput(req, "c1").includes("made.txt") ? "made" : "?"}` })],
      ],
      ["--json", "make a file"],
    );
    expect(r.code, r.stderr).toBe(0);
    expectValid(r.lines);
    expect(types(r.lines)).toEqual([
      "thread.started",
      "turn.started",
      "item.started:todo_list",
      "item.started:command_execution",
      "item.completed:command_execution",
      "item.updated:todo_list",
      "item.completed:agent_message",
      "item.completed:todo_list",
      "turn.completed",
    ]);
    expect(r.lines[4]).toMatchObject({ item: { command: "touch made.txt && ls made.txt", aggregated_output: "made.txt\n", exit_code: 0, status: "completed" } });
    expect(r.lines[7]).toMatchObject({ item: { items: [{ text: "make the file", completed: true }] } });
    expect(await readFile(path.join(work, "made.txt"), "utf8")).toBe("");
  });

  it("never asks: a command that needs approval is declined, the model is told why, the turn completes", async () => {
    const r = await exec(
      [
        [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch not-approved.txt", login: false }, callId: "c1" }],
        [(req) => ({ type: "message", text: toolOutput(req, "c1") })],
      ],
      ["--json", "-c", 'approval_policy="untrusted"', "touch a file"],
    );
    expect(r.code, r.stderr).toBe(0);
    expectValid(r.lines);
    expect(r.lines.find((l) => l.type === "item.completed")).toMatchObject({ item: { type: "command_execution", status: "declined", exit_code: null } });
    expect(r.lines.find((l) => (l.item as { type?: string } | undefined)?.type === "agent_message")).toMatchObject({
      item: { text: expect.stringMatching(/not run.*tether exec runs without a person/) as unknown },
    });
    await expect(readFile(path.join(work, "not-approved.txt"))).rejects.toThrow(/ENOENT/);
  });
});

describe("tether exec interrupted", () => {
  it("SIGINT interrupts the turn: turn.failed, exit 1, the model request cancelled", async () => {
    server = await startResponsesServer({ script: [[{ type: "hang" }]] });
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: path.join(dir, "home"), OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" };
    const run = runTether(["exec", "--json", "-C", work, "wait forever"], { env, cwd: work });
    await server.waitForRequests(1);
    run.child.kill("SIGINT");
    const r = await run;
    const lines = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
    expectValid(lines);
    expect(lines.at(-1)).toEqual({ type: "turn.failed", error: { message: "the turn was interrupted" } });
    expect(r.code).toBe(1);
    await server.waitForServed(1);
    expect(server.served[0]!.outcome).toBe("client_closed");
  });
});

describe("tether exec --agent", () => {
  it("runs the turn on a tether agent-server: the same events, the server's rollouts, its [features]", async () => {
    server = await startResponsesServer({ script: [[{ type: "message", text: "from the agent server" }]] });
    const home = path.join(dir, "agent-server-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), "[features]\napply_patch = false\n");
    const socket = path.join(dir, "agent.sock");
    const agent = spawn(process.execPath, [TETHER_BIN, "agent-server", "--listen", `unix://${socket}`], {
      env: { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const [line] = (await Promise.race([
        new Promise((resolve) => createInterface({ input: agent.stdout }).once("line", (l) => resolve([l]))),
        new Promise((_, reject) => agent.once("exit", (code) => reject(new Error(`agent-server exited ${code}`)))),
      ])) as string[];
      expect(line).toBe(`listening unix://${socket}`);
      const r = await runTether(["exec", "--json", "--agent", `unix://${socket}`, "-C", work, "hello server"], {
        env: { ...process.env, TETHER_HOME: path.join(dir, "client-home") },
        cwd: work,
      });
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
      expectValid(lines);
      expect(lines.at(-2)).toMatchObject({ type: "item.completed", item: { type: "agent_message", text: "from the agent server" } });
      const threadId = lines[0]!.thread_id as string;
      expect(readFileSync(path.join(home, "sessions", `${threadId}.jsonl`), "utf8")).toContain("hello server");
      // The server's config decides the tools its threads offer.
      expect((server.requests[0]!.tools as { name?: string }[]).map((t) => t.name).sort()).toEqual(["exec_command", "update_plan", "write_stdin"]);
    } finally {
      agent.kill("SIGTERM");
      await new Promise((resolve) => (agent.exitCode !== null ? resolve(undefined) : agent.once("exit", resolve)));
    }
  });
});

describe("tether exec", () => {
  it("reads the prompt from stdin with -, shows progress on stderr and only the answer on stdout", async () => {
    const r = await exec([[{ type: "message", text: "the answer" }]], ["-"], { input: "question from a pipe" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("the answer\n");
    expect(r.stderr).toMatch(/^tether exec · thread \S+ · model gpt-5\.5 · env local · sandbox workspace-write/);
    expect(r.stderr).toMatch(/turn completed · tokens: \d+ in/);
    expect(JSON.stringify(inputItems(server!.requests[0]!))).toContain("question from a pipe");
  });

  it("--output-schema asks the model for it, passes a matching answer and fails (exit 1) one that does not match", async () => {
    const schemaFile = path.join(dir, "answer.schema.json");
    await writeFile(schemaFile, JSON.stringify({ type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"], additionalProperties: false }));
    const good = await exec([[{ type: "message", text: '{"ok":true}' }], [{ type: "message", text: '{"ok":"maybe"}' }]], ["--json", "--output-schema", schemaFile, "check"]);
    expect(good.code, good.stderr).toBe(0);
    expect(server!.requests[0]!.text).toMatchObject({ format: { type: "json_schema", schema: { required: ["ok"] } } });
    const bad = await exec([], ["--json", "--output-schema", schemaFile, "check again"]);
    expectValid(bad.lines);
    expect(bad.lines.at(-1)).toEqual({ type: "turn.failed", error: { message: expect.stringMatching(/^the final answer does not match --output-schema: ok: /) as unknown } });
    expect(bad.code).toBe(1);
  });

  it("resume --last and resume ID continue the same thread, with its history sent to the model", async () => {
    const home = path.join(dir, "resume-home");
    const first = await exec([[{ type: "message", text: "first answer" }], [{ type: "message", text: "second answer" }], [{ type: "message", text: "third answer" }]], ["--json", "remember 42"], { home });
    expect(first.code, first.stderr).toBe(0);
    const threadId = first.lines[0]!.thread_id as string;
    // A crash left a torn last line: the resume says so, in the JSONL and on stderr.
    const rollout = path.join(home, "sessions", `${threadId}.jsonl`);
    await appendFile(rollout, '{"t":"item","turnId":"x","item":{"ty');
    const second = await exec([], ["resume", "--last", "--json", "what did I say?"], { home });
    expect(second.code, second.stderr).toBe(0);
    expectValid(second.lines);
    expect(second.lines[0]).toEqual({ type: "thread.started", thread_id: threadId });
    expect(second.lines[1]).toMatchObject({ type: "item.completed", item: { type: "error", message: expect.stringMatching(/ignored a torn last line/) as unknown } });
    const history = JSON.stringify(inputItems(server!.requests[1]!));
    expect(history).toContain("remember 42");
    expect(history).toContain("first answer");
    await appendFile(rollout, '{"t":"item","turnId":"x","item":{"ty');
    const third = await exec([], ["resume", threadId, "and now?"], { home });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/warning: .*ignored a torn last line/);
    expect(third.stdout).toBe("third answer\n");
    expect(JSON.stringify(inputItems(server!.requests[2]!))).toContain("second answer");
  });

  it("takes the model from config (a profile, then -c), and --model beats both", async () => {
    const home = path.join(dir, "config-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), 'model = "from-file"\n[profiles.ci]\nmodel = "from-profile"\n');
    const script: Script = () => [{ type: "message", text: "ok" }];
    await exec(script, ["--profile", "ci", "a"], { home });
    await exec(script, ["--profile", "ci", "-c", "model=from-flag", "b"], { home });
    await exec(script, ["-c", "model=from-flag", "--model", "explicit", "c"], { home });
    expect(server!.requests.map((r) => r.model)).toEqual(["from-profile", "from-flag", "explicit"]);
  });

  it("feature flags decide which tools the model is offered (--disable, [features], -c)", async () => {
    const home = path.join(dir, "features-home");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "config.toml"), "[features]\napply_patch = false\n");
    const script: Script = () => [{ type: "message", text: "ok" }];
    await exec(script, ["a"], { home });
    await exec(script, ["--disable", "plan_tool", "--enable", "apply_patch", "b"], { home });
    await exec(script, ["-c", "features.unified_exec=false", "c"], { home });
    const offered = server!.requests.map((r) => (r.tools as { name?: string }[]).map((t) => t.name).sort());
    expect(offered).toEqual([
      ["exec_command", "update_plan", "write_stdin"],
      ["apply_patch", "exec_command", "write_stdin"],
      ["update_plan"],
    ]);
  });

  it.each([
    [["exec", ""], /the prompt is empty/],
    [["exec", "--sandbox", "everything", "x"], /--sandbox "everything" must be one of/],
    [["exec", "--output-schema", "/nonexistent/schema.json", "x"], /--output-schema \/nonexistent\/schema\.json/],
    [["exec", "resume"], /name the thread or pass --last/],
    [["exec", "--bogus", "x"], /unknown option '--bogus'/],
  ])("%j is a usage error (exit 2)", async (args, message) => {
    const env = { ...process.env, TETHER_HOME: path.join(dir, "usage-home") };
    const r = await runTether(args, { env, cwd: work });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});
