import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CallRequests } from "./call-requests.js";

const identity = (m: unknown) => m as number;

function source(): Readable {
  return new Readable({ objectMode: true, read() {} });
}

async function collect(it: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe("CallRequests", () => {
  it("yields every message in order, whether it arrived before or after the read", async () => {
    const s = source();
    const reqs = new CallRequests(s, identity);
    s.push(1);
    s.push(2);
    const all = collect(reqs);
    s.push(3);
    s.push(null);
    expect(await all).toEqual([1, 2, 3]);
  });

  it("pauses the call while a message waits unread, and resumes once it is read", async () => {
    const s = source();
    const reqs = new CallRequests(s, identity);
    s.push(1);
    await new Promise((r) => setImmediate(r));
    expect(s.isPaused()).toBe(true);
    expect(await reqs.next()).toEqual({ value: 1, done: false });
    expect(s.isPaused()).toBe(false);
  });

  it("reads what was buffered before an error, then throws it", async () => {
    const s = source();
    const reqs = new CallRequests(s, identity);
    s.push(1);
    s.push(2);
    await new Promise((r) => setImmediate(r));
    s.emit("error", new Error("status 13"));
    await expect(collect(reqs)).rejects.toThrow("status 13");
    const s2 = source();
    const reqs2 = new CallRequests(s2, identity);
    s2.push(5);
    s2.push(6);
    await new Promise((r) => setImmediate(r));
    s2.emit("error", new Error("late"));
    expect(await reqs2.next()).toEqual({ value: 5, done: false });
    expect(await reqs2.next()).toEqual({ value: 6, done: false });
    await expect(reqs2.next()).rejects.toThrow("late");
    expect(await reqs2.next()).toEqual({ value: undefined, done: true });
  });

  it("a message that does not unwrap throws once, then the iterator is done", async () => {
    const s = source();
    const reqs = new CallRequests(s, (m) => {
      if (m === "bad") throw new Error("malformed");
      return m as number;
    });
    const first = reqs.next();
    s.push("bad");
    await expect(first).rejects.toThrow("malformed");
    s.push(7);
    expect(await reqs.next()).toEqual({ value: undefined, done: true });
  });

  it("fails a waiting read when the call closes without ending", async () => {
    const s = source();
    const reqs = new CallRequests(s, identity);
    const waiting = reqs.next();
    s.destroy();
    await expect(waiting).rejects.toThrow("the call ended before its requests did");
  });

  it("stopping early leaves the call paused, not destroyed", async () => {
    const s = source();
    const reqs = new CallRequests(s, identity);
    s.push(1);
    for await (const v of reqs) {
      expect(v).toBe(1);
      break;
    }
    expect(s.destroyed).toBe(false);
    expect(s.isPaused()).toBe(true);
  });
});
