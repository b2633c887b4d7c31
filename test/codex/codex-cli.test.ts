// The real Codex CLI (pinned) runs its tools through tether's Codex front door: a scripted
// model drives `codex exec --json`, and every tool call travels as Codex's exec-server
// protocol over WebSocket to a tether exec server, which runs it under its own launcher.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CodexRun, RUN_DIR, completedItems, requireCodex, runCodex } from "../support/codex-cli.js";
import { type CodexExecServer, startCodexExecServer } from "../support/codex-exec-server.js";
import { type ScriptResponse, startResponsesServer, toolOutput } from "../support/responses-server.js";

let work: string;
let server: CodexExecServer;

beforeAll(async () => {
  requireCodex();
  await mkdir(RUN_DIR, { recursive: true });
  work = await mkdtemp(path.join(RUN_DIR, "codex-work-"));
  server = await startCodexExecServer({ cwd: work });
});
afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
  await rm(RUN_DIR, { recursive: true, force: true, maxRetries: 0 }).catch(() => undefined);
});

/** Runs a script through Codex with its tools on the tether server; the last response is a message. */
async function drive(script: ScriptResponse[], opts: { sandbox?: "danger-full-access" | "workspace-write"; cwd?: string } = {}): Promise<{ run: CodexRun; outputs: (callId: string) => string }> {
  await using model = await startResponsesServer({ script: [...script, [{ type: "message", text: "done" }]] });
  const run = await runCodex({ modelUrl: model.url, cwd: opts.cwd ?? work, prompt: "go", execServerUrl: server.wsUrl, sandbox: opts.sandbox });
  expect(run.code, `codex exit; stderr:\n${run.stderr}\nserver:\n${server.stderr()}`).toBe(0);
  model.check();
  const last = model.received.at(-1)!;
  return { run, outputs: (callId) => toolOutput(last, callId) };
}

describe("Codex CLI through tether's Codex front door", () => {
  it("runs a command under tether's launcher (the server's List shows it, labelled with Codex's call)", async () => {
    const { run, outputs } = await drive([[{ type: "function_call", name: "exec_command", arguments: { cmd: "echo hi from codex", login: false }, callId: "call_echo" }]]);
    expect(outputs("call_echo")).toContain("hi from codex");
    expect(completedItems(run, "command_execution")[0]).toMatchObject({ aggregated_output: "hi from codex\n", exit_code: 0 });
    const env = await server.grpc();
    const listed = await env.processes.list({ allSessions: true, includeExited: true, labels: { "codex.tool_call_id": "call_echo" } });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.spec?.argv.at(-1)).toBe("echo hi from codex");
    expect(listed[0]!.spec?.labels["tether.front_door"]).toBe("codex");
  });
});
