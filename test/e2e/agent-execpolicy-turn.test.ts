// Execpolicy in real turns: the core, the real tools and a real in-process exec server, with
// the thread policy the agent ships (RulesThreadPolicy over $TETHER_HOME/rules) and a scripted
// model. A forbidden rule keeps a command from running at all; "accept and add a rule" writes
// default.rules and the next matching command runs unasked; under `never` what would ask is
// declined and the model is told why.
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Environment } from "../../clients/environment/environment.js";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import type { ApprovalPolicy } from "../../services/agent-server/policy/approval-types.js";
import { RulesThreadPolicy } from "../../services/agent-server/policy/rules-thread-policy.js";
import type { ThreadEvent, ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import { defaultThreadTools } from "../../services/agent-server/tools/thread-tools.js";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { FakeModel, call, say } from "../support/agent-fakes.js";
import { watchThread } from "../support/agent-harness.js";

let home: string;
let tetherHome: string;
let core: AgentCore | undefined;
let envs: Environment[] = [];

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-execpolicy-turn-"));
  tetherHome = path.join(home, ".tether");
  await mkdir(path.join(tetherHome, "rules"), { recursive: true });
  await writeFile(
    path.join(tetherHome, "rules", "team.rules"),
    'prefix_rule(pattern=["rm"], decision="forbidden", justification="use trash instead")\nprefix_rule(pattern=["git", "push"], decision="prompt")\n',
  );
});
afterEach(async () => {
  await core?.close();
  core = undefined;
  envs = [];
  await rm(home, { recursive: true, force: true });
});

async function start(model: FakeModel, approvalPolicy: ApprovalPolicy) {
  core = await AgentCore.create({
    tetherHome,
    model,
    services: { tools: (setup) => defaultThreadTools(setup), policy: () => RulesThreadPolicy.load({ tetherHome }) },
    openEnvironment: async () => {
      const env = await LocalEnvironment.create({ defaultCwd: home });
      envs.push(env);
      return env;
    },
    instructions: async () => "test",
  });
  const thread = await core.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy });
  // One turn per thread here, so the watch's next turn end is this turn's.
  const { events, until, turnEnd } = await watchThread(new InProcessAgentClient(core), thread.threadId);
  return { core, thread, events, until, turnEnd };
}

const completed = (events: ThreadEvent[], type: ThreadItem["type"]) =>
  events.flatMap((e) => (e.type === "item.completed" && e.item.type === type ? [e.item] : []));

function outputOf(model: FakeModel, callId: string): string {
  for (const request of model.requests) {
    const item = request.input.find((i) => i.type === "function_call_output" && i.callId === callId);
    if (item !== undefined && item.type === "function_call_output") return item.output;
  }
  throw new Error(`no output for ${callId} reached the model`);
}

const exists = (file: string) => access(file).then(() => true, () => false);

describe("execpolicy in a real turn", () => {
  it("refuses a command a rule forbids before any of it runs, and tells the model why", async () => {
    const model = new FakeModel([call("exec_command", { cmd: "touch keep.txt; rm -f other.txt", login: false }, "rm1"), say("ok")]);
    const t = await start(model, "on-request");
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    await t.turnEnd();
    expect(t.events.at(-1)?.type).toBe("turn.completed");
    expect(await exists(path.join(home, "keep.txt"))).toBe(false);
    expect(outputOf(model, "rm1")).toMatch(/`rm` is forbidden by rule \["rm"\].*team\.rules:1\): use trash instead/);
    expect(completed(t.events, "approval")).toEqual([]);
  });

  it("accept and add a rule: the rule lands in default.rules and the next matching command runs unasked", async () => {
    const model = new FakeModel([
      call("exec_command", { cmd: "touch made.txt", login: false }, "t1"),
      call("exec_command", { cmd: "touch again.txt", login: false }, "t2"),
      say("done"),
    ]);
    const t = await start(model, "untrusted");
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    await t.until((e) => e.type === "item.started" && e.item.type === "approval");
    const [pending] = await t.core.listPendingApprovals(t.thread.threadId);
    expect(pending).toMatchObject({ promptKind: "sandbox_approval", proposedRule: { pattern: ["touch"], decision: "allow" } });
    expect(pending!.availableDecisions).toContain("accept_with_rule");
    await t.core.respond(t.thread.threadId, pending!.requestId, { type: "accept_with_rule", rule: pending!.proposedRule! });
    await t.turnEnd();
    expect(t.events.at(-1)?.type).toBe("turn.completed");
    expect(await exists(path.join(home, "made.txt"))).toBe(true);
    expect(await exists(path.join(home, "again.txt"))).toBe(true);
    expect(completed(t.events, "approval")).toHaveLength(1);
    expect(await readFile(path.join(tetherHome, "rules", "default.rules"), "utf8")).toBe('prefix_rule(pattern=["touch"], decision="allow")\n');
  });

  it("accept for the session: the same command runs unasked later in the thread, another one asks", async () => {
    const model = new FakeModel([
      call("exec_command", { cmd: "touch a.txt", login: false }, "s1"),
      call("exec_command", { cmd: "touch a.txt", login: false }, "s2"),
      call("exec_command", { cmd: "touch b.txt", login: false }, "s3"),
      say("done"),
    ]);
    const t = await start(model, "untrusted");
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    await t.until((e) => e.type === "item.started" && e.item.type === "approval");
    const [first] = await t.core.listPendingApprovals(t.thread.threadId);
    await t.core.respond(t.thread.threadId, first!.requestId, { type: "accept_for_session" });
    // s2 is covered by the grant; s3 is a different command and asks again.
    await t.until((e) => e.type === "item.started" && e.item.type === "approval" && e.item.id !== first!.requestId);
    const [second] = await t.core.listPendingApprovals(t.thread.threadId);
    expect(second!.action).toMatchObject({ kind: "command", commandLine: "touch b.txt" });
    await t.core.respond(t.thread.threadId, second!.requestId, { type: "decline", reason: "not b" });
    await t.turnEnd();
    expect(completed(t.events, "approval")).toHaveLength(2);
    expect(await exists(path.join(home, "a.txt"))).toBe(true);
    expect(await exists(path.join(home, "b.txt"))).toBe(false);
    expect(outputOf(model, "s2")).toMatch(/exited with code 0/);
    expect(outputOf(model, "s3")).toMatch(/not b/);
  });

  it("under never, a prompt rule and an unparseable line are declined and the model hears why", async () => {
    const model = new FakeModel([
      call("exec_command", { cmd: "git push origin main", login: false }, "p1"),
      call("exec_command", { cmd: "touch $(echo sub).txt", login: false }, "p2"),
      say("ok"),
    ]);
    const t = await start(model, "never");
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    await t.turnEnd();
    expect(t.events.at(-1)?.type).toBe("turn.completed");
    expect(outputOf(model, "p1")).toMatch(/rule \["git","push"\] asks before `git push`.*approval policy is "never"/);
    expect(outputOf(model, "p2")).toMatch(/cannot be checked against the rules \(command substitution.*approval policy is "never"/);
    expect(await exists(path.join(home, "sub.txt"))).toBe(false);
    expect(completed(t.events, "approval")).toEqual([]);
  });
});
