// Stdin over one stream (ProcessOps.openStdin, the WriteStream RPC) on every backend: bytes
// in order, EOF, keystrokes to a PTY, mixing with unary writes, and typed errors.
import { expect, it } from "vitest";
import { ErrorCode } from "../../services/common/tether-error.js";
import { OutputReader, collect, enc, failure, forEachBackend, newId } from "./conformance-kit.js";

forEachBackend("stdin stream", (ctx) => {
  it("streams stdin in order and delivers EOF", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "cat; echo done"], stdinOpen: true });
    await using stdin = ctx.env.processes.openStdin(id);
    await stdin.write(enc("hello "));
    // Bigger than one request and than the unacknowledged window: split, sent in order, waited for.
    const big = Buffer.alloc(3 << 20, "x");
    await stdin.write(big);
    await stdin.write(enc("world"));
    await stdin.end();
    const r = await collect(ctx.env, id);
    expect(r.stdout.length).toBe(6 + big.length + 5 + 5);
    expect(r.stdout.startsWith("hello xxx")).toBe(true);
    expect(r.stdout.endsWith("xxxworlddone\n")).toBe(true);
    expect(r.exit.code).toBe(0);
  });

  it("echoes keystrokes one at a time through a raw PTY", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["sh", "-c", "stty raw -echo && printf READY && exec cat"], tty: { rows: 24, cols: 80 }, stdinOpen: true });
    const reader = new OutputReader(ctx.env.processes.attach(id));
    await reader.until("READY");
    await using stdin = ctx.env.processes.openStdin(id);
    const keys = "tether";
    for (let i = 1; i <= keys.length; i++) {
      await stdin.write(enc(keys[i - 1]!));
      await reader.until(`READY${keys.slice(0, i)}`);
    }
    await ctx.env.processes.terminate(id);
    expect(reader.text).toBe("READYtether");
  });

  it("keeps order with unary writes and other streams of the same process", async () => {
    const id = newId();
    await ctx.env.processes.start(id, { argv: ["cat"], stdinOpen: true });
    const a = ctx.env.processes.openStdin(id);
    const b = ctx.env.processes.openStdin(id);
    await a.write(enc("1"));
    // write() only queues: flush() is what orders a stream against other writers.
    await a.flush();
    await ctx.env.processes.write(id, enc("2"));
    await b.write(enc("3"));
    const reader = new OutputReader(ctx.env.processes.attach(id));
    await reader.until("123");
    await a.close();
    await b.end();
    expect(await reader.toExit()).toMatchObject({ code: 0 });
    expect(reader.text).toBe("123");
  });

  it("answers bad stdin streams with typed errors", async () => {
    const ended = async (processId: string) => {
      const stdin = ctx.env.processes.openStdin(processId);
      await stdin.write(enc("x")).catch(() => undefined);
      const err = await failure(stdin.end());
      await stdin.close();
      return err.code;
    };
    const noStdin = newId();
    await ctx.env.processes.start(noStdin, { argv: ["sleep", "30"] });
    const done = newId();
    await ctx.env.processes.start(done, { argv: ["true"], stdinOpen: true });
    await ctx.env.processes.wait(done);
    expect({
      unknown: await ended("no-such-process"),
      noStdin: await ended(noStdin),
      exited: await ended(done),
    }).toEqual({
      unknown: ErrorCode.NotFound,
      noStdin: ErrorCode.FailedPrecondition,
      exited: ErrorCode.FailedPrecondition,
    });
    await ctx.env.processes.terminate(noStdin);
    const stdin = ctx.env.processes.openStdin(done);
    await stdin.close();
    expect((await failure(stdin.write(enc("late")))).code).toBe(ErrorCode.Cancelled);
  });
});
