// A grpc-js client that sends request bodies as raw bytes, so fuzz tests can put
// anything on the wire (random bytes, invalid UTF-8, hand-made field records) and
// read back the status the server chose. Responses stay undecoded.
import * as grpc from "@grpc/grpc-js";
import type { DescMethod } from "@bufbuild/protobuf";
import fc from "fast-check";

export interface RawResult {
  code: grpc.status;
  details: string;
  /** Response messages received before the call ended (at most one is read from a stream). */
  messages: number;
}

const passThrough = (b: Buffer): Buffer => b;

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

export class FuzzRawClient {
  readonly #client: grpc.Client;

  constructor(address: string) {
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": 64 << 20,
      "grpc.max_receive_message_length": 64 << 20,
    });
  }

  /**
   * One call with raw request bodies (exactly one for unary and server-streaming methods).
   * A server stream is cancelled after its first message: the server answered, which is
   * all a fuzz case needs to know (the result then has code OK and messages 1).
   */
  call(method: DescMethod, bodies: Buffer[], timeoutMs: number): Promise<RawResult> {
    const path = methodPath(method);
    const options: grpc.CallOptions = { deadline: Date.now() + timeoutMs };
    const meta = new grpc.Metadata();
    return new Promise<RawResult>((resolve) => {
      const done = (err: grpc.ServiceError | null, messages: number) =>
        resolve(err ? { code: err.code, details: err.details, messages } : { code: grpc.status.OK, details: "", messages });
      switch (method.methodKind) {
        case "unary":
          this.#client.makeUnaryRequest(path, passThrough, passThrough, bodies[0] ?? Buffer.alloc(0), meta, options, (err) => done(err, err ? 0 : 1));
          return;
        case "client_streaming": {
          const call = this.#client.makeClientStreamRequest(path, passThrough, passThrough, meta, options, (err) => done(err, err ? 0 : 1));
          // The server may fail the call after the first bad message; later writes then go nowhere.
          call.on("error", () => undefined);
          for (const body of bodies) call.write(body);
          call.end();
          return;
        }
        case "server_streaming":
        case "bidi_streaming": {
          const call =
            method.methodKind === "server_streaming"
              ? this.#client.makeServerStreamRequest(path, passThrough, passThrough, bodies[0] ?? Buffer.alloc(0), meta, options)
              : this.#client.makeBidiStreamRequest(path, passThrough, passThrough, meta, options);
          let messages = 0;
          let settled = false;
          call.on("data", () => {
            messages++;
            if (settled) return;
            settled = true;
            resolve({ code: grpc.status.OK, details: "", messages });
            call.cancel();
          });
          call.on("error", (err: grpc.ServiceError) => {
            if (settled) return;
            settled = true;
            done(err, messages);
          });
          call.on("status", (status: grpc.StatusObject) => {
            if (settled) return;
            settled = true;
            resolve({ code: status.code, details: status.details, messages });
          });
          if (method.methodKind === "bidi_streaming") {
            const duplex = call as grpc.ClientDuplexStream<Buffer, Buffer>;
            for (const body of bodies) duplex.write(body);
            duplex.end();
          }
          return;
        }
      }
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** Statuses a bad request may legitimately get: typed, and never INTERNAL or UNKNOWN. */
export const TYPED_ERRORS: ReadonlySet<grpc.status> = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.UNAUTHENTICATED,
]);

/** A protobuf length-delimited field record with arbitrary bytes (e.g. invalid UTF-8 for a string field). */
export function rawField(fieldNumber: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([varint((fieldNumber << 3) | 2), varint(bytes.length), Buffer.from(bytes)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A hang shows as DEADLINE_EXCEEDED; every legitimate answer comes within milliseconds. */
export const FUZZ_CALL_TIMEOUT_MS = 8000;

/** A short, printable description of a generated request for a failure list. */
function describeCase(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `<${x.byteLength} bytes>` : typeof x === "string" && x.length > 60 ? `${JSON.stringify(x.slice(0, 30))}…(${x.length} chars)` : x,
  );
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/**
 * Sends `runs` generated requests and returns every untyped answer (with a short description
 * of the request) instead of throwing: a hang costs a whole deadline, so fast-check's
 * shrinking would take minutes, and one compact list reads better. `onCase` counts cases.
 */
export async function untypedAnswers<T>(
  raw: FuzzRawClient,
  method: DescMethod,
  arb: fc.Arbitrary<T>,
  toBodies: (v: T) => fc.Arbitrary<Buffer[]> | Buffer[],
  runs: number,
  onCase: () => void,
): Promise<string[]> {
  const bodies = arb.chain((v) => {
    const b = toBodies(v);
    return (Array.isArray(b) ? fc.constant(b) : b).map((encoded) => ({ v, encoded }));
  });
  const found: string[] = [];
  await fc.assert(
    fc.asyncProperty(bodies, async ({ v, encoded }) => {
      onCase();
      const res = await raw.call(method, encoded, FUZZ_CALL_TIMEOUT_MS);
      if (res.code === grpc.status.OK || (TYPED_ERRORS.has(res.code) && res.details !== "")) return;
      found.push(`${methodPath(method)} -> ${grpc.status[res.code]}: ${res.details.slice(0, 200)} for ${describeCase(v)}`);
    }),
    { numRuns: runs },
  );
  return found;
}
