import { readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessState, SignalTarget, TimeoutKind } from "../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { type Harness, TextReader, alive, drain, failure, pollUntil, readUntil, startHarness } from "../../../test/support/exec-harness.js";
import { createTestCa } from "../../../test/support/test-ca.js";

/** Pids whose process group is `pgid`, from /proc. */
async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // After the command: state, ppid, pgrp.
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(name));
    } catch {
      // Exited while we were looking.
    }
  }
  return out;
}

let h: Harness;
let n = 0;
const id = (what: string) => `${what}-${++n}`;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("ProcessService over a Unix socket", () => {
  it("Start is idempotent by id: same spec returns the same process, a different spec is ALREADY_EXISTS", async () => {
    const p = h.clients.processes;
    const pid = id("idem");
    const spec = { argv: ["sleep", "30"], labels: { a: "1" } };
    const first = await p.start({ processId: pid, spec });
    expect(first.created).toBe(true);
    expect(first.process?.pid).toBeGreaterThan(0);
    const again = await p.start({ processId: pid, spec });
    expect(again.created).toBe(false);
    expect(again.process?.pid).toBe(first.process?.pid);
    const err = await failure(p.start({ processId: pid, spec: { argv: ["sleep", "31"] } }));
    expect(err.code).toBe(ErrorCode.AlreadyExists);
    expect(err.message).toMatch(/different spec/);
    await p.terminate({ processId: pid, graceMs: 100 });
  });

  it("Attach from 0 and from a middle seq delivers the same tail, started first and exit last", async () => {
    const p = h.clients.processes;
    const pid = id("seq");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", 'for i in $(seq 1 20); do echo "line $i"; echo "err $i" >&2; done'] } });
    await p.wait({ processId: pid });
    const all = await drain(p.attach({ processId: pid }));
    expect(all.events[0]!.event.case).toBe("started");
    expect(all.events.at(-1)!.event.case).toBe("exited");
    expect(all.stdout.toString()).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join(""));
    expect(all.stderr.toString()).toBe(Array.from({ length: 20 }, (_, i) => `err ${i + 1}\n`).join(""));
    const seqs = all.events.slice(1).map((e) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);

    const middle = Math.floor(all.events.length / 2);
    const cursor = all.events[middle]!.seq;
    const tail = await drain(p.attach({ processId: pid, afterSeq: cursor }));
    expect(tail.events[0]!.event.case).toBe("started");
    expect(tail.events[0]!.seq).toBe(cursor);
    expect(tail.events.slice(1)).toEqual(all.events.slice(middle + 1));
  });

  it("gives two concurrent viewers identical bytes", async () => {
    const p = h.clients.processes;
    const pid = id("viewers");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", "read go; seq 1 200000"], stdinOpen: true } });
    const a = drain(p.attach({ processId: pid }));
    const b = drain(p.attach({ processId: pid }));
    await p.write({ processId: pid, data: Buffer.from("go\n"), eof: true });
    const [ra, rb] = await Promise.all([a, b]);
    const expected = Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join("");
    expect(ra.stdout.toString()).toBe(expected);
    expect(rb.stdout.equals(ra.stdout)).toBe(true);
    expect(ra.exit?.code).toBe(0);
  });

  it("detaching never kills the process", async () => {
    const p = h.clients.processes;
    const pid = id("detach");
    await p.start({ processId: pid, spec: { argv: ["cat"], stdinOpen: true } });
    const stream = p.attach({ processId: pid });
    await p.write({ processId: pid, data: Buffer.from("hello\n") });
    expect(await readUntil(stream, (t) => t.includes("hello"))).toBe("hello\n");
    // readUntil returned mid-stream: the for-await broke out and the call was cancelled.
    const [info] = (await p.list({ labels: {} })).processes.filter((x) => x.processId === pid);
    expect(info?.state).toBe(ProcessState.RUNNING);
    await p.write({ processId: pid, data: Buffer.from("bye\n"), eof: true });
    const status = (await p.wait({ processId: pid })).status;
    expect(status?.code).toBe(0);
    expect((await drain(p.attach({ processId: pid }))).stdout.toString()).toBe("hello\nbye\n");
  });

  it("an Attach sent right behind its Start waits for the process instead of failing NOT_FOUND", async () => {
    const p = h.clients.processes;
    const pid = id("behind");
    const started = p.start({ processId: pid, spec: { argv: ["echo", "hi"] } });
    const out = await drain(p.attach({ processId: pid }));
    expect((await started).created).toBe(true);
    expect(out.stdout.toString()).toBe("hi\n");
    expect(out.events.at(-1)!.event.case).toBe("exited");
  });

  it("Write is idempotent by write_id, and a write after EOF is FAILED_PRECONDITION", async () => {
    const p = h.clients.processes;
    const pid = id("write");
    await p.start({ processId: pid, spec: { argv: ["cat"], stdinOpen: true } });
    const w1 = await p.write({ processId: pid, writeId: "w1", data: Buffer.from("one\n") });
    expect(w1).toMatchObject({ bytesWritten: 4n, applied: true });
    const retry = await p.write({ processId: pid, writeId: "w1", data: Buffer.from("one\n") });
    expect(retry.applied).toBe(false);
    await p.write({ processId: pid, writeId: "w2", data: Buffer.from("two\n"), eof: true });
    const err = await failure(p.write({ processId: pid, writeId: "w3", data: Buffer.from("three\n") }));
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(err.message).toMatch(/stdin .* closed|EOF/);
    const out = await drain(p.attach({ processId: pid }));
    expect(out.stdout.toString()).toBe("one\ntwo\n");
    expect(out.exit?.code).toBe(0);
  });

  it("a retried EOF write is answered as applied before, and stdin closes once", async () => {
    const p = h.clients.processes;
    const pid = id("eof-retry");
    await p.start({ processId: pid, spec: { argv: ["cat"], stdinOpen: true } });
    expect(await p.write({ processId: pid, writeId: "end", data: Buffer.from("last\n"), eof: true })).toMatchObject({ bytesWritten: 5n, applied: true });
    // The answer was lost, so the client sends the same write again: not an error, not applied.
    expect(await p.write({ processId: pid, writeId: "end", data: Buffer.from("last\n"), eof: true })).toMatchObject({ bytesWritten: 5n, applied: false });
    const out = await drain(p.attach({ processId: pid }));
    expect(out.stdout.toString()).toBe("last\n");
    expect(out.exit?.code).toBe(0);
  });

  it("remembers the last 1024 write ids per process, and refuses ids longer than 128 characters", async () => {
    const p = h.clients.processes;
    const pid = id("write-ids");
    await p.start({ processId: pid, spec: { argv: ["wc", "-c"], stdinOpen: true } });
    const ids = Array.from({ length: 1025 }, (_, i) => `w-${i}`);
    for (const writeId of ids) await p.write({ processId: pid, writeId, data: Buffer.from("x") });
    // The newest 1024 are remembered: their retries are not applied again.
    expect((await p.write({ processId: pid, writeId: ids.at(-1)!, data: Buffer.from("x") })).applied).toBe(false);
    expect((await p.write({ processId: pid, writeId: ids[1]!, data: Buffer.from("x") })).applied).toBe(false);
    // The oldest was forgotten to bound memory: a retry that late is written again.
    expect((await p.write({ processId: pid, writeId: ids[0]!, data: Buffer.from("x") })).applied).toBe(true);
    const long = await failure(p.write({ processId: pid, writeId: "i".repeat(129), data: Buffer.from("x") }));
    expect(long.code).toBe(ErrorCode.InvalidArgument);
    expect(long.message).toMatch(/write_id is 129 characters; the limit is 128/);
    await p.write({ processId: pid, eof: true });
    const out = await drain(p.attach({ processId: pid }));
    expect(out.stdout.toString().trim()).toBe("1026");
  });

  it("Signal by number to the process and by name to the group", async () => {
    const p = h.clients.processes;
    const one = id("sig-num");
    await p.start({ processId: one, spec: { argv: ["sleep", "100"] } });
    await p.signal({ processId: one, signal: { case: "number", value: 15 }, target: SignalTarget.PROCESS });
    const s1 = (await p.wait({ processId: one })).status;
    expect(s1).toMatchObject({ signal: 15, signalName: "SIGTERM" });
    expect(s1?.code).toBeUndefined();

    const group = id("sig-group");
    const started = await p.start({ processId: group, spec: { argv: ["sh", "-c", "sleep 100 & sleep 100"] } });
    const pgid = started.process!.pid;
    await pollUntil(async () => (await groupMembers(pgid)).length >= 3, "sh and both sleeps in the group");
    await p.signal({ processId: group, signal: { case: "name", value: "kill" } });
    const s2 = (await p.wait({ processId: group })).status;
    expect(s2).toMatchObject({ signal: 9, signalName: "SIGKILL" });
    await pollUntil(async () => (await groupMembers(pgid)).length === 0, "no member of the group left");
  });

  it("Signal to the process reaches only it; to the group reaches every member", async () => {
    const p = h.clients.processes;
    const pid = id("sig-proc");
    const script = [
      "trap 'echo main-usr1' USR1",
      "(trap 'echo sub-usr1' USR1; echo sub-ready; while :; do sleep 0.05; done) &",
      "echo main-ready",
      "while :; do sleep 0.05; done",
    ].join("\n");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", script] } });
    const r = new TextReader(p.attach({ processId: pid }));
    await r.until((t) => t.includes("main-ready") && t.includes("sub-ready"));
    await p.signal({ processId: pid, signal: { case: "name", value: "USR1" }, target: SignalTarget.PROCESS });
    await r.until((t) => t.includes("main-usr1"));
    expect(r.text).not.toContain("sub-usr1");
    await p.signal({ processId: pid, signal: { case: "number", value: 10 }, target: SignalTarget.GROUP });
    await r.until((t) => t.includes("sub-usr1") && t.split("main-usr1").length === 3);
    await p.terminate({ processId: pid, graceMs: 100 });
    expect((await r.end())?.reason).toMatch(/^terminated by request/);
  });

  it("nothing of the group outlives the process", async () => {
    const p = h.clients.processes;
    const pid = id("outlive");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!; exit 0"] } });
    const out = await drain(p.attach({ processId: pid }));
    expect(out.exit?.code).toBe(0);
    const sleeper = Number(out.stdout.toString().trim());
    await pollUntil(async () => !(await alive(sleeper)), `background sleep ${sleeper} to be killed`);
  });

  it("Terminate sends TERM, waits the grace period, then KILLs a process that ignores TERM", async () => {
    const p = h.clients.processes;
    const pid = id("term");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"] } });
    await readUntil(p.attach({ processId: pid }), (t) => t.includes("ready"));
    const t0 = Date.now();
    const status = (await p.terminate({ processId: pid, graceMs: 300 })).status;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(status).toMatchObject({ signal: 9, signalName: "SIGKILL", timedOut: false });
    expect(status?.reason).toMatch(/^terminated by request/);
  });

  it("List filters by session, labels and exited", async () => {
    const p = h.clients.processes;
    const s = await h.clients.sessions.openSession({ sessionId: id("list-session") });
    const a = id("list-a");
    const b = id("list-b");
    const c = id("list-c");
    await p.start({ processId: a, spec: { argv: ["sleep", "30"], labels: { team: "x", kind: "sleeper" } }, sessionId: s.sessionId });
    await p.start({ processId: b, spec: { argv: ["true"], labels: { team: "x" } }, sessionId: s.sessionId });
    await p.start({ processId: c, spec: { argv: ["sleep", "30"], labels: { team: "y" } } });
    await p.wait({ processId: b });
    const ids = async (req: Parameters<typeof p.list>[0]) => (await p.list(req)).processes.map((x) => x.processId).sort();
    expect(await ids({ sessionId: s.sessionId })).toEqual([a]);
    expect(await ids({ sessionId: s.sessionId, includeExited: true })).toEqual([a, b].sort());
    expect(await ids({ labels: { team: "x" }, includeExited: true })).toEqual([a, b].sort());
    expect(await ids({ labels: { team: "x", kind: "sleeper" } })).toEqual([a]);
    expect(await ids({ labels: { team: "y" } })).toEqual([c]);
    const exited = (await p.list({ sessionId: s.sessionId, includeExited: true })).processes.find((x) => x.processId === b);
    expect(exited?.state).toBe(ProcessState.EXITED);
    expect(exited?.exit?.code).toBe(0);
    await h.clients.sessions.closeSession({ sessionId: s.sessionId });
    await p.terminate({ processId: c, graceMs: 100 });
  });

  it("Wait answers with the exit code; a signal death carries the number and name", async () => {
    const p = h.clients.processes;
    const code = id("code");
    await p.start({ processId: code, spec: { argv: ["sh", "-c", "exit 7"] } });
    expect((await p.wait({ processId: code })).status).toMatchObject({ code: 7, signalName: "", timedOut: false });
    const sig = id("usr1");
    await p.start({ processId: sig, spec: { argv: ["sh", "-c", "kill -USR1 $$"] } });
    const status = (await p.wait({ processId: sig })).status;
    expect(status).toMatchObject({ signal: 10, signalName: "SIGUSR1" });
    expect(status?.code).toBeUndefined();
  });

  it("a wall timeout stops the process with timed_out and kind WALL", async () => {
    const p = h.clients.processes;
    const pid = id("wall");
    await p.start({ processId: pid, spec: { argv: ["sleep", "30"], timeouts: { wallMs: 300, killGraceMs: 200 } } });
    const status = (await p.wait({ processId: pid })).status;
    expect(status).toMatchObject({ timedOut: true, timeoutKind: TimeoutKind.WALL, signal: 15 });
    expect(status?.reason).toMatch(/wall timeout of 300 ms/);
    expect(Number(status?.wallTimeMs)).toBeGreaterThanOrEqual(300);
  });

  it("an idle timeout fires only after output stops", async () => {
    const p = h.clients.processes;
    const pid = id("idle");
    // Prints every 100 ms for ~1.5 s (longer than the idle limit in total), then goes quiet.
    // The limit is 10x the print interval so a loaded machine's scheduling hiccup cannot fire it early.
    await p.start({
      processId: pid,
      spec: { argv: ["sh", "-c", "for i in $(seq 1 15); do echo $i; sleep 0.1; done; sleep 30"], timeouts: { idleMs: 1000, killGraceMs: 200 } },
    });
    const out = await drain(p.attach({ processId: pid }));
    expect(out.stdout.toString()).toBe(Array.from({ length: 15 }, (_, i) => `${i + 1}\n`).join(""));
    expect(out.exit).toMatchObject({ timedOut: true, timeoutKind: TimeoutKind.IDLE });
    expect(out.exit?.reason).toMatch(/idle timeout of 1000 ms/);
    expect(Number(out.exit?.wallTimeMs)).toBeGreaterThan(2400);
  });

  it("reports wall time and CPU time for a busy loop", async () => {
    const p = h.clients.processes;
    const pid = id("busy");
    await p.start({ processId: pid, spec: { argv: ["awk", "BEGIN { for (i = 0; i < 1e7; i++) s += i }"] } });
    const status = (await p.wait({ processId: pid })).status!;
    expect(status.code).toBe(0);
    expect(Number(status.wallTimeMs)).toBeGreaterThan(0);
    expect(Number(status.userCpuMs) + Number(status.systemCpuMs)).toBeGreaterThan(0);
    expect(Number(status.userCpuMs + status.systemCpuMs)).toBeLessThanOrEqual(Number(status.wallTimeMs) + 50);
  });
});

