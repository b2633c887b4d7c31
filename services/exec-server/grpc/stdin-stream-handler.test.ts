import type { MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WriteStreamRequestSchema, WriteStreamResponse } from "../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { type Harness, drain, failure, startHarness } from "../../../test/support/exec-harness.js";

type Req = MessageInitShape<typeof WriteStreamRequestSchema>;

const bytes = (s: string) => Buffer.from(s);

let h: Harness;
let n = 0;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function startCat(): Promise<string> {
  const processId = `ws-${++n}`;
  await h.clients.processes.start({ processId, spec: { argv: ["cat"], stdinOpen: true } });
  return processId;
}

/** One WriteStream call with all of `reqs`; its answers once the server ended it. */
async function call(reqs: Req[]): Promise<WriteStreamResponse[]> {
  const out: WriteStreamResponse[] = [];
  for await (const res of h.clients.processes.writeStream((async function* () { yield* reqs; })())) out.push(res);
  return out;
}

describe("WriteStream", () => {
  it("skips what a reopened stream already applied, and answers a gap with OUT_OF_RANGE", async () => {
    const processId = await startCat();
    const streamId = "s1";
    expect(await call([{ processId, streamId, offset: 0n, data: bytes("abc") }])).toMatchObject([{ appliedOffset: 3n, eof: false }]);
    // A retry after a cut resends from its last acknowledged byte; only "de" is new.
    expect(await call([{ processId, streamId, offset: 1n, data: bytes("bcde") }])).toMatchObject([{ appliedOffset: 5n }]);
    // A pure repeat is answered, not written.
    expect(await call([{ processId, streamId, offset: 0n, data: bytes("abcde") }])).toMatchObject([{ appliedOffset: 5n }]);
    const gap = await failure(call([{ processId, streamId, offset: 7n, data: bytes("x") }]));
    expect(gap.code).toBe(ErrorCode.OutOfRange);
    expect(gap.message).toMatch(/resend from offset 5/);
    // Another stream id numbers its own bytes from 0.
    await call([{ processId, streamId: "s2", offset: 0n, data: bytes("f") }]);
    expect(await call([{ processId, streamId, offset: 5n, eof: true }])).toMatchObject([{ appliedOffset: 5n, eof: true }]);
    const r = await drain(h.clients.processes.attach({ processId }));
    expect(r.stdout.toString()).toBe("abcdef");
    expect(r.exit?.code).toBe(0);
  });

  it("answers an empty request (a flush) at once, with everything before it applied", async () => {
    const processId = await startCat();
    const answers: WriteStreamResponse[] = [];
    let flushed!: () => void;
    const gotAnswer = new Promise<void>((resolve) => (flushed = resolve));
    const requests = (async function* (): AsyncIterable<Req> {
      yield { processId, streamId: "f", offset: 0n, data: bytes("12") };
      yield { offset: 2n, data: bytes("345") };
      yield { offset: 5n };
      // Held open until the flush was answered: the answer may not wait for the end.
      await gotAnswer;
    })();
    for await (const res of h.clients.processes.writeStream(requests)) {
      answers.push(res);
      flushed();
    }
    expect(answers[0]).toMatchObject({ appliedOffset: 5n, eof: false });
    await h.clients.processes.terminate({ processId });
  });

  it("answers bad streams with typed errors", async () => {
    const processId = await startCat();
    const codes = async (reqs: Req[]) => (await failure(call(reqs))).code;
    expect({
      noProcess: await codes([{ streamId: "a", data: bytes("x") }]),
      noStream: await codes([{ processId, data: bytes("x") }]),
      badStream: await codes([{ processId, streamId: "bad id/", data: bytes("x") }]),
      unknown: await codes([{ processId: "no-such-process", streamId: "a", data: bytes("x") }]),
      switched: await codes([{ processId, streamId: "b" }, { processId: "other", offset: 0n }]),
      renamed: await codes([{ processId, streamId: "c" }, { streamId: "d" }]),
      hugeOffset: await codes([{ processId, streamId: "e", offset: 2n ** 63n }]),
    }).toEqual({
      noProcess: ErrorCode.InvalidArgument,
      noStream: ErrorCode.InvalidArgument,
      badStream: ErrorCode.InvalidArgument,
      unknown: ErrorCode.NotFound,
      switched: ErrorCode.InvalidArgument,
      renamed: ErrorCode.InvalidArgument,
      hugeOffset: ErrorCode.InvalidArgument,
    });
    await call([{ processId, streamId: "z", eof: true }]);
    expect((await failure(call([{ processId, streamId: "y", data: bytes("late") }]))).code).toBe(ErrorCode.FailedPrecondition);
  });
});
