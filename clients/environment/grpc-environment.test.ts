// GrpcEnvironment against a real exec server behind a proxy the test can cut: Attach
// resumes from the last seq it delivered, so nothing is lost or repeated, and calls
// made while the link is down go through once it is back.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../test/support/exec-harness.js";
import { type TcpProxy, startTcpProxy } from "../../test/support/tcp-proxy.js";
import { GrpcEnvironment } from "./grpc-environment.js";

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  h = await startHarness({ listen: "tcp://127.0.0.1:0", token: "env-token" });
  proxy = await startTcpProxy({ port: Number(new URL(h.url.replace(/^grpc:/, "http:")).port) });
});
afterAll(async () => {
  await proxy?.close();
  await h?.close();
});

function connect(): Promise<GrpcEnvironment> {
  return GrpcEnvironment.connect(
    { kind: "grpc", host: "127.0.0.1", port: proxy.port },
    { token: "env-token", reconnect: { giveUpAfterMs: 30_000, initialBackoffMs: 20, maxBackoffMs: 200 } },
  );
}

describe("GrpcEnvironment over a connection that gets cut", () => {
  it("resumes Attach after cuts with no byte lost or repeated (seq 1 3000000, sha256)", async () => {
    const expected = execFileSync("sh", ["-c", "seq 1 3000000 | sha256sum"]).toString().split(" ")[0];
    await using env = await connect();
    await env.processes.start("seq-3m", { argv: ["seq", "1", "3000000"] });
    const hash = createHash("sha256");
    let received = 0;
    const cutAt = [1 << 20, 5 << 20, 9 << 20, 13 << 20, 17 << 20];
    const acceptedBefore = proxy.accepted;
    let cuts = 0;
    let exitCode: number | undefined;
    let lastSeq = 0n;
    for await (const ev of env.processes.attach("seq-3m")) {
      if (ev.event.case === "output") {
        expect(ev.seq).toBeGreaterThan(lastSeq);
        lastSeq = ev.seq;
        hash.update(ev.event.value.data);
        received += ev.event.value.data.byteLength;
        if (cuts < cutAt.length && received >= cutAt[cuts]!) {
          expect(proxy.cut()).toBeGreaterThan(0);
          cuts++;
        }
      }
      if (ev.event.case === "exited") exitCode = ev.event.value.status?.code;
    }
    expect(cuts).toBe(cutAt.length);
    // Every cut forced a new connection.
    expect(proxy.accepted - acceptedBefore).toBeGreaterThanOrEqual(cutAt.length);
    expect(exitCode).toBe(0);
    expect(received).toBe(22_888_896);
    expect(hash.digest("hex")).toBe(expected);
  });

  it("keeps its session and processes across a cut, and retried writes land once", async () => {
    await using env = await connect();
    await env.processes.start("cat-cut", { argv: ["cat"], stdinOpen: true });
    await env.processes.write("cat-cut", Buffer.from("before\n"), { writeId: "w-before" });
    proxy.cut();
    // The same write id again (a retry after a lost answer) is not written twice.
    const retry = await env.processes.write("cat-cut", Buffer.from("before\n"), { writeId: "w-before" });
    expect(retry.applied).toBe(false);
    await env.processes.write("cat-cut", Buffer.from("after\n"), { eof: true });
    let out = "";
    for await (const ev of env.processes.attach("cat-cut")) {
      if (ev.event.case === "output") out += Buffer.from(ev.event.value.data).toString();
    }
    expect(out).toBe("before\nafter\n");
    const [listed] = await env.processes.list({ includeExited: true });
    expect(listed?.sessionId).toBe(env.sessionId);
  });

  it("waits out a link that refuses connections for a while", async () => {
    await using env = await connect();
    await env.processes.start("sleepy", { argv: ["sh", "-c", "read x; echo got $x"], stdinOpen: true });
    proxy.pause();
    proxy.cut();
    const acceptedBefore = proxy.accepted;
    const writing = env.processes.write("sleepy", Buffer.from("late\n"), { eof: true });
    const attaching = (async () => {
      let out = "";
      for await (const ev of env.processes.attach("sleepy")) {
        if (ev.event.case === "output") out += Buffer.from(ev.event.value.data).toString();
      }
      return out;
    })();
    // Nothing gets through while paused; resume once the client has demonstrably retried.
    await proxy.waitForRefused(proxy.refused + 3);
    expect(proxy.accepted).toBe(acceptedBefore);
    proxy.resume();
    await writing;
    expect(await attaching).toBe("got late\n");
  });

  it("closing the environment closes its session and kills its processes", async () => {
    const env = await connect();
    const { process } = await env.processes.start("closer", { argv: ["sleep", "100"] });
    const waited = h.clients.processes.wait({ processId: "closer" });
    await env.close();
    expect((await waited).status).toMatchObject({ signal: 9, reason: "the session was closed" });
    expect(process.pid).toBeGreaterThan(0);
  });
});

