// The TUI controller's slash commands that change the open thread: /approvals MODE and
// /model NAME reach the live thread at once (an in-process agent), and the view shows it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Key } from "ink";
import { afterEach, beforeEach, expect, it } from "vitest";
import { InProcessAgentClient } from "../../agent/in-process-agent-client.js";
import { LocalEnvironment } from "../../environment/local-environment.js";
import { AgentCore } from "../../../services/agent-server/agent-core.js";
import { FakeModel, fakeServices } from "../../../test/support/agent-fakes.js";
import type { AgentSession } from "../agent-session.js";
import { TuiController, type TuiSnapshot } from "./tui-controller.js";

let home: string;
let controller: TuiController | undefined;

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-tui-controller-"));
});
afterEach(async () => {
  await controller?.close();
  controller = undefined;
  await rm(home, { recursive: true, force: true });
});

function waitFor(c: TuiController, pred: (s: TuiSnapshot) => boolean): Promise<TuiSnapshot> {
  if (pred(c.snapshot())) return Promise.resolve(c.snapshot());
  return new Promise((resolve) => {
    const off = c.subscribe(() => {
      if (!pred(c.snapshot())) return;
      off();
      resolve(c.snapshot());
    });
  });
}

const ENTER = { return: true } as Key;
const noticed = (text: string) => (s: TuiSnapshot) => [...s.state.finished, ...s.state.live].some((e) => e.kind === "notice" && e.text.startsWith(text));

it("/approvals MODE and /model NAME change the open thread at once", async () => {
  const core = await AgentCore.create({ tetherHome: home, model: new FakeModel([]), services: fakeServices({}), openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }), idleThreadTtlMs: 0 });
  const session = {
    client: new InProcessAgentClient(core, { ownsCore: true }),
    thread: { cwd: home, environment: "local", model: "m1", sandbox: "workspace-write", approvalPolicy: "on-request" },
    overrides: {},
  } as unknown as AgentSession;
  controller = new TuiController(session);
  await controller.start();
  const c = controller;
  const threadId = (await waitFor(c, (s) => s.state.thread !== undefined)).state.thread!.threadId;

  c.paste("/approvals never");
  c.key("", ENTER);
  expect((await waitFor(c, noticed("approvals: never"))).state.thread?.approvalPolicy).toBe("never");
  expect(core.thread(threadId)!.info.approvalPolicy).toBe("never");

  c.paste("/model m2");
  c.key("", ENTER);
  expect((await waitFor(c, noticed("model: m2"))).state.thread?.model).toBe("m2");
  expect(core.thread(threadId)!.info.model).toBe("m2");
  // A later /new starts with them too.
  expect(session.thread).toMatchObject({ approvalPolicy: "never", model: "m2" });

  c.paste("/approvals sometimes");
  c.key("", ENTER);
  const warned = await waitFor(c, noticed("approval policy sometimes?"));
  expect(warned.state.thread?.approvalPolicy).toBe("never");
});

it("shows a thread's warning once when it follows the thread again (/resume of a thread whose warnings the agent keeps)", async () => {
  const core = await AgentCore.create({ tetherHome: home, model: new FakeModel([]), services: fakeServices({}), openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }), idleThreadTtlMs: 0 });
  const session = {
    client: new InProcessAgentClient(core, { ownsCore: true }),
    thread: { cwd: home, environment: "local", model: "m1", sandbox: "workspace-write", approvalPolicy: "on-request" },
    overrides: {},
  } as unknown as AgentSession;
  controller = new TuiController(session);
  await controller.start();
  const c = controller;
  const threadId = (await waitFor(c, (s) => s.state.thread !== undefined)).state.thread!.threadId;
  const shown = (text: string) => [...c.snapshot().state.finished, ...c.snapshot().state.live].filter((e) => e.kind === "notice" && e.text === text).length;
  core.thread(threadId)!.fanout.publish({ type: "warning", message: "the first warning" });
  await waitFor(c, noticed("the first warning"));

  c.paste(`/resume ${threadId}`);
  c.key("", ENTER);
  await waitFor(c, noticed(`resumed ${threadId}`));
  // A warning published after the re-subscription is new: shown, and the kept one not again.
  core.thread(threadId)!.fanout.publish({ type: "warning", message: "the second warning" });
  await waitFor(c, noticed("the second warning"));
  expect(shown("the first warning")).toBe(1);
  expect(shown("the second warning")).toBe(1);
});
