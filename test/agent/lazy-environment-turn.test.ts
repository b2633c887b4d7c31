// A thread whose `local` environment opens lazily (the CLI's default, issue 15's start-up
// target): its first model request goes out before the environment is even being opened, with
// AGENTS.md read from disk; the model's first tool call waits for the opening, which makes
// the thread its session's controller before anything runs; a failed opening fails the turn
// with its own error. Real model client over HTTP, real tools, a real LocalEnvironment.
import { stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import type { Environment } from "../../clients/environment/environment.js";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultInstructions, defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import type { OpenEnvironmentRequest } from "../../services/agent-server/thread-environment.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { startResponsesServer, toolOutput, type ResponsesServer, type Script } from "../support/responses-server.js";
import { agentRepoFixture, watchThread } from "../support/agent-harness.js";

const fx = agentRepoFixture("tether-lazy-env-");

async function setup(script: Script, openEnvironment: (request: OpenEnvironmentRequest) => Promise<Environment>): Promise<{ client: InProcessAgentClient; server: ResponsesServer }> {
  const server = fx.closeAfter(await startResponsesServer({ script }));
  const tetherHome = path.join(fx.home, "tether-home");
  const core = fx.closeAfter(await AgentCore.create({
    tetherHome,
    model: new ResponsesModelClient({ apiKey: "sk-test", baseURL: server.url, initialBackoffMs: 1 }),
    services: defaultThreadServices({ tetherHome }),
    openEnvironment,
    lazyEnvironment: true,
    instructions: defaultInstructions,
  }));
  return { client: new InProcessAgentClient(core), server };
}

const OPTIONS = { environment: "local", model: "gpt-test", sandbox: "workspace-write", approvalPolicy: "never" } as const;

describe("a thread's lazily opened local environment", () => {
  it("sends the first model request before the opening starts; the tool call waits for it, the thread its session's controller first", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const log: string[] = [];
    let opensAtFirstRequest = -1;
    const { client: c, server } = await setup(
      [
        [
          (req) => {
            // The scripted server saw the request: nothing had begun opening the environment.
            opensAtFirstRequest = log.filter((l) => l === "open").length;
            expect(String(req.body.instructions)).toContain("Always answer in haiku.");
            release();
            return { type: "function_call", name: "exec_command", arguments: { cmd: "touch made.txt && ls made.txt", login: false }, callId: "c1" };
          },
        ],
        [(req) => ({ type: "message", text: `said: ${/^made\.txt$/m.test(toolOutput(req, "c1")) ? "made" : "?"}` })],
      ],
      async (request) => {
        log.push("open");
        await released;
        const env = await LocalEnvironment.create({ defaultCwd: fx.repo, defaultSandbox: request.defaultSandbox });
        const { session, processes } = env;
        const handle = session.handleEscalations.bind(session);
        const start = processes.start.bind(processes);
        Object.assign(session, { handleEscalations: (h: Parameters<typeof handle>[0]) => (log.push("controller"), handle(h)) });
        Object.assign(processes, { start: (...a: Parameters<typeof start>) => (log.push("start"), start(...a)) });
        return env;
      },
    );
    const thread = await c.startThread({ ...OPTIONS, cwd: fx.repo });
    expect(log).toEqual([]); // startThread did not open it
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "make a file" });
    const end = await watch.turnEnd();
    watch.stop();
    expect(end.type, JSON.stringify(end)).toBe("turn.completed");
    expect(opensAtFirstRequest).toBe(0);
    expect(log.slice(0, 3)).toEqual(["open", "controller", "start"]);
    expect(watch.completedItems("agent_message").at(-1)).toMatchObject({ text: "said: made" });
    await expect(stat(path.join(fx.repo, "made.txt"))).resolves.toBeDefined(); // really ran
    server.check();
  });

  it("never opens the environment for a turn that calls no tool (no exec core, no sandbox probe), nor when the thread closes", async () => {
    let opened = 0;
    const { client: c, server } = await setup([[{ type: "message", text: "hi" }], [{ type: "message", text: "again" }]], async (request) => {
      opened++;
      return LocalEnvironment.create({ defaultCwd: fx.repo, defaultSandbox: request.defaultSandbox });
    });
    const thread = await c.startThread({ ...OPTIONS, cwd: fx.repo });
    const watch = await watchThread(c, thread.threadId);
    for (const text of ["say hi", "say it again"]) {
      await c.startTurn(thread.threadId, { text });
      expect((await watch.turnEnd()).type).toBe("turn.completed");
    }
    watch.stop();
    await c.core.closeThread(thread.threadId); // nothing opens on the way out either
    expect(opened).toBe(0);
    server.check();
  });

  it("fails the turn with the opening's own error when the environment cannot be opened", async () => {
    const { client: c } = await setup(
      [[{ type: "function_call", name: "exec_command", arguments: { cmd: "true", login: false }, callId: "c1" }]],
      () => Promise.reject(new TetherError(ErrorCode.Unavailable, "cannot reach the test's environment")),
    );
    const thread = await c.startThread({ ...OPTIONS, cwd: fx.repo });
    const watch = await watchThread(c, thread.threadId);
    await c.startTurn(thread.threadId, { text: "run it" });
    const end = await watch.turnEnd();
    watch.stop();
    expect(end).toMatchObject({ type: "turn.failed", error: { code: "UNAVAILABLE", message: "cannot reach the test's environment", source: "environment" } });
  });
});