describe("GrpcEnvironment attach at the end", () => {
  it("ends after the started event when resumed at the exit event instead of reconnecting forever", async () => {
    await using env = await connect();
    await env.processes.start("ended", { argv: ["sh", "-c", "echo done"] });
    let exitSeq = 0n;
    for await (const ev of env.processes.attach("ended")) exitSeq = ev.seq;
    const again = [];
    // The stream ending at all is the claim (a client that reconnected forever would never
    // leave this loop); no wall-clock bound.
    for await (const ev of env.processes.attach("ended", { afterSeq: Number(exitSeq) })) again.push(ev.event.case);
    expect(again).toEqual(["started"]);
  });
});

describe("GrpcEnvironment session lifetime across outages", () => {
  function connectTtl(ttl: number): Promise<GrpcEnvironment> {
    return GrpcEnvironment.connect(
      { kind: "grpc", host: "127.0.0.1", port: proxy.port },
      { token: "env-token", detachedTtlMs: ttl, reconnect: { giveUpAfterMs: 5_000, initialBackoffMs: 20, maxBackoffMs: 200 } },
    );
  }

  it("keeps the session through short cuts (reattached within the TTL)", async () => {
    await using env = await connectTtl(1200);
    await env.processes.start("ttl-keep", { argv: ["sleep", "30"] });
    const waited = h.clients.processes.wait({ processId: "ttl-keep" });
    for (let i = 0; i < 3; i++) {
      const accepted = proxy.accepted;
      proxy.cut();
      // The environment reopens its Events stream on a new connection by itself.
      await proxy.waitForAccepted(accepted + 1);
      await env.processes.list();
    }
    // Well past the TTL: had the Events stream not come back, the session would have expired.
    const outcome = await Promise.race([waited.then(() => "exited"), new Promise((r) => setTimeout(() => r("running"), 2000))]);
    expect(outcome).toBe("running");
    const [info] = await env.processes.list();
    expect(info?.processId).toBe("ttl-keep");
    await env.processes.terminate("ttl-keep", { graceMs: 100 });
    expect((await waited).status?.reason).toMatch(/^terminated by request/);
  });

  it("loses the session when the outage outlasts the TTL: its processes are killed", async () => {
    const env = await connectTtl(300);
    try {
      await env.processes.start("ttl-expire", { argv: ["sleep", "30"] });
      const waited = h.clients.processes.wait({ processId: "ttl-expire" });
      proxy.pause();
      proxy.cut();
      const status = (await waited).status;
      expect(status?.reason).toMatch(/session expired after 300 ms detached/);
      proxy.resume();
      // Back online, the session is gone and says so.
      const err = await env.session.incrementElicitation().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 5 });
    } finally {
      proxy.resume();
      await env.close();
    }
  });
});

describe("GrpcEnvironment under many short attaches", () => {
  it("keeps its connection when consumers stop at the exit event 1200 times (nghttp2 closes one that resets > 1000 streams, then > 33/s)", async () => {
    await using env = await connect();
    await env.processes.start("attach-often", { argv: ["echo", "hi"] });
    await env.processes.wait("attach-often");
    const acceptedBefore = proxy.accepted;
    for (let i = 0; i < 1200; i++) {
      for await (const ev of env.processes.attach("attach-often")) if (ev.event.case === "exited") break;
    }
    // One connection throughout: a GOAWAY would have forced a reconnect through the proxy.
    expect(proxy.accepted - acceptedBefore).toBe(0);
  }, 180_000);
});
