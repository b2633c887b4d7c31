// Bounded soak of a separate exec-server process over its Unix socket: N sessions in
// parallel for a fixed time, each starting processes that stream output (BLOCK and
// DROP_OLDEST), attaching, writing stdin, killing some mid-stream and closing
// sessions. Asserts zero errors, no leftover children, and no fd or RSS growth past a
// stated bound. TETHER_SOAK_SECONDS lengthens it (default 60), TETHER_SOAK_SESSIONS
// widens it (default 16), TETHER_SOAK_SERVER_NODE_ARGS passes flags to the server's node
// (e.g. "--max-old-space-size=64": a leak then crashes it instead of growing RSS).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExitStatus, OverflowPolicy, type ProcessSpec } from "../../gen/tether/exec/v1/process_pb.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ProcessSpecSchema } from "../../gen/tether/exec/v1/process_pb.js";
import { fuzzClients } from "../support/fuzz-server.js";
import { type ServerProcess, fdCount, fdTargets, rssBytes, sessionChildren, startServerProcess, until } from "../support/load-server-process.js";

const SECONDS = Number(process.env.TETHER_SOAK_SECONDS ?? 60);
const SESSIONS = Number(process.env.TETHER_SOAK_SESSIONS ?? 16);
const ATTACH_LIMIT_MS = 60_000;
/** fds allowed beyond the warmed-up start once the load is over. */
const FD_SLACK = 10;
/**
 * Growth allowed in the server's JS heap and in its external memory (Buffers), both measured
 * right after a full GC, from the warmed-up start to the quiet end. Everything a session
 * created is gone by then; what stays is code and caches (+1 MiB). The exited-process
 * retention leak kept ≈ 15 KB of heap per process, 8 MiB in ~90 sessions: it added 12.5 MiB
 * in a 60 s run that a starved machine let do only 139 sessions.
 */
const HEAP_SLACK = 8 << 20;
/**
 * How far RSS may end (quiet, all sessions closed) above its highest sample in the first half
 * of the run: a backstop for native memory, which the heap probe cannot see. Not a slack from
 * the start: RSS first settles (V8 heap and malloc arenas sizing to the load, refilling after
 * the probe's GC; up to half a minute on a starved machine), and malloc keeps its high-water
 * mark, so the level to beat is the first half's peak, which a leak keeps passing. Loose,
 * because that mark depends on timing (a BLOCK process keeps up to 8 MiB of delivered output
 * while it runs): runs without a leak ended from 35 MiB below to 18 MiB above it. So at 60 s
 * it catches native growth above ~1 MiB/s; the retention leak ended 31-36 MiB above, but JS
 * and Buffer leaks are the heap probe's to catch.
 */
const RSS_SLACK_MIB = 32;

type Clients = ReturnType<typeof fuzzClients>;
type Spec = Exclude<MessageInitShape<typeof ProcessSpecSchema>, ProcessSpec>;

