// A resume cursor that expires during an outage: while the link is down the process writes
// far more than it retains (DROP_OLDEST), so when GrpcEnvironment reconnects, what followed
// its cursor is gone. It must say so (OUT_OF_RANGE naming the oldest seq, or a Gap event
// when asked for gaps), never resume as if nothing were missing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttachResponse } from "../../gen/tether/exec/v1/process_pb.js";
import { OverflowPolicy } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type Harness, startHarness } from "../../test/support/exec-harness.js";
import { type TcpProxy, startTcpProxy } from "../../test/support/tcp-proxy.js";
import { GrpcEnvironment } from "./grpc-environment.js";

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  h = await startHarness({ listen: "tcp://127.0.0.1:0", token: "expiry-token" });
  proxy = await startTcpProxy({ port: Number(new URL(h.url.replace(/^grpc:/, "http:")).port) });
});
afterAll(async () => {
  await proxy?.close();
  await h?.close();
});

const RETAIN = 64 << 10;
const FLOOD = 4 << 20;

/**
 * Starts a process that prints "first", then, once told on stdin (through the harness's
 * direct connection, not the cut link), FLOOD bytes and "end". Returns the attach iterator
 * positioned after "first", with the link down and the flood written and exited.
 */
async function expireDuringOutage(env: GrpcEnvironment, processId: string, allowGaps: boolean) {
  await env.processes.start(processId, {
    argv: ["sh", "-c", `echo first; read go; head -c ${FLOOD} /dev/zero | tr '\\0' x; echo; echo end`],
    stdinOpen: true,
    output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: BigInt(RETAIN) },
  });
  const events = env.processes.attach(processId, { allowGaps })[Symbol.asyncIterator]();
  let text = "";
  let lastSeq = 0n;
  while (!text.includes("first\n")) {
    const next = await events.next();
    expect(next.done).toBe(false);
    const ev: AttachResponse = next.value;
    if (ev.event.case === "output") {
      text += Buffer.from(ev.event.value.data).toString();
      lastSeq = ev.seq;
    }
  }
  // The outage: every connection cut, new ones refused, so the client's attach is retrying.
  proxy.pause();
  const refusedBefore = proxy.refused;
  proxy.cut();
  await proxy.waitForRefused(refusedBefore + 1);
  await h.clients.processes.write({ processId, data: Buffer.from("go\n"), eof: true });
  expect((await h.clients.processes.wait({ processId })).status?.code).toBe(0);
  const info = (await h.clients.processes.list({ includeExited: true })).processes.find((p) => p.processId === processId);
  expect(info?.droppedBytes).toBeGreaterThan(0n);
  proxy.resume();
  return { events, lastSeq };
}

describe("GrpcEnvironment when its resume cursor expires during an outage", () => {
  it("fails the attach with OUT_OF_RANGE naming the oldest retained seq", async () => {
    await using env = await GrpcEnvironment.connect(
      { kind: "grpc", host: "127.0.0.1", port: proxy.port },
      { token: "expiry-token", reconnect: { giveUpAfterMs: 30_000, initialBackoffMs: 20, maxBackoffMs: 200 } },
    );
    const { events, lastSeq } = await expireDuringOutage(env, "expire-strict", false);
    let output = "";
    const err = await (async () => {
      for (;;) {
        const next = await events.next();
        if (next.done) return undefined;
        if (next.value.event.case === "output") output += Buffer.from(next.value.event.value.data).toString();
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect(ErrorCode[(err as TetherError).code]).toBe("OutOfRange");
    expect(Number((err as TetherError).details.oldest_seq)).toBeGreaterThan(Number(lastSeq) + 1);
    // Nothing of the flood's lost middle was made up: whatever arrived is a true prefix.
    expect(output.length).toBeLessThan(FLOOD);
  });

  it("with allowGaps, resumes with a Gap event that counts what was lost, then the tail and the exit", async () => {
    await using env = await GrpcEnvironment.connect(
      { kind: "grpc", host: "127.0.0.1", port: proxy.port },
      { token: "expiry-token", reconnect: { giveUpAfterMs: 30_000, initialBackoffMs: 20, maxBackoffMs: 200 } },
    );
    const { events } = await expireDuringOutage(env, "expire-gaps", true);
    let dropped = 0n;
    let output = "";
    let exitCode: number | undefined;
    for (;;) {
      const next = await events.next();
      if (next.done) break;
      const ev = next.value.event;
      if (ev.case === "gap") dropped += ev.value.droppedBytes;
      if (ev.case === "output") output += Buffer.from(ev.value.data).toString();
      if (ev.case === "exited") exitCode = ev.value.status?.code;
    }
    expect(dropped).toBeGreaterThan(0n);
    expect(output.endsWith("end\n")).toBe(true);
    expect(BigInt(output.length) + dropped).toBeGreaterThanOrEqual(BigInt(FLOOD));
    expect(exitCode).toBe(0);
  });
});
