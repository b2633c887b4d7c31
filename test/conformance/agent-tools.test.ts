// The agent's tools on every backend (issue 15): they touch machines only through the
// Environment, so exec_command/write_stdin/apply_patch must behave the same in-process, over a
// Unix socket, on a "remote VM" and in a container. Files are checked through the
// environment's own file API (its file system, not ours).
import { expect, it } from "vitest";
import { ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import type { Environment, FileOps } from "../../clients/environment/environment.js";
import { createDefaultTools } from "../../services/agent-server/tools/default-tools.js";
import { buildToolRegistry } from "../../services/agent-server/tools/tool-registry.js";
import { LABEL_THREAD, LABEL_TURN, UnifiedExecSessions, type YieldTimer } from "../../services/agent-server/tools/unified-exec/unified-exec-sessions.js";
import { type FakeContextOptions, RecordingEmitter, fakeToolContext } from "../support/fake-tool-context.js";
import { enc, failure, forEachBackend, newId } from "./conformance-kit.js";

forEachBackend("agent tools", (ctx) => {
  let yieldWith: YieldTimer = async () => {};
  const untilExit: YieldTimer = (_ms, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  function thread(env: Environment = ctx.env) {
    const threadId = newId("thread");
    const sessions = new UnifiedExecSessions({ env, threadId, yieldTimer: (ms, signal) => yieldWith(ms, signal) });
    const registry = buildToolRegistry(createDefaultTools({ sessions }));
    const item = new RecordingEmitter();
    const call = (name: string, args: object, o: Partial<FakeContextOptions> = {}) => registry.call(name, JSON.stringify(args), fakeToolContext({ env, cwd: ctx.dir, threadId, item, ...o }));
    return { threadId, sessions, call, item };
  }

  const text = async (p: string) => {
    let out = "";
    for await (const chunk of ctx.env.files.readFile(p).chunks) out += Buffer.from(chunk).toString("utf8");
    return out;
  };
  const running = async (labels: Record<string, string>) => (await ctx.env.processes.list({ labels })).filter((p) => p.state === ProcessState.RUNNING);

  it("exec_command yields a running PTY command, write_stdin finishes it", async () => {
    const t = thread();
    yieldWith = () => t.item.waitForOutput("cmd-c1", /ready/);
    const first = await t.call("exec_command", { cmd: "echo ready; read x; echo got:$x", login: false, tty: true }, { callId: "c1" });
    expect(first.output).toMatch(/Process running with session ID 1000/);
    yieldWith = untilExit;
    const second = await t.call("write_stdin", { session_id: 1000, chars: "hi\n" });
    expect(second.output).toMatch(/Process exited with code 0/);
    expect(second.output).toContain("got:hi");
  });

  it("terminateTurn leaves none of the turn's processes running", async () => {
    const t = thread();
    yieldWith = async () => {};
    await t.call("exec_command", { cmd: "sleep 60 & sleep 61; wait", login: false }, { turnId: "turn-x" });
    await t.call("exec_command", { cmd: "sleep 62", login: false, tty: true }, { turnId: "turn-x" });
    expect(await running({ [LABEL_THREAD]: t.threadId, [LABEL_TURN]: "turn-x" })).toHaveLength(2);
    expect(await t.sessions.terminateTurn("turn-x")).toHaveLength(2);
    expect(await running({ [LABEL_THREAD]: t.threadId })).toEqual([]);
  });

  it("the item gets live output between calls and completes when the process exits after the call returned", async () => {
    const t = thread();
    const flag = `${ctx.dir}/${newId("go")}`;
    yieldWith = () => t.item.waitForOutput("cmd-live1", /one/);
    const first = await t.call("exec_command", { cmd: `echo one; while [ ! -e '${flag}' ]; do sleep 0.01; done; echo two; exit 5`, login: false }, { callId: "live1" });
    expect(first.output).toMatch(/Process running with session ID (\d+)/);
    await ctx.env.files.writeFile({ path: flag }, enc(""));
    await t.item.waitFor((e) => e.kind === "completed");
    expect(t.item.output("cmd-live1")).toBe("one\ntwo\n");
    expect(t.item.events.at(-1)).toMatchObject({ kind: "completed", item: { exitCode: 5, status: "failed" } });
    yieldWith = untilExit;
    const id = Number(/session ID (\d+)/.exec(first.output)?.[1]);
    expect((await t.call("write_stdin", { session_id: id })).output).toMatch(/Process exited with code 5\nOutput:\ntwo\n$/);
  });

  it("2000 yields on one session use one Attach and keep the connection", async () => {
    let attaches = 0;
    const processes = { ...ctx.env.processes, attach: (...a: Parameters<Environment["processes"]["attach"]>) => (attaches++, ctx.env.processes.attach(...a)) };
    const env = Object.assign(Object.create(Object.getPrototypeOf(ctx.env) as object) as Environment, ctx.env, { processes });
    const t = thread(env);
    yieldWith = () => t.item.waitForOutput("cmd-many", /ready/);
    const first = await t.call("exec_command", { cmd: "stty -echo; echo ready; cat", login: false, tty: true }, { callId: "many", env });
    const id = Number(/session ID (\d+)/.exec(first.output)?.[1]);
    yieldWith = async () => {};
    let seen = "";
    for (let i = 0; i < 2000; i++) {
      const r = await t.call("write_stdin", { session_id: id, chars: i % 100 === 99 ? `n${i}\n` : "" }, { env });
      expect(r.success).toBe(true);
      seen += r.output.slice(r.output.indexOf("Output:\n") + 8);
    }
    yieldWith = () => t.item.waitForOutput("cmd-many", /n1999/);
    const last = await t.call("write_stdin", { session_id: id, chars: "\u0004" }, { env });
    seen += last.output.slice(last.output.indexOf("Output:\n") + 8);
    expect(seen).toContain("n1999");
    expect(attaches).toBe(1);
    await t.sessions.closeAll();
    expect(await running({ [LABEL_THREAD]: t.threadId })).toEqual([]);
  });

  it("apply_patch adds, updates, moves and deletes through the environment's files", async () => {
    const t = thread();
    const d = `${ctx.dir}/${newId("patch")}`;
    await ctx.env.files.writeFile({ path: `${d}/a.txt`, createParents: true }, enc("one\ntwo\n"));
    await ctx.env.files.writeFile({ path: `${d}/gone.txt` }, enc("x\n"));
    const patch = ["*** Begin Patch", "*** Add File: new/b.txt", "+bee", "*** Update File: a.txt", "*** Move to: c.txt", "@@", " one", "-two", "+TWO", "*** Delete File: gone.txt", "*** End Patch"].join("\n");
    const r = await t.call("apply_patch", { input: patch }, { cwd: d });
    expect(r).toMatchObject({ success: true });
    expect(await text(`${d}/new/b.txt`)).toBe("bee\n");
    expect(await text(`${d}/c.txt`)).toBe("one\nTWO\n");
    expect((await failure(ctx.env.files.stat(`${d}/a.txt`))).message).toMatch(/a\.txt/);
    expect((await failure(ctx.env.files.stat(`${d}/gone.txt`))).message).toMatch(/gone\.txt/);
  });

  it("apply_patch refuses a concurrent change and rolls back what it wrote", async () => {
    const d = `${ctx.dir}/${newId("race")}`;
    await ctx.env.files.writeFile({ path: `${d}/1.txt`, createParents: true }, enc("one\n"));
    await ctx.env.files.writeFile({ path: `${d}/2.txt` }, enc("two\n"));
    // Someone else writes 2.txt right after the patch read it (through the same server).
    const files: FileOps = {
      ...ctx.env.files,
      readFile(p, opts) {
        const r = ctx.env.files.readFile(p, opts);
        async function* chunks(): AsyncIterable<Uint8Array> {
          yield* r.chunks;
          if (p.endsWith("2.txt")) await ctx.env.files.writeFile({ path: p }, enc("theirs\n"));
        }
        return { info: r.info, chunks: chunks() };
      },
    };
    const env = Object.assign(Object.create(Object.getPrototypeOf(ctx.env) as object) as Environment, ctx.env, { files });
    const t = thread(env);
    const patch = ["*** Begin Patch", "*** Update File: 1.txt", "@@", "-one", "+ONE", "*** Update File: 2.txt", "@@", "-two", "+TWO", "*** End Patch"].join("\n");
    const r = await t.call("apply_patch", { input: patch }, { cwd: d, env });
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/every file was left as it was: .*2\.txt changed after apply_patch read it/);
    expect(await text(`${d}/1.txt`)).toBe("one\n");
    expect(await text(`${d}/2.txt`)).toBe("theirs\n");
  });
});
