// Codex's `notify` through the real CLI: `tether exec` against the scripted Responses server, with
// a config.toml whose notify program records its last argument; the JSON is Codex's
// agent-turn-complete. A program that does not exist is one warning on stderr, not a failed run.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startResponsesServer } from "../support/responses-server.js";
import { runTether } from "../support/tether-cli.js";

let dir: string;
let work: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-notify-e2e-"));
  work = path.join(dir, "work");
  await mkdir(path.join(work, ".git"), { recursive: true });
  // POSIX sh: `for last; do :; done` leaves the last argument in $last.
  await writeFile(path.join(dir, "notify.sh"), `#!/bin/sh\nprintf '%s' "$1" > "$(dirname "$0")/first-arg"\nfor last; do :; done\nprintf '%s' "$last" > "$(dirname "$0")/payload.json"\n`);
  await chmod(path.join(dir, "notify.sh"), 0o755);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function homeWith(name: string, notify: string[]): Promise<string> {
  const home = path.join(dir, name);
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, "config.toml"), `notify = ${JSON.stringify(notify)}\n`);
  return home;
}

describe("tether exec with notify", () => {
  it("runs the program after the turn with Codex's agent-turn-complete JSON as its last argument", async () => {
    await using server = await startResponsesServer({ script: () => [{ type: "message" as const, text: "hi there" }] });
    const home = await homeWith("home", [path.join(dir, "notify.sh"), "--flag"]);
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" };
    const result = await runTether(["exec", "--json", "-C", work, "say hi"], { env });
    expect(result.stderr).not.toMatch(/warning|error/i);
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; thread_id?: string });
    const threadId = events.find((e) => e.type === "thread.started")?.thread_id;
    expect(threadId).toMatch(/^thread_/);
    // exec waits for the program (bounded) before it exits: the file is there now.
    expect(await readFile(path.join(dir, "first-arg"), "utf8")).toBe("--flag");
    const payload = JSON.parse(await readFile(path.join(dir, "payload.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(payload)).toEqual(["type", "thread-id", "turn-id", "cwd", "input-messages", "last-assistant-message"]);
    expect(payload).toMatchObject({ type: "agent-turn-complete", "thread-id": threadId, cwd: path.resolve(work), "input-messages": ["say hi"], "last-assistant-message": "hi there" });
    expect(payload["turn-id"]).toMatch(/^turn_/);
  });

  it("a program that does not exist: one warning on stderr, and the run still succeeds", async () => {
    await using server = await startResponsesServer({ script: () => [{ type: "message" as const, text: "hi" }] });
    const home = await homeWith("home-missing", [path.join(dir, "no-such-notifier")]);
    const env: NodeJS.ProcessEnv = { ...process.env, TETHER_HOME: home, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" };
    const result = await runTether(["exec", "-C", work, "say hi"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("hi");
    const warnings = result.stderr.split("\n").filter((l) => l.includes("no-such-notifier"));
    expect(warnings).toEqual([`warning: notify: could not run ${path.join(dir, "no-such-notifier")}: no such program (give its path, or put it on PATH)`]);
  });
});
