// The exec --json schema against the real Codex CLI (0.171.0, pinned): every line `codex exec
// --json` prints for a scripted turn must validate against docs/exec-json-events.schema.json,
// so the shapes tether prints are the ones tools written for Codex read.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { REPO_ROOT } from "../../../test/support/exec-server-process.js";
import { type Script, type ResponsesServer, startResponsesServer } from "../../../test/support/responses-server.js";

const codexBin = path.join(REPO_ROOT, "node_modules/.bin/codex");
// Codex refuses to install its sandbox helper with CODEX_HOME under /tmp.
const runDir = path.join(REPO_ROOT, ".tether-run");
const schema = z.fromJSONSchema(JSON.parse(readFileSync(path.join(REPO_ROOT, "docs/exec-json-events.schema.json"), "utf8")) as Parameters<typeof z.fromJSONSchema>[0]);

let server: ResponsesServer | undefined;
const cleanup: string[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const dir of cleanup.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function codexExec(script: Script, prepare?: (work: string) => Promise<void>): Promise<{ code: number | null; lines: unknown[]; stderr: string }> {
  if (!existsSync(codexBin)) throw new Error(`the Codex CLI is not installed at ${codexBin}: npm install`);
  await mkdir(runDir, { recursive: true });
  const home = await mkdtemp(path.join(runDir, "codex-home-"));
  const work = await mkdtemp(path.join(runDir, "codex-work-"));
  cleanup.push(home, work);
  await prepare?.(work);
  server = await startResponsesServer({ script });
  const provider = ["model_provider=scripted", 'model_providers.scripted.name="scripted"', `model_providers.scripted.base_url="${server.url}"`, 'model_providers.scripted.wire_api="responses"'];
  const args = ["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-m", "gpt-5.5", ...provider.flatMap((c) => ["-c", c]), "-C", work, "go"];
  const child = spawn(codexBin, args, { env: { ...process.env, CODEX_HOME: home, OPENAI_API_KEY: "sk-scripted" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
  // A stream Codex does not accept makes it retry for long: bound the run.
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  return { code, lines: stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as unknown), stderr };
}

function expectValid(lines: unknown[]): void {
  for (const line of lines) {
    const result = schema.safeParse(line);
    expect(result.success, `${JSON.stringify(line)}: ${result.error?.message}`).toBe(true);
  }
}

describe("codex exec --json against tether's schema", () => {
  it("a turn with reasoning, a failing command, a patch and an answer", async () => {
    const patch = ["*** Begin Patch", "*** Update File: a.txt", "@@", "-one", "+two", "*** Add File: b.txt", "+b", "*** End Patch", ""].join("\n");
    const run = await codexExec(
      [
        [
          { type: "reasoning", summary: "thinking" },
          { type: "function_call", name: "exec_command", arguments: { cmd: "echo out; exit 3", login: false } },
        ],
        [{ type: "custom_tool_call", name: "apply_patch", input: patch }],
        [{ type: "message", text: "all done" }],
      ],
      (work) => writeFile(path.join(work, "a.txt"), "one\n"),
    );
    expect(run.code, run.stderr).toBe(0);
    expectValid(run.lines);
    const types = run.lines.map((l) => {
      const e = l as { type: string; item?: { type: string } };
      return e.item ? `${e.type}:${e.item.type}` : e.type;
    });
    expect(types).toEqual([
      "thread.started",
      "turn.started",
      "item.completed:reasoning",
      "item.started:command_execution",
      "item.completed:command_execution",
      "item.started:file_change",
      "item.completed:file_change",
      "item.completed:agent_message",
      "turn.completed",
    ]);
    expect(run.lines[4]).toMatchObject({ item: { exit_code: 3, status: "failed", aggregated_output: "out\n" } });
  });

  it("a failed turn: error, then turn.failed with the same message, exit 1", async () => {
    const run = await codexExec([[{ type: "http_error", status: 400, body: { error: { message: "bad request", type: "invalid_request_error" } } }]]);
    expect(run.code).toBe(1);
    expectValid(run.lines);
    expect(run.lines.slice(-2).map((l) => (l as { type: string }).type)).toEqual(["error", "turn.failed"]);
  });
});
