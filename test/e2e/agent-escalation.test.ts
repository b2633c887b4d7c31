// zsh-fork escalations reach the agent as the controller of its exec session and are decided
// by the same execpolicy as the model's commands: in a real turn, a command run through a
// zsh-fork shell has each exec the shell makes assessed; a forbidden one is denied (126)
// without asking anyone, the rest runs.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { z } from "zod";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import { ShellMode } from "../../gen/tether/exec/v1/process_pb.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import { RulesThreadPolicy } from "../../services/agent-server/policy/rules-thread-policy.js";
import { toolInputFromZod } from "../../services/agent-server/tools/strict-json-schema.js";
import { buildToolRegistry } from "../../services/agent-server/tools/tool-registry.js";
import type { ToolDefinition } from "../../services/agent-server/tools/tool.js";
import { skipTestOutsideCi } from "../support/ci-must-run.js";
import { forEachBackend, newId, run } from "../conformance/conformance-kit.js";
import { rulesFile, watchThread } from "../support/agent-harness.js";
import { startResponsesServer, toolOutput } from "../support/responses-server.js";

/** A test tool: runs its command line through a zsh-fork shell in the thread's environment. */
const zshTool: ToolDefinition<{ cmd: string }> = {
  name: "zsh_run",
  description: "Runs a command line through zsh-fork",
  input: toolInputFromZod(z.object({ cmd: z.string() }), "tool zsh_run"),
  mutating: true,
  async run(input, ctx) {
    const r = await run(ctx.env, { argv: [input.cmd], shell: ShellMode.ZSH_FORK, cwd: ctx.cwd });
    return { output: r.stdout, success: r.exit.code === 0 };
  },
};

forEachBackend("agent zsh-fork escalations", (ctx) => {
  let home: string;
  let client: InProcessAgentClient | undefined;
  let server: Awaited<ReturnType<typeof startResponsesServer>> | undefined;

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), "tether-agent-esc-"));
  });
  afterEach(async () => {
    await client?.close();
    await server?.close();
    await rm(home, { recursive: true, force: true });
  });

  it("a forbidden exec inside a zsh-fork command is denied by policy; the rest runs", async (t) => {
    const info = await ctx.env.info();
    skipTestOutsideCi(t, info.capabilities.includes(Capability.ZSH_FORK) ? undefined : "this environment has no zsh-fork", "zsh-fork escalations");
    await mkdir(path.dirname(rulesFile(home)), { recursive: true });
    await writeFile(rulesFile(home), 'prefix_rule(pattern=["rm"], decision="forbidden", justification="no deleting")\n');
    server = await startResponsesServer({
      script: [[{ type: "function_call", name: "zsh_run", callId: "z1", arguments: { cmd: "/bin/echo allowed; /bin/rm -f nothing-here; echo status=$?" } }], [{ type: "message", text: "done" }]],
    });
    const registry = buildToolRegistry([zshTool]);
    const core = await AgentCore.create({
      tetherHome: home,
      model: new ResponsesModelClient({ baseURL: server.url, apiKey: "k" }),
      services: {
        tools: () => ({ specs: registry.specs(), run: (c, tc) => registry.call(c.name, c.arguments, tc), terminateTurn: async () => {}, closeAll: async () => {} }),
        policy: () => RulesThreadPolicy.load({ tetherHome: home }),
      },
      openEnvironment: () => ctx.openSession({}),
      instructions: async () => "test",
    });
    client = new InProcessAgentClient(core, { ownsCore: true });
    const thread = await client.startThread({ cwd: ctx.dir, environment: ctx.backend.name, model: "m", sandbox: "full-access", approvalPolicy: "on-request" });
    const watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: newId("go") });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    const output = toolOutput(server.received[1]!, "z1");
    expect(output).toContain("allowed");
    expect(output).toContain("status=126");
    expect(watch.completedItems("approval")).toEqual([]);
    watch.stop();
  });
});
