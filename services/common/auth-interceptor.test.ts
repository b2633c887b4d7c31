import * as grpc from "@grpc/grpc-js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shutdownGateInterceptor } from "./auth-interceptor.js";

describe("shutdownGateInterceptor", () => {
  it("passes calls through while open (no layer of its own) and refuses new ones with UNAVAILABLE once closing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tether-gate-"));
    let closing = false;
    const server = new grpc.Server({ interceptors: [shutdownGateInterceptor(() => closing)] });
    const raw = (b: Buffer) => b;
    server.addService(
      { echo: { path: "/t.T/Echo", requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
      { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request) },
    );
    const socket = join(dir, "s.sock");
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    const echo = () =>
      new Promise<{ ok: string } | { code: number; details: string }>((resolve) =>
        client.makeUnaryRequest("/t.T/Echo", raw, raw, Buffer.from("hi"), (err, res) => resolve(err ? { code: err.code, details: err.details } : { ok: res!.toString() })),
      );
    try {
      expect(await echo()).toEqual({ ok: "hi" });
      closing = true;
      expect(await echo()).toEqual({ code: grpc.status.UNAVAILABLE, details: "the server is shutting down" });
    } finally {
      client.close();
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
