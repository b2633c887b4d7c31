// Processes on every backend: pipes and PTYs, exit codes and signals, stdin, resize,
// group kill, stopwatches paused by elicitation, output resume by seq, environment info.
import { expect, it } from "vitest";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import { OutputStream, OverflowPolicy, ProcessState, TimeoutKind } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { OutputReader, collect, enc, failure, forEachBackend, newId, run } from "./conformance-kit.js";

forEachBackend("processes", (ctx) => {
  it("reports a linux environment with PTY and SESSIONS", async () => {
    const info = await ctx.env.info();
    expect(info.os).toBe("linux");
    expect(info.capabilities).toEqual(expect.arrayContaining([Capability.PTY, Capability.SESSIONS]));
    expect(info.defaultCwd).toMatch(/^\//);
    expect(info.serverVersion).not.toBe("");
  });

  it("separates stdout and stderr on pipes and passes the exit code", async () => {
    const r = await run(ctx.env, { argv: ["sh", "-c", "echo out; echo err >&2; exit 7"], cwd: ctx.dir });
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
    expect(r.exit.code).toBe(7);
    expect(r.events[0]?.event.case).toBe("started");
    expect(r.events.at(-1)?.event.case).toBe("exited");
  });

  it("numbers events in increasing seq order", async () => {
    const r = await run(ctx.env, { argv: ["seq", "1", "2000"] });
    expect({ code: r.exit.code, signal: r.exit.signalName, stderr: r.stderr, events: r.events.length }).toMatchObject({ code: 0, stderr: "" });
    const seqs = r.events.slice(1).map((e) => Number(e.seq));
    expect(seqs.length).toBeGreaterThan(1);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(r.stdout.split("\n").length).toBe(2001);
  });

  it("reports death by signal with its name", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "echo ready; exec sleep 30"] });
    const reader = new OutputReader(ctx.env.processes.attach(id));
    await reader.until("ready");
    await ctx.env.processes.signal(id, "TERM");
    const exit = await reader.toExit();
    expect(exit.signal).toBe(15);
    expect(exit.signalName).toBe("SIGTERM");
    expect(exit.code).toBeUndefined();
  });

  it("feeds stdin and delivers EOF", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "cat; echo done"], stdinOpen: true });
    const first = await ctx.env.processes.write(id, enc("hello "), { writeId: "w1" });
    expect(first).toEqual({ bytesWritten: 6, applied: true });
    // The same write id again is not written twice.
    expect((await ctx.env.processes.write(id, enc("hello "), { writeId: "w1" })).applied).toBe(false);
    await ctx.env.processes.write(id, enc("world"), { eof: true });
    const r = await collect(ctx.env, id);
    expect(r.stdout).toBe("hello worlddone\n");
    expect(r.exit.code).toBe(0);
  });

  it("runs on a PTY, follows resizes and merges output into the pty stream", async () => {
    const id = newId();
    await ctx.env.processes.start(id, {
      argv: ["sh", "-c", "stty size; echo tty=$(tty >/dev/null && echo yes); read x; stty size; echo err >&2"],
      tty: { rows: 24, cols: 80 },
      stdinOpen: true,
    });
    const reader = new OutputReader(ctx.env.processes.attach(id));
    await reader.until(/tty=yes/);
    expect(reader.text).toContain("24 80");
    await ctx.env.processes.resize(id, 40, 100);
    await ctx.env.processes.write(id, enc("go\r"));
    await reader.until("40 100");
    const exit = await reader.toExit();
    expect(exit.code).toBe(0);
    const r = await collect(ctx.env, id);
    expect(r.events.filter((e) => e.event.case === "output").every((e) => e.event.case === "output" && e.event.value.stream === OutputStream.PTY)).toBe(true);
    expect(r.pty).toContain("err");
  });

  it("kills the whole process group", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "sleep 300 & echo child=$!; wait"] });
    const reader = new OutputReader(ctx.env.processes.attach(id));
    const child = /child=(\d+)/.exec(await reader.until(/child=\d+\n/))![1]!;
    await ctx.env.processes.signal(id, "KILL", { target: "group" });
    expect((await reader.toExit()).signal).toBe(9);
    // Asked of the environment itself: its pids are not ours (containers). A zombie
    // still answers kill -0, so look at the state too.
    const probe = await run(ctx.env, { argv: ["sh", "-c", `s=$(cut -d' ' -f3 /proc/${child}/stat 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ] && echo gone`] });
    expect(probe.stdout).toBe("gone\n");
  });

  it("terminates with TERM to the group, then KILL after the grace", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"] });
    await new OutputReader(ctx.env.processes.attach(id)).until("ready");
    const status = await ctx.env.processes.terminate(id, { graceMs: 200 });
    expect(status.signal).toBe(9);
    expect((await ctx.env.processes.wait(id)).signal).toBe(9);
  });

  it("times out on wall time and on idle time", async () => {
    const wall = await run(ctx.env, { argv: ["sleep", "30"], timeouts: { wallMs: 300, killGraceMs: 100 } });
    expect(wall.exit.timedOut).toBe(true);
    expect(wall.exit.timeoutKind).toBe(TimeoutKind.WALL);
    const idle = await run(ctx.env, { argv: ["sh", "-c", "echo tick; exec sleep 30"], timeouts: { idleMs: 300, killGraceMs: 100 } });
    expect(idle.stdout).toBe("tick\n");
    expect(idle.exit.timedOut).toBe(true);
    expect(idle.exit.timeoutKind).toBe(TimeoutKind.IDLE);
  });

  it("pauses stopwatches while the session elicits", async () => {
    expect(await ctx.env.session.incrementElicitation()).toBe(1);
    let paused;
    try {
      // 600 ms of work under a 300 ms wall timeout: only a paused stopwatch lets it finish.
      paused = await run(ctx.env, { argv: ["sh", "-c", "sleep 0.6; echo finished"], timeouts: { wallMs: 300, killGraceMs: 100 } });
    } finally {
      expect(await ctx.env.session.decrementElicitation()).toBe(0);
    }
    expect(paused.exit.timedOut).toBe(false);
    expect(paused.stdout).toBe("finished\n");
    const running = await run(ctx.env, { argv: ["sh", "-c", "sleep 30"], timeouts: { wallMs: 300, killGraceMs: 100 } });
    expect(running.exit.timedOut).toBe(true);
    expect((await failure(ctx.env.session.decrementElicitation())).code).toBe(ErrorCode.FailedPrecondition);
  });

  it("resumes output from any seq with nothing lost or repeated", async () => {
    const full = await run(ctx.env, { argv: ["seq", "1", "20000"] });
    const outputs = full.events.filter((e) => e.event.case === "output");
    const mid = outputs[Math.floor(outputs.length / 2)]!;
    const tail = await collect(ctx.env, full.processId, { afterSeq: Number(mid.seq) });
    expect(tail.events[0]?.event.case).toBe("started");
    // Attach merges chunks that are already there into one message whose seq is the last one
    // merged, so a resumed read may carry the same bytes in fewer, larger messages than the live
    // read did (how many depends on timing): compare the bytes, the order and the end, not the
    // message boundaries.
    const through = Buffer.concat(outputs.filter((e) => e.seq <= mid.seq).flatMap((e) => (e.event.case === "output" ? [Buffer.from(e.event.value.data)] : [])));
    expect(through.length).toBeGreaterThan(0);
    expect(through.toString("utf8") + tail.stdout).toBe(full.stdout);
    const seqs = tail.events.slice(1).map((e) => e.seq);
    expect(seqs.every((seq, i) => seq > (i === 0 ? mid.seq : seqs[i - 1]!))).toBe(true);
    expect(tail.events.at(-1)).toEqual(full.events.at(-1));
  });

  it("under DROP_OLDEST keeps head and tail, answers OUT_OF_RANGE for dropped cursors or sends a gap when allowed", async () => {
    const id = newId();
    // The head is half the cap and takes only whole chunks: 1 MiB leaves room for any first pipe read.
    await ctx.env.processes.start(id, { argv: ["seq", "1", "600000"], output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: 1n << 20n } });
    const exit = await ctx.env.processes.wait(id);
    expect(exit.code).toBe(0);
    const [info] = await ctx.env.processes.list({ includeExited: true }).then((l) => l.filter((p) => p.processId === id));
    expect(info?.state).toBe(ProcessState.EXITED);
    expect(info!.droppedBytes).toBeGreaterThan(0n);
    const withGaps = await collect(ctx.env, id, { allowGaps: true });
    const gaps = withGaps.events.filter((e) => e.event.case === "gap");
    expect(gaps.length).toBe(1);
    expect(withGaps.stdout.startsWith("1\n2\n3\n")).toBe(true);
    expect(withGaps.stdout.endsWith("599999\n600000\n")).toBe(true);
    const gap = gaps[0]!.event.value as { fromSeq: bigint; toSeq: bigint };
    const err = await failure(() => ctx.env.processes.attach(id, { afterSeq: Number(gap.fromSeq) }));
    expect(err.code).toBe(ErrorCode.OutOfRange);
    expect(err.message).toContain(`oldest retained seq after it is ${gap.toSeq + 1n}`);
  });

  it("lists processes by label and keeps Start idempotent by id", async () => {
    const id = newId();
    const spec = { argv: ["true"], labels: { suite: "conformance", id } };
    const a = await ctx.env.processes.start(id, spec);
    const b = await ctx.env.processes.start(id, spec);
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.process.pid).toBe(a.process.pid);
    await ctx.env.processes.wait(id);
    const listed = await ctx.env.processes.list({ labels: { id }, includeExited: true });
    expect(listed.map((p) => p.processId)).toEqual([id]);
    expect((await failure(ctx.env.processes.start(id, { argv: ["false"] }))).code).toBe(ErrorCode.AlreadyExists);
  });

  it("answers bad process input with the same codes", async () => {
    const codes = {
      emptyArgv: (await failure(ctx.env.processes.start(newId(), { argv: [] }))).code,
      badId: (await failure(ctx.env.processes.start("bad id/", { argv: ["true"] }))).code,
      missingProgram: (await failure(ctx.env.processes.start(newId(), { argv: ["/nonexistent/program"] }))).code,
      relativeCwd: (await failure(ctx.env.processes.start(newId(), { argv: ["true"], cwd: "relative/dir" }))).code,
      attachUnknown: (await failure(() => ctx.env.processes.attach("no-such-process"))).code,
      waitUnknown: (await failure(ctx.env.processes.wait("no-such-process"))).code,
      signalUnknown: (await failure(ctx.env.processes.signal("no-such-process", "TERM"))).code,
    };
    expect(codes).toEqual({
      emptyArgv: ErrorCode.InvalidArgument,
      badId: ErrorCode.InvalidArgument,
      missingProgram: ErrorCode.NotFound,
      relativeCwd: ErrorCode.InvalidArgument,
      attachUnknown: ErrorCode.NotFound,
      waitUnknown: ErrorCode.NotFound,
      signalUnknown: ErrorCode.NotFound,
    });
    const live = newId();
    await ctx.env.processes.start(live, { argv: ["sleep", "30"] });
    expect((await failure(ctx.env.processes.signal(live, "NOPE"))).code).toBe(ErrorCode.InvalidArgument);
    expect((await failure(ctx.env.processes.signal(live, 99))).code).toBe(ErrorCode.InvalidArgument);
    await ctx.env.processes.terminate(live);
    const done = newId();
    await ctx.env.processes.start(done, { argv: ["true"] });
    await ctx.env.processes.wait(done);
    expect((await failure(() => ctx.env.processes.attach(done, { afterSeq: 1_000_000 }))).code).toBe(ErrorCode.OutOfRange);
    expect((await failure(ctx.env.processes.write(done, enc("x")))).code).toBe(ErrorCode.FailedPrecondition);
  });
});