describe("ProcessService over TCP with TLS and a bearer token", () => {
  let tls: Harness;
  let caDir: string;
  beforeAll(async () => {
    caDir = await mkdtemp(path.join(tmpdir(), "tether-ca-"));
    const ca = await createTestCa(caDir, ["127.0.0.1", "localhost"]);
    tls = await startHarness({
      listen: "tcp://127.0.0.1:0",
      token: "s3cret-token",
      tls: { cert: ca.serverCertPem, key: ca.serverKeyPem },
      connection: { caPem: ca.caCertPem },
    });
  });
  afterAll(async () => {
    await tls?.close();
    await rm(caDir, { recursive: true, force: true });
  });

  it("starts, attaches, writes, signals and waits", async () => {
    expect(tls.url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    const p = tls.clients.processes;
    const pid = id("tls");
    const started = await p.start({ processId: pid, spec: { argv: ["sh", "-c", "cat; exit 3"], stdinOpen: true } });
    expect(started.created).toBe(true);
    const attached = drain(p.attach({ processId: pid }));
    await p.write({ processId: pid, writeId: "a", data: Buffer.from("over tls\n"), eof: true });
    const out = await attached;
    expect(out.stdout.toString()).toBe("over tls\n");
    expect(out.exit?.code).toBe(3);
    expect((await p.wait({ processId: pid })).status?.code).toBe(3);

    const sleeper = id("tls-sleep");
    await p.start({ processId: sleeper, spec: { argv: ["sleep", "30"] } });
    await p.signal({ processId: sleeper, signal: { case: "name", value: "INT" } });
    expect((await p.wait({ processId: sleeper })).status?.signalName).toBe("SIGINT");
  });
});

describe("Attach at the end of an exited process", () => {
  it("ends after the started event when the cursor is already at the exit event", async () => {
    const p = h.clients.processes;
    const pid = id("at-end");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", "echo x"] } });
    const all = await drain(p.attach({ processId: pid }));
    const exitSeq = all.events.at(-1)!.seq;
    const again = await drain(p.attach({ processId: pid, afterSeq: exitSeq }));
    expect(again.events.map((e) => e.event.case)).toEqual(["started"]);
    expect(again.events[0]!.seq).toBe(exitSeq);
  });
});

describe("ProcessService edge cases", () => {
  it("joins concurrent identical Starts into one process", async () => {
    const p = h.clients.processes;
    const pid = id("race");
    const spec = { argv: ["sleep", "30"] };
    const results = await Promise.all(Array.from({ length: 5 }, () => p.start({ processId: pid, spec })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.process?.pid)).size).toBe(1);
    await p.terminate({ processId: pid, graceMs: 100 });
  });

  it("answers an exited process's Signal and Resize with FAILED_PRECONDITION, and Terminate with its status", async () => {
    const p = h.clients.processes;
    const pid = id("gone");
    await p.start({ processId: pid, spec: { argv: ["sh", "-c", "exit 9"], tty: { rows: 10, cols: 10 } } });
    await p.wait({ processId: pid });
    const sig = await failure(p.signal({ processId: pid, signal: { case: "name", value: "TERM" } }));
    expect(sig.code).toBe(ErrorCode.FailedPrecondition);
    expect(sig.message).toMatch(/already exited/);
    const rs = await failure(p.resize({ processId: pid, size: { rows: 5, cols: 5 } }));
    expect(rs.code).toBe(ErrorCode.FailedPrecondition);
    expect((await p.terminate({ processId: pid })).status?.code).toBe(9);
    // Start with the same id and spec returns the exited process, not a new one.
    const again = await p.start({ processId: pid, spec: { argv: ["sh", "-c", "exit 9"], tty: { rows: 10, cols: 10 } } });
    expect(again).toMatchObject({ created: false, process: { state: ProcessState.EXITED } });
  });

  it("applies the env policy: NONE starts empty, CORE keeps the basics, exclude drops by glob", async () => {
    const p = h.clients.processes;
    const envOf = async (envPolicy: object, env: Record<string, string> = {}) => {
      const pid = id("env");
      await p.start({ processId: pid, spec: { argv: ["/usr/bin/env"], envPolicy, env } });
      const out = (await drain(p.attach({ processId: pid }))).stdout.toString();
      return Object.fromEntries(out.trim().split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    };
    expect(await envOf({ inherit: 3 }, { ONLY: "me" })).toEqual({ ONLY: "me" });
    process.env.TETHER_TEST_TOKEN = "leak";
    try {
      const core = await envOf({ inherit: 2 });
      expect(core.PATH).toBe(process.env.PATH);
      expect(core.TETHER_TEST_TOKEN).toBeUndefined();
      const all = await envOf({ inherit: 1, exclude: ["*_TOKEN"] });
      expect(all.TETHER_TEST_TOKEN).toBeUndefined();
      expect(all.PATH).toBe(process.env.PATH);
      expect((await envOf({ inherit: 1 })).TETHER_TEST_TOKEN).toBe("leak");
    } finally {
      delete process.env.TETHER_TEST_TOKEN;
    }
  });

  it("refuses to run more processes than the limit with RESOURCE_EXHAUSTED", async () => {
    await using small = await startHarness({ core: { limits: { maxRunning: 2 } } });
    const p = small.clients.processes;
    await p.start({ processId: "one", spec: { argv: ["sleep", "30"] } });
    await p.start({ processId: "two", spec: { argv: ["sleep", "30"] } });
    const err = await failure(p.start({ processId: "three", spec: { argv: ["sleep", "30"] } }));
    expect(err.code).toBe(ErrorCode.ResourceExhausted);
    expect(err.message).toMatch(/2 processes are running/);
    await p.terminate({ processId: "one", graceMs: 100 });
    expect((await p.start({ processId: "three", spec: { argv: ["true"] } })).created).toBe(true);
  });

  it("answers Events for an unknown session with NOT_FOUND", async () => {
    const err = await failure((async () => {
      for await (const _ of h.clients.sessions.events({ sessionId: "nope" })) return;
    })());
    expect(err.code).toBe(ErrorCode.NotFound);
  });
});