interface Tally {
  ops: Record<string, number>;
  errors: string[];
  bytes: number;
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/**
 * Reads a process's events to the end of the stream; returns the output bytes and the exit
 * status. It does not break out at the exit event: the server ends the stream right after
 * it, and leaving earlier cancels the call with an RST_STREAM that crosses the trailers.
 * At one reset per process that is over nghttp2's limit for one connection (33/s, burst
 * 1000, its guard against "rapid reset" floods), and the server's nghttp2 then closes the
 * connection with GOAWAY INTERNAL_ERROR, failing every call on it.
 */
async function drain(c: Clients, processId: string, opts: { allowGaps?: boolean; stopAfter?: number; onEnough?: () => void } = {}) {
  let bytes = 0;
  let text = "";
  let gaps = 0;
  let fired = false;
  let exit: { status: ExitStatus | undefined } | undefined;
  // Every process here ends within its 30 s wall time: a stream still open long after is a hang to report.
  for await (const ev of c.process.attach({ processId, allowGaps: opts.allowGaps ?? false }, { timeoutMs: ATTACH_LIMIT_MS })) {
    if (exit) throw new Error(`attach stream of ${processId} sent ${ev.event.case} after the exit event`);
    switch (ev.event.case) {
      case "output":
        bytes += ev.event.value.data.byteLength;
        if (text.length < 1 << 16) text += Buffer.from(ev.event.value.data).toString("latin1");
        if (opts.stopAfter !== undefined && bytes >= opts.stopAfter && !fired) {
          fired = true;
          opts.onEnough?.();
        }
        break;
      case "gap":
        gaps++;
        break;
      case "exited":
        exit = { status: ev.event.value.status };
        break;
    }
  }
  if (!exit) throw new Error(`attach stream of ${processId} ended without an exit event`);
  return { bytes, text, gaps, status: exit.status };
}

async function oneSession(c: Clients, worker: number, round: number, tally: Tally): Promise<void> {
  const sessionId = `soak-${worker}-${round}`;
  const count = (op: string) => (tally.ops[op] = (tally.ops[op] ?? 0) + 1);
  await c.session.openSession({ sessionId });
  count("open-session");
  const sandbox: Spec = round % 4 === 0 ? { sandbox: { mode: SandboxMode.READ_ONLY } } : {};
  const start = async (id: string, spec: Spec) => {
    await c.process.start({ processId: id, sessionId, spec: { timeouts: { wallMs: 30_000 }, ...sandbox, ...spec } });
    count("start");
    return id;
  };
  const p = (name: string) => `${sessionId}-${name}`;
  let sleeping = false;
  try {
    // Streaming with backpressure: every byte arrives.
    const lines = 2000 + ((worker * 977 + round * 131) % 4000);
    await start(p("block"), { argv: ["seq", "1", String(lines)], output: { overflow: OverflowPolicy.BLOCK, maxRetainedBytes: 64n << 10n } });
    const block = await drain(c, p("block"));
    const expected = Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join("").length;
    if (block.bytes !== expected || block.status?.code !== 0) tally.errors.push(`${p("block")}: ${block.bytes}/${expected} bytes, exit ${JSON.stringify(block.status?.code)}`);
    tally.bytes += block.bytes;
    count("stream-block");

    // Bounded output: the head and tail survive, the middle may be dropped as gaps.
    await start(p("drop"), { argv: ["sh", "-c", "head -c 600000 /dev/zero | tr '\\0' x; echo; echo tail-marker"], output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: 64n << 10n } });
    await c.process.wait({ processId: p("drop") });
    const drop = await drain(c, p("drop"), { allowGaps: true });
    if (!drop.text.includes("tail-marker") && drop.bytes < 600_000) tally.errors.push(`${p("drop")}: tail lost (${drop.bytes} bytes, ${drop.gaps} gaps)`);
    tally.bytes += drop.bytes;
    count("stream-drop-oldest");

    // Stdin: idempotent writes, then EOF; the echo matches.
    await start(p("cat"), { argv: ["cat"], stdinOpen: true });
    const reading = drain(c, p("cat"));
    const payload = randomBytes(4096).toString("hex");
    await c.process.write({ processId: p("cat"), writeId: "w1", data: Buffer.from(payload.slice(0, 4000)) });
    const again = await c.process.write({ processId: p("cat"), writeId: "w1", data: Buffer.from(payload.slice(0, 4000)) });
    if (again.applied) tally.errors.push(`${p("cat")}: a repeated write_id was applied twice`);
    await c.process.write({ processId: p("cat"), writeId: "w2", data: Buffer.from(payload.slice(4000)), eof: true });
    const cat = await reading;
    if (cat.text !== payload) tally.errors.push(`${p("cat")}: echoed ${cat.text.length} chars, wanted ${payload.length}`);
    count("stdin-roundtrip");

    // Killed mid-stream: an endless producer terminated while someone is reading it.
    const policy = round % 2 === 0 ? OverflowPolicy.BLOCK : OverflowPolicy.DROP_OLDEST;
    await start(p("yes"), { argv: ["yes", "soak"], output: { overflow: policy, maxRetainedBytes: 64n << 10n } });
    let terminated: Promise<unknown> | undefined;
    const yes = await drain(c, p("yes"), {
      allowGaps: true,
      stopAfter: 32 << 10,
      onEnough: () => (terminated = c.process.terminate({ processId: p("yes"), graceMs: 1000 })),
    });
    await terminated;
    if (yes.status?.signal === undefined || !yes.status.reason.includes("terminated")) tally.errors.push(`${p("yes")}: exit ${JSON.stringify(yes.status, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    count("kill-mid-stream");

    // A PTY process, and a second viewer that detaches early without killing it.
    await start(p("pty"), { argv: ["sh", "-c", "read x; echo got-$x"], stdinOpen: true, tty: { rows: 24, cols: 80 } });
    const viewer = new AbortController();
    const detached = (async () => {
      for await (const _ of c.process.attach({ processId: p("pty") }, { signal: viewer.signal })) viewer.abort();
    })().catch(() => undefined);
    const ptyReading = drain(c, p("pty"));
    await c.process.write({ processId: p("pty"), data: Buffer.from("ok\n") });
    const pty = await ptyReading;
    await detached;
    if (!pty.text.includes("got-ok")) tally.errors.push(`${p("pty")}: ${JSON.stringify(pty.text.slice(0, 200))}`);
    count("pty");

    // Left running: CloseSession must kill it (and its child).
    await start(p("sleeper"), { argv: ["sh", "-c", "sleep 600 & wait"] });
    sleeping = true;
  } catch (err) {
    tally.errors.push(`${sessionId}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    const closed = await c.session.closeSession({ sessionId }).catch((err: unknown) => {
      tally.errors.push(`close ${sessionId}: ${String(err)}`);
      return undefined;
    });
    count("close-session");
    if (sleeping && closed && closed.processesKilled < 1) tally.errors.push(`close ${sessionId}: killed ${closed.processesKilled}, the sleeper was running`);
  }
}

describe("exec server under a bounded soak", () => {
  let server: ServerProcess;
  let clients: Clients;

  beforeAll(async () => {
    server = await startServerProcess({ heapProbe: true, nodeArgs: process.env.TETHER_SOAK_SERVER_NODE_ARGS?.split(" ").filter(Boolean) });
    clients = fuzzClients(server.url);
  });

  afterAll(async () => {
    clients?.raw.close();
    await server?.stop();
  });

  it(`serves ${SESSIONS} parallel sessions for ${SECONDS} s without errors, leaks or leftover children`, async () => {
    // Warm up at full width (module loading, JIT, heap and socket buffers sized for
    // this concurrency), so the baseline is the steady state and growth means a leak.
    const warm: Tally = { ops: {}, errors: [], bytes: 0 };
    await Promise.all(Array.from({ length: SESSIONS }, async (_, w) => {
      for (let round = 0; round < 2; round++) await oneSession(clients, 1000 + w, round, warm);
    }));
    expect(warm.errors.join("\n")).toBe("");
    await until("the warm-up's children to go", () => sessionChildren(server.pid).length === 0, () => sessionChildren(server.pid).join(", "));
    const fdStart = fdCount(server.pid);
    const rssStart = rssBytes(server.pid) / 2 ** 20;
    const memStart = await server.memory();

    const tally: Tally = { ops: {}, errors: [], bytes: 0 };
    const deadline = Date.now() + SECONDS * 1000;
    let peakChildren = 0;
    const rssSamples: number[] = [];
    const sampler = setInterval(() => {
      peakChildren = Math.max(peakChildren, sessionChildren(server.pid).length);
      rssSamples.push(Math.round(rssBytes(server.pid) / 2 ** 20));
    }, 1000);
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, worker) => {
        for (let round = 0; Date.now() < deadline; round++) await oneSession(clients, worker, round, tally);
      }),
    );
    clearInterval(sampler);

    // Quiet period: every session is closed, so every child must go.
    await until("the server's children to be gone", () => sessionChildren(server.pid).length === 0, () => sessionChildren(server.pid).join(", "));
    expect((await clients.process.list({ includeExited: true })).processes).toEqual([]);
    await until(`fds back within +${FD_SLACK}`, () => fdCount(server.pid) <= fdStart + FD_SLACK, undefined, 10_000).catch(() => undefined);
    const fdEnd = fdCount(server.pid);
    const rssEnd = rssBytes(server.pid) / 2 ** 20;
    const memEnd = await server.memory();
    const rssFirstHalfPeak = Math.max(...rssSamples.slice(0, Math.ceil(rssSamples.length / 2)));
    const total = Object.values(tally.ops).reduce((a, b) => a + b, 0);
    console.log(
      [
        `soak: ${SESSIONS} sessions × ${SECONDS} s: ${total} operations, ${tally.errors.length} errors, ${(tally.bytes / 1e6).toFixed(1)} MB streamed`,
        `  ${Object.entries(tally.ops).map(([k, v]) => `${k}=${v}`).join(" ")}`,
        `  server fds ${fdStart} -> ${fdEnd} (bound +${FD_SLACK}), RSS ${rssStart.toFixed(1)} -> ${rssEnd.toFixed(1)} MiB, peak children ${peakChildren}`,
        `  after GC: heap ${mib(memStart.heapUsed)} -> ${mib(memEnd.heapUsed)} MiB, external ${mib(memStart.external)} -> ${mib(memEnd.external)} MiB (bound +${mib(HEAP_SLACK)})`,
        `  RSS peak of the first half ${rssFirstHalfPeak} MiB, at the end ${rssEnd.toFixed(1)} MiB (bound +${RSS_SLACK_MIB})`,
        `  RSS MiB each second: ${rssSamples.join(" ")}`,
        ...tally.errors.slice(0, 20).map((e) => `  error: ${e}`),
      ].join("\n"),
    );
    expect(tally.errors.slice(0, 20).join("\n")).toBe("");
    expect(tally.ops["close-session"]).toBeGreaterThan(SESSIONS);
    expect(fdEnd, `open fds: ${fdTargets(server.pid).join(", ")}`).toBeLessThanOrEqual(fdStart + FD_SLACK);
    expect(memEnd.heapUsed).toBeLessThanOrEqual(memStart.heapUsed + HEAP_SLACK);
    expect(memEnd.external).toBeLessThanOrEqual(memStart.external + HEAP_SLACK);
    expect(rssSamples.length, "too short a run to judge RSS growth: set TETHER_SOAK_SECONDS to 4 or more").toBeGreaterThanOrEqual(4);
    expect(rssEnd).toBeLessThanOrEqual(rssFirstHalfPeak + RSS_SLACK_MIB);
    expect(await clients.health.check({ service: "" })).toMatchObject({ status: 1 });
  }, (SECONDS + 90) * 1000);
});
