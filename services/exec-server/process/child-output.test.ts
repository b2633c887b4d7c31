// ChildOutput on real streams: nothing flows before a listener, pause holds the stream back,
// chunks that arrive against a pause are kept and go first, and drain reads with no listener.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ChildOutput, type ChildStream } from "./child-output.js";

/** Resolves after pending stream events (data, resume) had their turn. */
const settle = () => new Promise((r) => setImmediate(r));

function setup() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const output = new ChildOutput([
    { stream: "stdout", readable: stdout },
    { stream: "stderr", readable: stderr },
  ]);
  const seen: string[] = [];
  const listener = (stream: ChildStream, data: Buffer) => seen.push(`${stream}:${data.toString()}`);
  return { stdout, stderr, output, seen, listener };
}

describe("ChildOutput", () => {
  it("keeps output in the stream until the first listener, then delivers it in order per stream", async () => {
    const { stdout, stderr, output, seen, listener } = setup();
    stdout.write("a");
    stderr.write("b");
    await settle();
    expect(stdout.readableLength).toBe(1);
    using _sub = output.subscribe(listener);
    await settle();
    expect(seen.sort()).toEqual(["stderr:b", "stdout:a"]);
  });

  it("stops reading while paused and reads on after resume", async () => {
    const { stdout, output, seen, listener } = setup();
    using _sub = output.subscribe(listener);
    output.pause();
    stdout.write("x");
    await settle();
    expect(seen).toEqual([]);
    expect(stdout.readableLength).toBe(1);
    output.resume();
    await settle();
    expect(seen).toEqual(["stdout:x"]);
  });

  it("holds a chunk that arrives while paused (as node's flushStdio forces) and delivers it before anything newer", async () => {
    const { stdout, output, seen, listener } = setup();
    using _sub = output.subscribe(listener);
    output.pause();
    stdout.resume(); // against the pause, as node does to a child's stdio once the child exits
    stdout.write("held");
    await settle();
    expect(seen).toEqual([]);
    expect(stdout.isPaused()).toBe(true);
    const delivered = output.delivered();
    stdout.write("newer");
    output.resume();
    await delivered;
    await settle();
    expect(seen).toEqual(["stdout:held", "stdout:newer"]);
  });

  it("flows once the target exited, pause or not, while a listener is there", async () => {
    const { stdout, output, seen, listener } = setup();
    using _sub = output.subscribe(listener);
    output.pause();
    stdout.write("tail");
    output.targetExited();
    await settle();
    expect(seen).toEqual(["stdout:tail"]);
  });

  it("reads to the end with no listener once draining, so EOF comes", async () => {
    const { stdout, output } = setup();
    const ended = new Promise((r) => stdout.once("end", r));
    stdout.end("dropped");
    output.drain();
    await ended;
    expect(stdout.readableEnded).toBe(true);
  });
});
