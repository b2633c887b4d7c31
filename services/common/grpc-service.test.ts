import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachResponseSchema, ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { type ServiceHandlers, addService } from "./grpc-service.js";
import { createGrpcClient } from "./grpc-client.js";
import { PreEncoded } from "./pre-encoded.js";

const MESSAGES = 24;
const DATA_BYTES = 300_000;

/** Output event `i`: its data says which message and byte it is, so any mix-up shows. */
function output(i: number): Uint8Array {
  const data = Buffer.alloc(DATA_BYTES);
  for (let b = 0; b < DATA_BYTES; b += 4) data.writeUInt32BE((i << 20) + b, b);
  return toBinary(AttachResponseSchema, create(AttachResponseSchema, { seq: BigInt(i + 1), event: { case: "output", value: { stream: 1, data } } }));
}

/** The encoded message in pieces of uneven size, as a merged output event is. */
function inPieces(bytes: Uint8Array, i: number): PreEncoded {
  const a = 7 + i;
  const b = a + Math.floor(bytes.byteLength / 3);
  return new PreEncoded(bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b));
}

describe("PreEncoded responses over grpc-js", () => {
  let dir: string;
  let server: grpc.Server;
  let client: ReturnType<typeof createGrpcClient<typeof ProcessService.method>>;
  const sent = Array.from({ length: MESSAGES }, (_, i) => output(i));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-grpc-service-"));
    server = new grpc.Server();
    const unused = Object.fromEntries(ProcessService.methods.map((m) => [m.localName, () => Promise.reject(new Error("unused"))]));
    const handlers = {
      ...unused,
      async *attach() {
        for (let i = 0; i < MESSAGES; i++) yield inPieces(sent[i]!, i);
      },
    } as unknown as ServiceHandlers<typeof ProcessService.method>;
    addService(server, ProcessService, handlers);
    const address = `unix://${join(dir, "s.sock")}`;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    client = createGrpcClient(ProcessService, address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": 16 << 20 });
  });

  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("arrive byte for byte as the joined message, in order", async () => {
    const got: Uint8Array[] = [];
    for await (const res of client.attach({ processId: "p" })) {
      got.push(toBinary(AttachResponseSchema, res));
    }
    expect(got).toHaveLength(MESSAGES);
    for (let i = 0; i < MESSAGES; i++) expect(Buffer.from(got[i]!).equals(Buffer.from(sent[i]!))).toBe(true);
  });

  it("join into the same bytes for a transport that needs one buffer", () => {
    const pieces = inPieces(sent[3]!, 3);
    expect(pieces.byteLength).toBe(sent[3]!.byteLength);
    expect(Buffer.from(pieces.bytes).equals(Buffer.from(sent[3]!))).toBe(true);
  });
});
