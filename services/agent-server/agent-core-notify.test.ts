// Codex's `notify` in the agent core (the one place exec, the TUI and agent-server share): a real
// program runs after each completed turn, the thread never waits for it, close() waits for it
// (bounded), and a program that cannot start is one warning on the thread, not a failed turn.
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { FakeModel, fakeServices, say } from "../../test/support/agent-fakes.js";
import { AgentCore } from "./agent-core.js";
import type { ThreadEvent } from "./thread/thread-event.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-agent-notify-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function makeCore(model: FakeModel, notify: string[]): Promise<AgentCore> {
  return AgentCore.create({
    tetherHome: home,
    model,
    services: fakeServices({}),
    openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }),
    notify,
  });
}

/** Runs one turn and returns its events up to (and including) its end. */
async function turn(core: AgentCore, threadId: string, text: string): Promise<ThreadEvent[]> {
  const abort = new AbortController();
  const events: ThreadEvent[] = [];
  const stream = await core.events(threadId, { controller: true, signal: abort.signal });
  const { turnId } = await core.startTurn(threadId, { text });
  for await (const e of stream) {
    events.push(e);
    if ((e.type === "turn.completed" || e.type === "turn.failed" || e.type === "turn.interrupted") && e.turnId === turnId) break;
  }
  abort.abort();
  return events;
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
}

describe("AgentCore notify", () => {
  it("runs the program per completed turn without holding the thread; close() waits for it", { timeout: 30_000 }, async () => {
    const log = path.join(home, "log");
    const fifo = path.join(home, "fifo");
    execFileSync("mkfifo", [fifo]);
    // The first run blocks until the test writes to the fifo; later runs return at once.
    const script = path.join(home, "notify.sh");
    await writeFile(script, `#!/bin/sh\nfor last; do :; done\nprintf '%s\\n' "$last" >> "${log}"\nif mkdir "${home}/first" 2>/dev/null; then read x < "${fifo}"; printf 'released\\n' >> "${log}"; fi\n`);
    await chmod(script, 0o755);
    const core = await makeCore(new FakeModel([say("one"), say("two")]), [script]);
    try {
      const thread = await core.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "never" });
      expect((await turn(core, thread.threadId, "first")).at(-1)?.type).toBe("turn.completed");
      // A bounded wait for the program's first line (it runs in the background).
      for (let i = 0; i < 500 && (await lines(log)).length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      // The first program still blocks: the thread runs its next turn regardless.
      expect((await turn(core, thread.threadId, "second")).at(-1)?.type).toBe("turn.completed");
      for (let i = 0; i < 500 && (await lines(log)).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const [first, second] = (await lines(log)).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(first).toMatchObject({ type: "agent-turn-complete", "thread-id": thread.threadId, cwd: home, "input-messages": ["first"], "last-assistant-message": "one" });
      expect(second).toMatchObject({ "input-messages": ["second"], "last-assistant-message": "two" });
      await writeFile(fifo, "go\n");
    } finally {
      await core.close();
    }
    // close() returned only once the released program had finished.
    expect((await lines(log)).at(-1)).toBe("released");
  });

  it("a program that cannot start: a warning on the thread, and the turn completes", async () => {
    const core = await makeCore(new FakeModel([say("one")]), [path.join(home, "missing-notifier"), "--x"]);
    try {
      const thread = await core.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "never" });
      const abort = new AbortController();
      const stream = (await core.events(thread.threadId, { controller: true, signal: abort.signal }))[Symbol.asyncIterator]();
      await core.startTurn(thread.threadId, { text: "first" });
      const seen: string[] = [];
      // The warning comes after turn.completed (the run is not waited for): read on until it.
      for (let r = await stream.next(); !r.done; r = await stream.next()) {
        seen.push(r.value.type);
        if (r.value.type === "warning") {
          expect(r.value.message).toBe(`notify: could not run ${path.join(home, "missing-notifier")}: no such program (give its path, or put it on PATH)`);
          break;
        }
      }
      abort.abort();
      expect(seen.slice(-2)).toEqual(["turn.completed", "warning"]);
    } finally {
      await core.close();
    }
  });

  it("says it once per agent however many turns complete (notifyWarning: where exec sends it)", async () => {
    const warnings: string[] = [];
    const core = await AgentCore.create({
      tetherHome: home,
      model: new FakeModel([say("one"), say("two"), say("three")]),
      services: fakeServices({}),
      openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }),
      notify: [path.join(home, "missing-notifier")],
      notifyWarning: (m) => warnings.push(m),
    });
    try {
      const thread = await core.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "never" });
      for (const text of ["a", "b", "c"]) expect((await turn(core, thread.threadId, text)).at(-1)?.type).toBe("turn.completed");
    } finally {
      await core.close(); // waits for every run: all three have failed to start by now
    }
    expect(warnings).toHaveLength(1);
  });
});
