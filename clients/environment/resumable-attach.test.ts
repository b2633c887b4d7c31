import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { Outage } from "./reconnect.js";
import { ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import { type AttachEventLike, EXITED_STATE, resumableAttach } from "./resumable-attach.js";

const started = (lastSeq = 0n, state: number = ProcessState.RUNNING): AttachEventLike => ({ seq: 0n, event: { case: "started", value: { state, lastSeq } } });
const output = (seq: bigint): AttachEventLike => ({ seq, event: { case: "output", value: { data: new Uint8Array([Number(seq)]) } } });
const exited = (seq: bigint): AttachEventLike => ({ seq, event: { case: "exited", value: {} } });
const outage = () => new Outage({ giveUpAfterMs: 10_000, initialBackoffMs: 1, maxBackoffMs: 1, random: () => 0 }, "test server");

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("resumableAttach", () => {
  it("hands over the exit event only after its stream ended (a consumer stopping there must not reset a live stream)", async () => {
    let finished = false;
    async function* stream() {
      yield started();
      yield output(1n);
      yield exited(2n);
      finished = true;
    }
    const it = resumableAttach(() => stream(), { outage: outage() })[Symbol.asyncIterator]();
    expect((await it.next()).value?.event.case).toBe("started");
    expect((await it.next()).value?.event.case).toBe("output");
    const last = await it.next();
    expect(last.value?.event.case).toBe("exited");
    expect(finished).toBe(true);
    expect((await it.next()).done).toBe(true);
  });

  it("resumes after a transport failure from the last seq delivered, with one started event and nothing repeated", async () => {
    const cursors: bigint[] = [];
    async function* stream(afterSeq: bigint) {
      cursors.push(afterSeq);
      yield started();
      if (afterSeq === 0n) {
        yield output(1n);
        yield output(2n);
        throw new TetherError(ErrorCode.Unavailable, "connection dropped");
      }
      yield output(3n);
      yield exited(4n);
    }
    const events = await all(resumableAttach(stream, { outage: outage() }));
    expect(cursors).toEqual([0n, 2n]);
    expect(events.map((e) => `${e.event.case}:${e.seq}`)).toEqual(["started:0", "output:1", "output:2", "output:3", "exited:4"]);
  });

  it("ends without an exit event when the cursor already passed an exited process's last seq", async () => {
    expect(EXITED_STATE).toBe(ProcessState.EXITED);
    async function* stream() {
      yield started(5n, ProcessState.EXITED);
    }
    const events = await all(resumableAttach(stream, { afterSeq: 5n, outage: outage() }));
    expect(events.map((e) => e.event.case)).toEqual(["started"]);
  });

  it("passes on a failure that is not a transport failure, unless the caller asked for one more attempt", async () => {
    const notFound = new TetherError(ErrorCode.NotFound, "no such process");
     
    async function* missing(): AsyncGenerator<AttachEventLike> {
      throw notFound;
    }
    await expect(all(resumableAttach(missing, { outage: outage() }))).rejects.toBe(notFound);
    const opened: number[] = [];
    async function* laterFound(_: bigint, attempt: number) {
      opened.push(attempt);
      if (attempt === 0) throw notFound;
      yield started();
      yield exited(1n);
    }
    const events = await all(resumableAttach(laterFound, { outage: outage(), retryOnce: (err, attempt) => attempt === 0 && err.code === ErrorCode.NotFound }));
    expect(opened).toEqual([0, 1]);
    expect(events.map((e) => e.event.case)).toEqual(["started", "exited"]);
  });
});
