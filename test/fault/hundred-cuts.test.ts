// A hundred connection cuts in one run: a TCP proxy in front of a real exec server
// process is cut each time a little more output got through, while one Attach reads
// `seq 1 N` to its end; then cuts land between stdin writes to `cat`. The client resumes
// every time: the output arrives whole, once, in order, and each write is applied once.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import type { ExecServerProcess } from "../support/exec-server-process.js";
import { sessionChildren } from "../support/load-server-process.js";
import type { TcpProxy } from "../support/tcp-proxy.js";
import { type ProxiedServer, seqDigest, startProxiedServer } from "./seq-output.js";

const N = 2_000_000;
const CUTS = 100;
const expected = seqDigest(N);
// Short backoff: with the defaults a cut costs up to a second of waiting, and there are a hundred.
const RECONNECT = { giveUpAfterMs: 30_000, initialBackoffMs: 10, maxBackoffMs: 100 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/**
 * Reads a process's output to its exit. Attach may merge waiting chunks into one event
 * carrying the last merged seq, so seqs must strictly increase but may skip; the sha256
 * and length prove nothing was lost or repeated, and a gap event is always a loss.
 */
async function readStrict(env: GrpcEnvironment, processId: string) {
  const hash = createHash("sha256");
  let bytes = 0;
  let last = -1n;
  let startedEvents = 0;
  const outOfOrder: Array<{ after: bigint; got: bigint; kind: string }> = [];
  for await (const ev of env.processes.attach(processId)) {
    if (ev.seq <= last || ev.event.case === "gap") outOfOrder.push({ after: last, got: ev.seq, kind: ev.event.case ?? "?" });
    last = ev.seq;
    if (ev.event.case === "started") startedEvents++;
    if (ev.event.case === "output") {
      hash.update(ev.event.value.data);
      bytes += ev.event.value.data.byteLength;
    }
    if (ev.event.case === "exited") return { sha256: hash.digest("hex"), bytes, exit: ev.event.value.status!, outOfOrder, startedEvents };
  }
  throw new Error(`attach to ${processId} ended without an exit event after ${bytes} bytes`);
}

describe("a hundred connection cuts through a TCP proxy", () => {
  let server: ExecServerProcess;
  let proxy: TcpProxy;
  let env: GrpcEnvironment;

  let fixture: ProxiedServer | undefined;

  beforeAll(async () => {
    fixture = await startProxiedServer(RECONNECT);
    ({ server, proxy, env } = fixture);
  });
  afterAll(() => fixture?.close());

  it("reads seq to its end across 100 cuts with nothing lost or repeated", async () => {
    await env.processes.start("seq-100", { argv: ["seq", "1", String(N)] });
    const done = new AbortController();
    const aborted = new Promise<void>((r) => done.signal.addEventListener("abort", () => r(), { once: true }));
    // Each cut waits for this many more bytes on the wire than the previous cut saw, so
    // every cut falls on a resumed stream that made progress, never on a dead one.
    const step = Math.floor(expected.bytes / (CUTS * 1.5));
    const recoveries: number[] = [];
    let cuts = 0;
    const cutter = (async () => {
      while (cuts < CUTS && !done.signal.aborted) {
        const cutAt = proxy.bytesDown;
        await Promise.race([proxy.waitForBytesDown(cutAt + step), aborted]);
        if (done.signal.aborted) break;
        if (proxy.cut() === 0) continue;
        cuts++;
        // Recovery: from the cut to the first byte down on a new connection.
        const t0 = performance.now();
        const after = proxy.bytesDown;
        await Promise.race([proxy.waitForBytesDown(after + 1), aborted]);
        if (!done.signal.aborted) recoveries.push(performance.now() - t0);
      }
    })();
    const t0 = performance.now();
    const result = await readStrict(env, "seq-100").finally(() => done.abort());
    await cutter;
    const elapsed = performance.now() - t0;
    console.log(
      `hundred-cuts: ${cuts} cuts, ${proxy.accepted} connections, ${Math.round(elapsed)} ms in all; ` +
        `recovery per cut median ${median(recoveries).toFixed(1)} ms, max ${Math.max(...recoveries).toFixed(1)} ms`,
    );
    expect(cuts).toBe(CUTS);
    expect(proxy.accepted).toBeGreaterThan(CUTS);
    expect(result.outOfOrder).toEqual([]);
    expect(result.startedEvents).toBe(1);
    expect(result.bytes).toBe(expected.bytes);
    expect(result.sha256).toBe(expected.sha256);
    expect(result.exit.code).toBe(0);
    const listed = await env.processes.list({ includeExited: true });
    expect(listed.filter((p) => p.processId === "seq-100")).toHaveLength(1);
    // Exited and reaped: nothing of it is left under the server.
    expect(sessionChildren(server.pid).filter((c) => c.endsWith(" seq"))).toEqual([]);
  });

  it("applies each stdin write exactly once when cuts land between and during writes", async () => {
    const starting = env.processes.start("cat-100", { argv: ["cat"], stdinOpen: true });
    proxy.cut();
    await starting;
    // `cat` echoes every write: the echo is the record of what was applied, and how often.
    const reading = (async () => {
      let text = "";
      for await (const ev of env.processes.attach("cat-100")) {
        if (ev.event.case === "output") text += Buffer.from(ev.event.value.data).toString("utf8");
      }
      return text;
    })();
    let expectedText = "";
    let cuts = 0;
    for (let i = 1; i <= 300; i++) {
      const line = `write ${i}\n`;
      expectedText += line;
      const writing = env.processes.write("cat-100", new TextEncoder().encode(line), { writeId: `w${i}` });
      // Every third write is cut in flight: it may or may not have reached the server.
      if (i % 3 === 0 && proxy.cut() > 0) cuts++;
      await writing;
    }
    await env.processes.write("cat-100", new Uint8Array(), { eof: true, writeId: "eof" });
    const out = await reading;
    expect(cuts).toBeGreaterThanOrEqual(80);
    expect(out).toBe(expectedText);
    const listed = await env.processes.list({ includeExited: true });
    expect(listed.filter((p) => p.processId === "cat-100")).toHaveLength(1);
    expect(sessionChildren(server.pid)).toEqual([]);
  });
});
