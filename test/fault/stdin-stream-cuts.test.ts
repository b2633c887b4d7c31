// A stdin stream (ProcessOps.openStdin) whose connection is cut again and again, with
// requests and answers in flight: the reopened stream resends from the last acknowledged
// byte and the server skips what it already applied, so `cat` echoes every byte once.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GrpcEnvironment } from "../../clients/environment/grpc-environment.js";
import type { TcpProxy } from "../support/tcp-proxy.js";
import { type ProxiedServer, startProxiedServer } from "./seq-output.js";

const RECONNECT = { giveUpAfterMs: 30_000, initialBackoffMs: 20, maxBackoffMs: 250 };

describe("a stdin stream through a TCP proxy that is cut", () => {
  let proxy: TcpProxy;
  let env: GrpcEnvironment;
  let fixture: ProxiedServer | undefined;

  beforeAll(async () => {
    fixture = await startProxiedServer(RECONNECT);
    ({ proxy, env } = fixture);
  });
  afterAll(() => fixture?.close());

  /** sha256 and length of everything `processId` writes to stdout, to its exit. */
  async function digestStdout(processId: string): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const ev of env.processes.attach(processId)) {
      if (ev.event.case !== "output") continue;
      hash.update(ev.event.value.data);
      bytes += ev.event.value.data.byteLength;
    }
    return { bytes, sha256: hash.digest("hex") };
  }

  it("delivers keystrokes and bulk data exactly once across many cuts, then EOF", async () => {
    await env.processes.start("stdin-cut", { argv: ["cat"], stdinOpen: true });
    const reading = digestStdout("stdin-cut");
    const sent = createHash("sha256");
    let total = 0;
    let cuts = 0;
    const stdin = env.processes.openStdin("stdin-cut");
    const write = async (data: Uint8Array) => {
      sent.update(data);
      total += data.byteLength;
      await stdin.write(data);
    };
    for (let i = 1; i <= 300; i++) {
      await write(Buffer.from(`key ${i}\n`));
      if (i % 20 === 0 && proxy.cut() > 0) cuts++;
      // Now and then wait until applied, so cuts also hit an idle stream.
      if (i % 50 === 0) await stdin.flush();
    }
    // Bulk: bigger than the unacknowledged window, so writes wait for answers across cuts.
    for (let i = 0; i < 24; i++) {
      await write(randomBytes(200_000));
      if (i % 2 === 0 && proxy.cut() > 0) cuts++;
    }
    await stdin.end();
    const got = await reading;
    expect(got.bytes).toBe(total);
    expect(got.sha256).toBe(sent.digest("hex"));
    // A cut while the client is still reconnecting finds no connection to cut.
    expect(cuts).toBeGreaterThanOrEqual(10);
    expect((await env.processes.wait("stdin-cut")).code).toBe(0);
  });
});
