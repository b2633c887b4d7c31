// LeanChannel's keepalive: a link that goes silent (no reset, no FIN) must fail the calls on
// it as UNAVAILABLE within the keepalive budget, so a caller's retry can move on.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, startExecServerProcess } from "../../../test/support/exec-server-process.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { LeanChannel } from "./lean-channel.js";
import { SessionWire } from "./process-wire.js";

/** A TCP forwarder that can go silent: bytes stop flowing both ways, sockets stay open. */
async function silentProxy(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
    }
    client.on("data", (b) => void (frozen || upstream.write(b)));
    upstream.on("data", (b) => void (frozen || client.write(b)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => void (frozen = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("LeanChannel keepalive", () => {
  let server: ExecServerProcess;
  beforeAll(async () => {
    server = await startExecServerProcess({ listen: "tcp://127.0.0.1:0" });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("fails a stream on a silent link as UNAVAILABLE, naming the unanswered ping", async () => {
    const proxy = await silentProxy(Number(server.url.split(":").at(-1)));
    const channel = LeanChannel.connect({ target: `grpc://127.0.0.1:${proxy.port}`, keepaliveMs: 200 });
    try {
      const { sessionId } = await channel.unary(SessionWire.openSession, { sessionId: "lean-keepalive" });
      const events = channel.serverStream(SessionWire.events, { sessionId })[Symbol.asyncIterator]();
      expect((await events.next()).value?.event.case).toBe("ready");
      proxy.freeze();
      // The message names the keepalive ping, so the keepalive (not a later timeout) ended it.
      const err = await events.next().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TetherError);
      expect((err as TetherError).code).toBe(ErrorCode.Unavailable);
      expect((err as TetherError).message).toMatch(/keepalive ping/);
    } finally {
      await channel.close();
      await proxy.close();
    }
  });
});
