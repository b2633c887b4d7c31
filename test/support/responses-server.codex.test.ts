// The scripted Responses server against the real Codex CLI 0.171.0: if Codex accepts its
// streams (function and custom tool calls included), so will other Responses clients.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startResponsesServer, toolOutput, type ResponsesServer } from "./responses-server.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const codexBin = path.join(root, "node_modules/.bin/codex");
// Codex refuses to install its sandbox helper with CODEX_HOME under /tmp.
const runDir = path.join(root, ".tether-run");

let server: ResponsesServer | undefined;
const cleanup: string[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const dir of cleanup.splice(0)) await rm(dir, { recursive: true, force: true });
});

interface CodexRun {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
}

async function runCodex(url: string, cwd: string, prompt: string): Promise<CodexRun> {
  await mkdir(runDir, { recursive: true });
  const home = await mkdtemp(path.join(runDir, "codex-home-"));
  cleanup.push(home);
  const args = [
    "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
    "-m", "gpt-5.5",
    "-c", "model_provider=scripted",
    "-c", 'model_providers.scripted.name="scripted"',
    "-c", `model_providers.scripted.base_url="${url}"`,
    "-c", 'model_providers.scripted.wire_api="responses"',
    "-c", 'model_providers.scripted.env_key="OPENAI_API_KEY"',
    "-C", cwd,
    prompt,
  ];
  const child = spawn(codexBin, args, {
    cwd,
    env: { ...process.env, CODEX_HOME: home, OPENAI_API_KEY: "sk-scripted" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
  // A wrong stream makes Codex retry for a long time: bound the run and kill it.
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  const events = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, events, stderr };
}

describe("startResponsesServer with the Codex CLI", () => {
  it("drives a Codex turn: exec_command, apply_patch (custom tool), then a final message", async () => {
    if (!existsSync(codexBin)) {
      if (process.env.CI === "true") throw new Error(`CI=true but ${codexBin} is missing`);
      return expect.fail(`the Codex CLI is not installed at ${codexBin}: npm install`);
    }
    await mkdir(runDir, { recursive: true });
    const work = await mkdtemp(path.join(runDir, "codex-work-"));
    cleanup.push(work);
    const patch = ["*** Begin Patch", "*** Add File: hello.txt", "+hello from the script", "*** End Patch", ""].join("\n");
    server = await startResponsesServer({
      script: [
        [
          { type: "reasoning", summary: "run a command first" },
          { type: "function_call", name: "exec_command", arguments: { cmd: "echo hi", login: false }, callId: "call_exec" },
        ],
        [{ type: "custom_tool_call", name: "apply_patch", input: patch, callId: "call_patch" }],
        [(req) => ({ type: "message", text: `done; patch said: ${toolOutput(req, "call_patch").includes("hello.txt") ? "ok" : "?"}` })],
      ],
    });
    const run = await runCodex(server.url, work, "say hi and add a file");
    expect(run.code, run.stderr).toBe(0);
    const completed = run.events.filter((e) => e.type === "item.completed").map((e) => e.item as Record<string, unknown>);
    expect(completed.find((i) => i.type === "command_execution")).toMatchObject({ aggregated_output: "hi\n", exit_code: 0 });
    expect(completed.find((i) => i.type === "agent_message")).toMatchObject({ text: "done; patch said: ok" });
    expect(run.events.at(-1)).toMatchObject({ type: "turn.completed", usage: { input_tokens: 300, output_tokens: 60 } });
    expect(await readFile(path.join(work, "hello.txt"), "utf8")).toBe("hello from the script\n");
    expect(toolOutput(server.received[1]!, "call_exec")).toContain("hi");
    expect(server.requests).toHaveLength(3);
    server.check();
  });
});
