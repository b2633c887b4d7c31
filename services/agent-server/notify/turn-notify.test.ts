import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runNotify, turnNotification } from "./turn-notify.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-notify-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("turnNotification", () => {
  it("is Codex's agent-turn-complete: kebab-case keys in its order, user messages in order, the last agent message", () => {
    const payload = turnNotification({
      threadId: "thread_1",
      turnId: "turn_2",
      cwd: "/work/project",
      items: [
        { type: "user_message", id: "i1", text: "Rename `foo` to `bar`" },
        { type: "agent_message", id: "i2", text: "Looking." },
        { type: "command_execution", id: "i3", callId: "c1", command: "ls", cwd: "/work/project", output: "", status: "completed" },
        { type: "user_message", id: "i4", text: "and the callsites" },
        { type: "agent_message", id: "i5", text: "Done." },
      ],
    });
    expect(JSON.stringify(payload)).toBe(
      '{"type":"agent-turn-complete","thread-id":"thread_1","turn-id":"turn_2","cwd":"/work/project","input-messages":["Rename `foo` to `bar`","and the callsites"],"last-assistant-message":"Done."}',
    );
  });

  it("says null when the turn had no agent message (Codex's None)", () => {
    const payload = turnNotification({ threadId: "t", turnId: "u", cwd: "/", items: [{ type: "user_message", id: "i1", text: "run it" }] });
    expect(payload["last-assistant-message"]).toBeNull();
    expect(JSON.parse(JSON.stringify(payload))).toHaveProperty("last-assistant-message", null);
  });
});

describe("runNotify", () => {
  const payload = turnNotification({ threadId: "t", turnId: "u", cwd: "/", items: [] });

  it("runs the program with its own arguments and the JSON last, stdin closed", async () => {
    const out = path.join(dir, "args.json");
    const script = path.join(dir, "record.sh");
    await writeFile(script, `#!/bin/sh\nread -r line; printf '%s\\n' "$@" > "${out}"\n`);
    await chmod(script, 0o755);
    expect(await runNotify([script, "--flag", "two words"], payload)).toBeUndefined();
    expect((await readFile(out, "utf8")).split("\n").slice(0, 3)).toEqual(["--flag", "two words", JSON.stringify(payload)]);
  });

  it("a missing program is a warning, not an error", async () => {
    const warning = await runNotify([path.join(dir, "no-such-program")], payload);
    expect(warning).toMatch(/could not run .*no-such-program: no such program/);
    expect(await runNotify([""], payload)).toMatch(/empty/);
  });

  it("kills a program still running at the timeout, with what it started", async () => {
    const pidFile = path.join(dir, "child.pid");
    const script = path.join(dir, "hang.sh");
    await writeFile(script, `#!/bin/sh\nsleep 300 &\necho $! > "${pidFile}"\nwait\n`);
    await chmod(script, 0o755);
    expect(await runNotify([script], payload, { timeoutMs: 300 })).toBeUndefined();
    const pid = Number(await readFile(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(0);
    // SIGKILL went to the whole group: the backgrounded sleep is gone (or a zombie being reaped).
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
  });
});
