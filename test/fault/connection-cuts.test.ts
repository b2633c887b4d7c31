// The connection between client and exec server breaks mid-stream, over and over: a TCP
// proxy the test cuts 20 times, and a real link between network namespaces taken down
// and up. The client resumes by itself; `seq 1 3000000` arrives whole, once, in order.
import { createHash, randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import { type RemoteExecServer, remoteBackend, startRemoteExecServer } from "../support/backends.js";
import type { TcpProxy } from "../support/tcp-proxy.js";
import { type ProxiedServer, readChecked, seqDigest, startProxiedServer } from "./seq-output.js";

const N = 3_000_000;
const expected = seqDigest(N);
const RECONNECT = { giveUpAfterMs: 30_000, initialBackoffMs: 20, maxBackoffMs: 250 };

describe("cut connections through a TCP proxy", () => {
  let proxy: TcpProxy;
  let env: GrpcEnvironment;

  let fixture: ProxiedServer | undefined;

  beforeAll(async () => {
    fixture = await startProxiedServer(RECONNECT);
    ({ proxy, env } = fixture);
  });
  afterAll(() => fixture?.close());

  it("resumes after 20 cuts with nothing lost or duplicated", async () => {
    await env.processes.start("seq-cut", { argv: ["seq", "1", String(N)] });
    const done = new AbortController();
    let cuts = 0;
    // Spread the cuts over the stream by bytes seen on the wire (repeats after resume count too).
    const step = Math.floor(expected.bytes / 24);
    const cutter = (async () => {
      const base = proxy.bytesDown;
      for (let k = 1; k <= 20 && !done.signal.aborted; k++) {
        await Promise.race([proxy.waitForBytesDown(base + k * step), new Promise((r) => done.signal.addEventListener("abort", r, { once: true }))]);
        if (done.signal.aborted) break;
        if (proxy.cut() > 0) cuts++;
      }
    })();
    const result = await readChecked(env, "seq-cut").finally(() => done.abort());
    await cutter;
    expect(cuts).toBe(20);
    expect(proxy.accepted).toBeGreaterThan(20);
    expect(result.discontinuities).toEqual([]);
    expect(result.startedEvents).toBe(1);
    expect(result.bytes).toBe(expected.bytes);
    expect(result.sha256).toBe(expected.sha256);
    expect(result.exit.code).toBe(0);
    // Calls made after the storm work on the same session.
    expect((await env.processes.list({ includeExited: true })).map((p) => p.processId)).toContain("seq-cut");
  });

  it("applies each stdin write exactly once when cuts hit calls in flight", async () => {
    // Start itself is cut in flight: retried by the same id, it must not start twice.
    const starting = env.processes.start("cat-cut", { argv: ["cat"], stdinOpen: true });
    proxy.cut();
    await starting;
    const reading = collectStdout("cat-cut");
    let expectedText = "";
    let cuts = 0;
    for (let i = 1; i <= 200; i++) {
      const line = `line ${i}\n`;
      expectedText += line;
      const writing = env.processes.write("cat-cut", new TextEncoder().encode(line), { writeId: `w${i}` });
      if (i % 10 === 0 && proxy.cut() > 0) cuts++;
      await writing;
    }
    await env.processes.write("cat-cut", new Uint8Array(), { eof: true, writeId: "eof" });
    const out = await reading;
    expect(cuts).toBeGreaterThanOrEqual(15);
    expect(out).toBe(expectedText);
    const listed = await env.processes.list({ includeExited: true });
    expect(listed.filter((p) => p.processId === "cat-cut")).toHaveLength(1);
  });

  async function collectStdout(processId: string): Promise<string> {
    let text = "";
    for await (const ev of env.processes.attach(processId)) {
      if (ev.event.case === "output") text += Buffer.from(ev.event.value.data).toString("utf8");
    }
    return text;
  }

  it("resumes a file read by offset across cuts", async () => {
    const size = 32 << 20;
    const path = `${tmpdir()}/tether-fault-read-${process.pid}.bin`;
    const data = randomBytes(size);
    await writeFile(path, data);
    try {
      const done = new AbortController();
      let cuts = 0;
      const cutter = (async () => {
        const base = proxy.bytesDown;
        for (let k = 1; k <= 5 && !done.signal.aborted; k++) {
          await Promise.race([proxy.waitForBytesDown(base + k * (size / 7)), new Promise((r) => done.signal.addEventListener("abort", r, { once: true }))]);
          if (!done.signal.aborted && proxy.cut() > 0) cuts++;
        }
      })();
      const hash = createHash("sha256");
      let received = 0;
      try {
        for await (const chunk of env.files.readFile(path).chunks) {
          hash.update(chunk);
          received += chunk.byteLength;
        }
      } finally {
        done.abort();
        await cutter;
      }
      expect(cuts).toBe(5);
      expect(received).toBe(size);
      expect(hash.digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      await rm(path, { force: true });
    }
  });
});

const remote = await remoteBackend.available();
if (!remote.ok) {
  if (process.env.CI === "true") throw new Error(`CI=true but the netns link test cannot run: ${remote.reason}`);
  console.warn(`skipping the netns link test: ${remote.reason}`);
}

/** Client ports of the connections established to the server, as the namespace sees them. */
async function peers(server: RemoteExecServer): Promise<string[]> {
  const ss = server.host.exec(["ss", "-Htn", "state", "established", "( sport = :7070 )"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  ss.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
  await new Promise((r) => ss.once("close", r));
  return out.split("\n").map((l) => l.trim().split(/\s+/).at(-1) ?? "").filter(Boolean).sort();
}

describe.skipIf(!remote.ok)("a network namespace link taken down and up", () => {
  let server: RemoteExecServer;
  let env: GrpcEnvironment;

  beforeAll(async () => {
    server = await startRemoteExecServer();
    // Short keepalive: a silently dead link is noticed in about two seconds.
    env = await server.connect({ keepaliveMs: 500, reconnect: RECONNECT });
  });
  afterAll(async () => {
    await env?.close();
    await server?.close();
  });

  it("resumes after the link comes back, twice, with nothing lost or duplicated", async () => {
    await env.processes.start("seq-link", { argv: ["seq", "1", String(N)] });
    const outages: number[] = [];
    let bytes = 0;
    let waiting: { at: number; resolve: () => void } | undefined;
    const reached = (at: number) =>
      new Promise<void>((resolve) => {
        if (bytes >= at) resolve();
        else waiting = { at, resolve };
      });
    const reading = readChecked(env, "seq-link", (total) => {
      bytes = total;
      if (waiting && bytes >= waiting.at) waiting.resolve();
    });
    const seen: string[][] = [];
    for (const fraction of [0.2, 0.6]) {
      await Promise.race([reached(Math.floor(expected.bytes * fraction)), reading]);
      seen.push(await peers(server));
      await server.host.linkDown();
      const downAt = bytes;
      // The outage itself is the scenario: long enough for the keepalive to declare the link dead.
      await new Promise((r) => setTimeout(r, 3_000));
      outages.push(bytes - downAt);
      await server.host.linkUp();
    }
    const result = await reading;
    seen.push(await peers(server));
    // Each outage ended in a new connection: the resume went through a reconnect.
    expect(seen[1]).not.toEqual(seen[0]);
    expect(seen[2]).not.toEqual(seen[1]);
    expect(result.discontinuities).toEqual([]);
    expect(result.bytes).toBe(expected.bytes);
    expect(result.sha256).toBe(expected.sha256);
    expect(result.exit.code).toBe(0);
    // While the link was down at most what was already in flight arrived.
    expect(outages).toHaveLength(seen.length - 1);
    for (const b of outages) expect(b).toBeLessThan(expected.bytes / 2);
  });
});
