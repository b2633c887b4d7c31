import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import * as http2 from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { widenReceiveWindows } from "./receive-window.js";

describe("widenReceiveWindows", () => {
  let dir: string;
  let socket: string;
  let server: grpc.Server;
  let reached: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-window-"));
    socket = join(dir, "s.sock");
    server = new grpc.Server();
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    reached = widenReceiveWindows(server, { stream: 3 << 20, connection: 5 << 20 });
  });
  afterAll(async () => {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("reaches the server's listener (fails if grpc-js renamed its internals)", () => {
    expect(reached).toBe(1);
  });

  it("announces the stream window and opens the connection window to a new client", async () => {
    const session = http2.connect("http://localhost", { createConnection: () => connect(socket) });
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      expect(settings.initialWindowSize).toBe(3 << 20);
      // The WINDOW_UPDATE follows the SETTINGS frame; a ping round trip makes sure it arrived.
      await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
      expect(session.state.remoteWindowSize).toBe(5 << 20);
    } finally {
      session.destroy();
    }
  });

  it("does nothing to an object without grpc-js's listeners", () => {
    expect(widenReceiveWindows({} as grpc.Server)).toBe(0);
  });
});
