import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import * as http2 from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureServices, directWriter, onCancelled, widenReceiveWindows } from "./grpc-js-internals.js";

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
    reached = widenReceiveWindows(server, { stream: 3 << 20, connection: 5 << 20, maxFrame: 256 << 10 });
  });
  afterAll(async () => {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("reaches the server's listener (fails if grpc-js renamed its internals)", () => {
    expect(reached).toBe(1);
  });

  it("announces the stream window and frame size and opens the connection window to a new client", async () => {
    const session = http2.connect("http://localhost", { createConnection: () => connect(socket) });
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      expect(settings.initialWindowSize).toBe(3 << 20);
      expect(settings.maxFrameSize).toBe(256 << 10);
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

describe("grpc-js server call cancellation (onCancelled)", () => {
  it("emits 'cancelled' and sets call.cancelled when the client cancels", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tether-cancel-"));
    const socket = join(dir, "s.sock");
    const server = new grpc.Server();
    const raw = (b: Buffer) => b;
    const seen = new Promise<boolean>((resolve) => {
      server.addService(
        { hold: { path: "/t.T/Hold", requestStream: false, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
        {
          hold: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
            call.write(Buffer.from("x"));
            onCancelled(call, () => resolve(call.cancelled));
          },
        },
      );
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const call = client.makeServerStreamRequest("/t.T/Hold", raw, raw, Buffer.alloc(0));
      call.on("error", () => undefined); // CANCELLED, ours
      await once(call, "data");
      call.cancel();
      expect(await seen).toBe(true);
    } finally {
      client.close();
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("@grpc/reflection capture (captureServices)", () => {
  it("records both reflection services' method definitions and handlers from addToServer", async () => {
    const { ReflectionService } = await import("@grpc/reflection");
    const root = { tether: { fileDescriptorProtos: [] } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
    const captured = captureServices<unknown>((server) => new ReflectionService(root).addToServer(server));
    expect([...captured.keys()].sort()).toEqual([
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]);
    for (const { def, handler } of captured.values()) {
      expect(typeof handler).toBe("function");
      expect(def.requestStream && def.responseStream).toBe(true);
      expect(typeof def.responseSerialize).toBe("function");
    }
  });
});

describe("direct writes to a server call's HTTP/2 stream (directWriter)", () => {
  it("finds the stream under an interceptor and sends pieces as one message, after grpc-js's own", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tether-direct-"));
    const socket = join(dir, "s.sock");
    // An interceptor that passes everything on: the stream is then one call further down.
    const passThrough: grpc.ServerInterceptor = (_method, call) => new grpc.ServerInterceptingCall(call);
    const server = new grpc.Server({ interceptors: [passThrough] });
    const raw = (b: Buffer) => b;
    const results: boolean[] = [];
    server.addService(
      { pieces: { path: "/t.T/Pieces", requestStream: false, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
      {
        pieces: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          const direct = directWriter(call);
          results.push(direct !== undefined);
          if (!direct) return call.end();
          // Before grpc-js sent the headers, it refuses (the caller then writes through grpc-js).
          results.push(direct([Buffer.from("early")], 5, () => undefined));
          call.write(Buffer.from("first"), () => {
            results.push(direct([Buffer.from("sec"), Buffer.from("ond")], 6, () => undefined));
            // Many small pieces go joined into one frame, large ones as they are: the same message either way.
            const lines = Array.from({ length: 300 }, (_, i) => Buffer.from(`line ${i}\n`));
            results.push(direct(lines, Buffer.concat(lines).byteLength, () => undefined));
            const big = [Buffer.alloc(70_000, "a"), Buffer.alloc(70_000, "b")];
            results.push(direct(big, 140_000, () => call.end()));
          });
        },
      },
    );
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const got: string[] = [];
      for await (const msg of client.makeServerStreamRequest("/t.T/Pieces", raw, raw, Buffer.alloc(0)) as AsyncIterable<Buffer>) got.push(msg.toString());
      expect(results).toEqual([true, false, true, true, true]);
      const lines = Array.from({ length: 300 }, (_, i) => `line ${i}\n`).join("");
      expect(got).toEqual(["first", "second", lines, "a".repeat(70_000) + "b".repeat(70_000)]);
    } finally {
      client.close();
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
