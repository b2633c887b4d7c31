// The interactive `tether` driven for real: the built CLI in a tmux terminal (send-keys,
// capture-pane), the agent in process, a scripted Responses server on loopback.
import { spawnSync } from "node:child_process";
import { access, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TETHER_BIN, ensureBuilt } from "../../../test/support/exec-server-process.js";
import { type ResponsesServer, type Script, inputItems, startResponsesServer, toolOutputs } from "../../../test/support/responses-server.js";
import { type TmuxSession, startTmux } from "../../../test/support/tmux-session.js";

let dir: string;
let work: string;
let server: ResponsesServer | undefined;
let term: TmuxSession | undefined;

beforeAll(async () => {
  if (spawnSync("tmux", ["-V"]).status !== 0) throw new Error("tmux is missing: run scripts/setup.sh (it installs tmux)");
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "tether-tui-"));
  work = path.join(dir, "work");
  await mkdir(work);
});
afterEach(async () => {
  await term?.close();
  term = undefined;
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const IDLE = /\/help for commands/;

async function open(script: Script, args: string[] = [], size = { columns: 100, rows: 30 }): Promise<TmuxSession> {
  server = await startResponsesServer({ script });
  term = await startTmux([process.execPath, TETHER_BIN, "--env", "local", ...args], {
    cwd: work,
    ...size,
    env: { TETHER_HOME: path.join(dir, "home"), OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test", TERM: "xterm-256color", PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  await term.waitFor(IDLE, "the idle status line");
  return term;
}

async function type(t: TmuxSession, text: string): Promise<void> {
  await t.send([text], { literal: true });
  await t.send(["Enter"]);
}

describe("tether (interactive)", () => {
  it("answers a prompt, recalls it with ↑, and exits on the second Ctrl-C", async () => {
    const t = await open([[{ type: "message", text: "Hello from the scripted model" }]]);
    await type(t, "say hello");
    await t.waitFor(/Hello from the scripted model/, "the streamed answer");
    await t.waitFor(IDLE, "the turn to end");
    expect(await t.screen()).toMatch(/› say hello/);
    await t.send(["Up"]);
    await t.waitFor((s) => /› say hello\s*\S?\s*│/.test(s.split("\n").filter((l) => l.includes("│")).join("\n")) || /│ › say hello/.test(s), "the prompt recalled from history");
    await t.send(["C-c"]);
    await t.waitFor(/Ctrl-C again to exit/, "the exit hint");
    await t.send(["C-c"]);
    await t.waitFor(/\[exited 0\]/, "tether to exit 0");
  });

  it("Ctrl-C interrupts a running turn; the session goes on", async () => {
    // By content, not order: an interrupted request may or may not have reached the server again.
    const t = await open((req) => (JSON.stringify(req.body).includes("are you there") ? [{ type: "message", text: "still here" }] : [{ type: "hang" }]));
    await type(t, "take forever");
    await t.waitFor(/thinking · \d+s/, "the spinner with elapsed time");
    await t.send(["C-c"]);
    await t.waitFor(/turn interrupted/, "the interrupted turn");
    await type(t, "are you there?");
    await t.waitFor(/still here/, "the next turn's answer");
    expect(await t.exited()).toBe(false);
  });

  it("takes a multi-line paste as one prompt", async () => {
    const t = await open([[{ type: "message", text: "got both lines" }]]);
    await t.paste("first pasted line\nsecond pasted line");
    await t.waitFor(/second pasted line/, "the pasted lines in the prompt");
    await t.send(["Enter"]);
    await t.waitFor(/got both lines/, "the answer");
    expect(JSON.stringify(inputItems(server!.requests[0]!))).toContain("first pasted line\\nsecond pasted line");
  });

  it("/status, /new and /resume", async () => {
    const t = await open([[{ type: "message", text: "answer one" }], [{ type: "message", text: "answer two" }]]);
    await type(t, "first thread");
    await t.waitFor(/answer one/, "the first answer");
    await t.waitFor(IDLE, "idle");
    await type(t, "/status");
    const status = await t.waitFor(/sandbox\s+workspace-write/, "the status");
    const threadId = /thread\s+(thread_\w+)/.exec(status)?.[1];
    expect(threadId).toBeDefined();
    expect(status).toMatch(/model\s+gpt-5\.5/);
    expect(status).toMatch(/environment\s+local/);
    await type(t, "/new");
    await t.waitFor(/new thread/, "a new thread");
    await type(t, "/resume");
    await t.waitFor(new RegExp(`${threadId}.*first thread`), "the thread listed");
    await type(t, `/resume ${threadId}`);
    await t.waitFor(/resumed thread_/, "the resumed thread");
    await type(t, "continue");
    await t.waitFor(/answer two/, "the answer in the resumed thread");
    expect(JSON.stringify(inputItems(server!.requests[1]!))).toContain("answer one");
  });

  it("asks before a command and takes single-key answers: y runs it, n declines it, c stops the turn", async () => {
    const t = await open(
      (req) => {
        const outputs = toolOutputs(req);
        if (JSON.stringify(req.body).includes("third")) {
          return outputs.has("c3") ? [{ type: "message", text: "should not be asked" }] : [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch cancelled.txt", login: false }, callId: "c3" }];
        }
        if (!outputs.has("c1")) return [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch approved.txt", login: false }, callId: "c1" }];
        if (!outputs.has("c2")) return [{ type: "function_call", name: "exec_command", arguments: { cmd: "touch declined.txt", login: false }, callId: "c2" }];
        return [{ type: "message", text: `finished; second said: ${outputs.get("c2")!.slice(0, 40)}` }];
      },
      ["-c", 'approval_policy="untrusted"'],
    );
    await type(t, "make two files");
    await t.waitFor(/Allow the agent to run touch approved\.txt\?[\s\S]*\[y\] yes[\s\S]*\[n\] no[\s\S]*\[c\] no, and stop/, "the first approval prompt");
    await t.send(["y"], { literal: true });
    await t.waitFor(/Allow the agent to run touch declined\.txt\?/, "the second approval prompt");
    await t.send(["n"], { literal: true });
    await t.waitFor(/finished; second said: The command was not run/, "the answer after the refusal");
    await access(path.join(work, "approved.txt"));
    await expect(access(path.join(work, "declined.txt"))).rejects.toThrow(/ENOENT/);
    await t.waitFor(IDLE, "idle");
    await type(t, "third");
    await t.waitFor(/Allow the agent to run touch cancelled\.txt\?/, "the third approval prompt");
    await t.send(["c"], { literal: true });
    await t.waitFor(IDLE, "the stopped turn");
    expect(await t.screen()).not.toMatch(/should not be asked/);
    await expect(access(path.join(work, "cancelled.txt"))).rejects.toThrow(/ENOENT/);
  });

  it("Codex's spellings: tether PROMPT starts with that turn, tether resume --last and tether fork --last continue it", async () => {
    const t = await open([[{ type: "message", text: "first answer" }], [{ type: "message", text: "resumed answer" }], [{ type: "message", text: "forked answer" }]], ["say first"]);
    await t.waitFor(/first answer/, "the answer to the command line's prompt");
    await t.waitFor(IDLE, "idle");
    const statusOf = async (session: TmuxSession) => {
      await type(session, "/status");
      return /thread\s+(thread_\w+)/.exec(await session.waitFor(/thread\s+thread_\w+/, "the status"))?.[1];
    };
    const first = await statusOf(t);
    const again = async (args: string[]) => {
      await term?.close();
      term = await startTmux([process.execPath, TETHER_BIN, "--env", "local", ...args], {
        cwd: work,
        columns: 100,
        rows: 30,
        env: { TETHER_HOME: path.join(dir, "home"), OPENAI_BASE_URL: server!.url, OPENAI_API_KEY: "sk-test", TERM: "xterm-256color", PATH: process.env.PATH ?? "/usr/bin:/bin" },
      });
      return term;
    };
    const resumed = await again(["resume", "--last", "say again"]);
    await resumed.waitFor(/resumed answer/, "the answer in the resumed thread");
    await resumed.waitFor(IDLE, "idle");
    expect(await statusOf(resumed)).toBe(first);
    const forked = await again(["fork", "--last", "say forked"]);
    await forked.waitFor(/forked answer/, "the answer in the fork");
    await forked.waitFor(IDLE, "idle");
    const fork = await statusOf(forked);
    expect(fork).toMatch(/^thread_/);
    expect(fork).not.toBe(first);
    // `tether resume` alone lists the threads to continue, as Codex's picker would.
    const picker = await again(["resume"]);
    await picker.waitFor(new RegExp(`recent threads \\(/resume ID\\):[\\s\\S]*${first}`), "the recent threads listed");
    // Each request carried the history before it.
    expect(JSON.stringify(inputItems(server!.requests[0]!))).toContain("say first");
    expect(JSON.stringify(inputItems(server!.requests[1]!))).toMatch(/say first[\s\S]*first answer[\s\S]*say again/);
    expect(JSON.stringify(inputItems(server!.requests[2]!))).toMatch(/first answer[\s\S]*resumed answer[\s\S]*say forked/);
  });

  it("follows the terminal's width when it is resized", async () => {
    const t = await open([], [], { columns: 100, rows: 30 });
    const boxOf = (s: string) => s.split("\n").find((l) => l.includes("╭"));
    const wide = boxOf(await t.waitFor((s) => boxOf(s) !== undefined, "the prompt box"))!;
    await t.resize(60, 30);
    // Both at once: mid-redraw the screen can hold neither the box nor the status line.
    const narrowBox = (s: string) => {
      const box = s.split("\n").find((l) => l.includes("╭"));
      return box !== undefined && box.trimEnd().length < 62 && /\/help for/.test(s);
    };
    const narrow = await t.waitFor(narrowBox, "the prompt box to shrink");
    expect(wide.trimEnd().length).toBeGreaterThan(90);
    expect(narrow).toMatch(/\/help for/);
  });
});
