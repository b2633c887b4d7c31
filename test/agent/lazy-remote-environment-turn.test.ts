// A new thread on an exec server over a Unix socket, as `tether exec --env unix://…` opens it
// (AgentCore.lazyEnvironment, the default opener): its exec session opens on the lean client
// while the thread is set up, AGENTS.md is read through that session, and the first model
// request goes out before the full client (and its Events stream) exists; the model's first
// tool call opens it, the thread its session's controller first. A turn with no tool call
// never opens it, and closing ends the session. Real exec server (in this process, on a
// socket), real model client over HTTP, real tools.
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { type InstructionFileOptions, defaultInstructions, defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import { execSessionIdFor } from "../../services/agent-server/thread-environment.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { startResponsesServer, toolOutput, type ResponsesServer, type Script } from "../support/responses-server.js";
import { agentRepoFixture, watchThread } from "../support/agent-harness.js";
import { type Harness, startHarness } from "../support/exec-harness.js";

const fx = agentRepoFixture("tether-lazy-remote-");

async function setup(script: Script, instructionFiles: InstructionFileOptions = {}): Promise<{ client: InProcessAgentClient; server: ResponsesServer; exec: Harness }> {
  const exec = fx.closeAfter(await startHarness());
  const server = fx.closeAfter(await startResponsesServer({ script }));
  const tetherHome = path.join(fx.home, "tether-home");
  const core = fx.closeAfter(await AgentCore.create({
    tetherHome,
    model: new ResponsesModelClient({ apiKey: "sk-test", baseURL: server.url, initialBackoffMs: 1 }),
    services: defaultThreadServices({ tetherHome }),
    lazyEnvironment: true,
    instructions: (cwd, env) => defaultInstructions(cwd, env, tetherHome, instructionFiles),
  }));
  return { client: new InProcessAgentClient(core), server, exec };
}

const OPTIONS = { model: "gpt-test", sandbox: "workspace-write", approvalPolicy: "never" } as const;

describe("a new thread's environment on an exec server, opened lazily", () => {
  it("reads AGENTS.md through the early session and asks the model before the full client opens; the tool call opens it as the session's controller", async () => {
    const sub = path.join(fx.repo, "pkg");
    await mkdir(sub);
    await writeFile(path.join(sub, "AGENTS.md"), "Use tabs.\n");
    let atFirstRequest: { exists: boolean; streams: number; controller: boolean; mode: number | undefined } | undefined;
    let sessionId = "";
    const { client: c, server, exec } = await setup([
      [
        (req) => {
          const session = exec.core.findSession(sessionId);
          atFirstRequest = { exists: session !== undefined, streams: session?.subscribers.size ?? -1, controller: session?.controller !== undefined, mode: session?.defaultSandbox?.mode };
          const instructions = String(req.body.instructions);
          expect(instructions).toContain("Always answer in haiku.");
          expect(instructions.indexOf("Always answer in haiku.")).toBeLessThan(instructions.indexOf("Use tabs.")); // root first
          return { type: "function_call", name: "exec_command", arguments: { cmd: "touch made.txt && ls made.txt", login: false }, callId: "c1" };
        },
      ],
      [(req) => ({ type: "message", text: `said: ${/^made\.txt$/m.test(toolOutput(req, "c1")) ? "made" : "?"}` })],
    ]);
    // The repo a writable root: the session's file policy (workspace-write) hides the rest of /tmp.
    const thread = await c.startThread({ ...OPTIONS, environment: exec.url, cwd: sub, writableRoots: [fx.repo] });
    sessionId = execSessionIdFor(thread.threadId);
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "make a file" });
    const end = await watch.turnEnd();
    watch.stop();
    expect(end.type, JSON.stringify(end)).toBe("turn.completed");
    // The session was open with the thread's sandbox, and no Events stream (no full client) yet.
    expect(atFirstRequest).toEqual({ exists: true, streams: 0, controller: false, mode: SandboxMode.WORKSPACE_WRITE });
    expect(exec.core.findSession(sessionId)?.controller).toBeDefined();
    expect(watch.completedItems("agent_message").at(-1)).toMatchObject({ text: "said: made" });
    await expect(stat(path.join(sub, "made.txt"))).resolves.toBeDefined();
    server.check();
  });

  it("reads AGENTS.override.md and project_doc_fallback_filenames through the early session too", async () => {
    const sub = path.join(fx.repo, "pkg");
    await mkdir(sub);
    await writeFile(path.join(fx.repo, "AGENTS.override.md"), "Answer in limericks.\n");
    await writeFile(path.join(sub, "CLAUDE.md"), "Use tabs.\n");
    const { client: c, server, exec } = await setup([
      [
        (req) => {
          const instructions = String(req.body.instructions);
          expect(instructions).toMatch(/Answer in limericks\.[\s\S]*Use tabs\./);
          expect(instructions).not.toContain("haiku"); // the root's AGENTS.md, behind its override
          return { type: "message", text: "ok" };
        },
      ],
    ], { fallbackFileNames: ["CLAUDE.md"] });
    const thread = await c.startThread({ ...OPTIONS, environment: exec.url, cwd: sub, writableRoots: [fx.repo] });
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "hi" });
    const end = await watch.turnEnd();
    watch.stop();
    expect(end.type, JSON.stringify(end)).toBe("turn.completed");
    expect(exec.core.findSession(execSessionIdFor(thread.threadId))?.subscribers.size).toBe(0); // read through the early session, no full client
    server.check();
  });

  it("never opens the full client for a turn that calls no tool, and closing the agent ends the session", async () => {
    const { client: c, server, exec } = await setup([[{ type: "message", text: "hi" }]]);
    const thread = await c.startThread({ ...OPTIONS, environment: exec.url, cwd: fx.repo });
    const sessionId = execSessionIdFor(thread.threadId);
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "say hi" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    watch.stop();
    expect(exec.core.findSession(sessionId)?.subscribers.size).toBe(0);
    await c.core.closeThread(thread.threadId);
    expect(exec.core.findSession(sessionId)).toBeUndefined();
    server.check();
  });

  it("fails the turn with source environment when the server is gone by the first tool call", async () => {
    let exec: Harness | undefined;
    const { client: c, exec: started } = await setup([
      async () => {
        await exec!.close(); // the early session was open; the full client will find no one
        return [{ type: "function_call", name: "exec_command", arguments: { cmd: "true", login: false }, callId: "c1" }];
      },
    ]);
    exec = started;
    const thread = await c.startThread({ ...OPTIONS, environment: started.url, cwd: fx.repo });
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "run it" });
    const end = await watch.turnEnd();
    watch.stop();
    expect(end, JSON.stringify(end)).toMatchObject({ type: "turn.failed", error: { code: "UNAVAILABLE", source: "environment" } });
    if (end.type === "turn.failed") expect(end.error.message).toContain(`cannot reach ${started.url}`);
  });

  it("fails the thread's start, saying how to start one, when no exec server listens there", async () => {
    const { client: c } = await setup([]);
    const sock = path.join(fx.home, "nobody.sock");
    await expect(c.startThread({ ...OPTIONS, environment: `unix://${sock}`, cwd: fx.repo })).rejects.toThrow(
      `cannot reach unix://${sock}`,
    );
    await expect(c.startThread({ ...OPTIONS, environment: `unix://${sock}`, cwd: fx.repo })).rejects.toThrow(`start one with: tether exec-server --listen unix://${sock}`);
  });
});
