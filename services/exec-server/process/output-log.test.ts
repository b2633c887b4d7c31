import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { MemoryBudget } from "./memory-budget.js";
import { type LogItem, OutputLog } from "./output-log.js";

const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

async function collect<E>(it: AsyncIterable<LogItem<E>>): Promise<LogItem<E>[]> {
  const items: LogItem<E>[] = [];
  for await (const item of it) items.push(item);
  return items;
}

describe("OutputLog", () => {
  it("numbers chunks and the exit event in one sequence, exit last", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    log.append("stdout", bytes(3));
    log.append("stderr", bytes(2));
    log.finish(0);
    const items = await collect(log.read({ afterSeq: 0 }));
    expect(items.map((i) => [i.kind, "seq" in i ? i.seq : -1])).toEqual([
      ["output", 1],
      ["output", 2],
      ["exit", 3],
    ]);
  });

  it("counts what a retained tiny chunk really costs (~500 B of memory), not just its bytes", async () => {
    const log = new OutputLog<number>({ overflow: "drop_oldest", maxRetainedBytes: 64 * 1024 });
    for (let i = 0; i < 10_000; i++) log.append("stdout", bytes(8));
    log.finish(0);
    let chunks = 0;
    for await (const item of log.read({ afterSeq: 0, allowGaps: true })) if (item.kind === "output") chunks++;
    // 64 KiB of budget holds about 126 eight-byte chunks, not the ~910 that counting 8 + 64 B allowed.
    expect(chunks).toBeGreaterThan(100);
    expect(chunks).toBeLessThan(130);
    expect(log.retainedBytes).toBeLessThanOrEqual(64 * 1024 + 520);
  });

  it("resumes from any cursor", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) log.append("stdout", bytes(1, 0x30 + i));
    log.finish(0);
    const items = await collect(log.read({ afterSeq: 3 }));
    expect(items.map((i) => ("seq" in i ? i.seq : -1))).toEqual([4, 5, 6]);
  });

  it("ends at once for a cursor at the exit event", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    log.append("stdout", bytes(1));
    log.finish(0);
    expect(await collect(log.read({ afterSeq: 2 }))).toEqual([]);
  });

  it("follows live output until exit", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    const reading = collect(log.read({ afterSeq: 0 }));
    log.append("stdout", bytes(1));
    await Promise.resolve();
    log.append("stdout", bytes(1));
    log.finish(7);
    const items = await reading;
    expect(items.at(-1)).toMatchObject({ kind: "exit", status: 7, seq: 3 });
  });

  it("serves several readers independently", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    const a = collect(log.read({ afterSeq: 0 }));
    const b = collect(log.read({ afterSeq: 0 }));
    log.append("stdout", bytes(10));
    log.finish(0);
    expect((await a).length).toBe(2);
    expect((await b).length).toBe(2);
  });

  it("BLOCK stops being writable when unread output reaches the cap and resumes as a reader catches up", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 8192 });
    let resumed = 0;
    using _l = log.onWritable(() => resumed++);
    while (log.writable) log.append("stdout", bytes(1000));
    const unreadWhenBlocked = log.lastSeq;
    expect(unreadWhenBlocked).toBeGreaterThanOrEqual(5);
    const reader = log.read({ afterSeq: 0 });
    for (let i = 1; i <= unreadWhenBlocked; i++) expect((await reader.next()).value).toMatchObject({ seq: i });
    // The reader asked for the next item: everything before it is delivered.
    const pending = reader.next();
    expect(log.writable).toBe(true);
    expect(resumed).toBeGreaterThan(0);
    log.finish(0);
    expect((await pending).value).toMatchObject({ kind: "exit", seq: unreadWhenBlocked + 1 });
  });

  it("BLOCK keeps delivered history up to the cap for resuming readers, then drops it", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 4096 });
    const reader = log.read({ afterSeq: 0 });
    for (let i = 0; i < 20; i++) {
      log.append("stdout", bytes(1000));
      await reader.next();
    }
    await reader.return(undefined);
    expect(log.retainedBytes).toBeLessThanOrEqual(4096 + 1064);
    expect(log.firstRetainedSeq).toBeGreaterThan(1);
    await expect(collect(log.read({ afterSeq: 0 }))).rejects.toMatchObject({ code: ErrorCode.OutOfRange });
  });

  it("BLOCK keeps historyBytes of delivered output when that is more than the cap, while pausing at the cap", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 4096, historyBytes: 16_384 });
    const reader = log.read({ afterSeq: 0 });
    for (let i = 0; i < 20; i++) {
      log.append("stdout", bytes(1000));
      await reader.next();
    }
    await reader.return(undefined);
    expect(log.retainedBytes).toBeGreaterThan(4096 + 1064);
    expect(log.retainedBytes).toBeLessThanOrEqual(16_384 + 1064);
    // Unread output still pauses the producer at the cap.
    log.append("stdout", bytes(5000));
    expect(log.writable).toBe(false);
    log.finish(0);
    // A reader whose last 10 KB were in flight can still resume.
    const resumed = await collect(log.read({ afterSeq: 10 }));
    expect(resumed.map((i) => ("seq" in i ? i.seq : -1))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
  });

  it("DROP_OLDEST keeps the head and the tail and reports the gap when asked", async () => {
    const log = new OutputLog<number>({ overflow: "drop_oldest", maxRetainedBytes: 4096 });
    for (let i = 0; i < 100; i++) log.append("stdout", bytes(100, i));
    log.finish(0);
    expect(log.writable).toBe(true);
    expect(log.retainedBytes).toBeLessThanOrEqual(4096);
    expect(log.droppedBytes).toBeGreaterThan(0);
    const items = await collect(log.read({ afterSeq: 0, allowGaps: true }));
    expect(items[0]).toMatchObject({ kind: "output", seq: 1 });
    const gap = items.find((i) => i.kind === "gap");
    expect(gap).toMatchObject({ kind: "gap", droppedBytes: log.droppedBytes });
    expect(items.at(-1)).toMatchObject({ kind: "exit", seq: log.lastSeq });
  });

  it("DROP_OLDEST answers OUT_OF_RANGE naming the oldest retained seq when gaps are not allowed", async () => {
    const log = new OutputLog<number>({ overflow: "drop_oldest", maxRetainedBytes: 4096 });
    for (let i = 0; i < 100; i++) log.append("stdout", bytes(100));
    const reader = log.read({ afterSeq: 40 });
    const err = await reader.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.OutOfRange);
    expect((err as TetherError).details.oldest_seq).toBe(String(log.firstRetainedSeq));
    expect((err as TetherError).message).toContain(`oldest retained seq after it is ${log.firstRetainedSeq}`);
  });

  it("rejects a cursor beyond the end", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 4096 });
    log.append("stdout", bytes(1));
    await expect(log.read({ afterSeq: 5 }).next()).rejects.toMatchObject({ code: ErrorCode.OutOfRange });
  });

  it("ends a waiting reader with CANCELLED when its signal aborts", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 4096 });
    const ac = new AbortController();
    const pending = log.read({ afterSeq: 0, signal: ac.signal }).next();
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });

  it("shares a memory budget: DROP_OLDEST logs shed, BLOCK logs stop being writable", () => {
    const budget = new MemoryBudget(10_000);
    const drop = new OutputLog<number>({ overflow: "drop_oldest", maxRetainedBytes: 1 << 20, budget });
    const block = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20, budget });
    for (let i = 0; i < 200; i++) drop.append("stdout", bytes(500));
    expect(budget.used).toBeLessThanOrEqual(10_000 + 600);
    while (block.writable) block.append("stdout", bytes(500));
    expect(block.lastSeq).toBeLessThan(40);
    drop.close();
    expect(block.writable).toBe(true);
    block.close();
    expect(budget.used).toBe(0);
  });
});

describe("OutputLog head", () => {
  it("DROP_OLDEST keeps the first bytes even when the first chunk is larger than the head", async () => {
    const log = new OutputLog<number>({ overflow: "drop_oldest", maxRetainedBytes: 4096 });
    log.append("stdout", bytes(10_000, 0x41));
    for (let i = 0; i < 10; i++) log.append("stdout", bytes(1000, 0x42));
    log.finish(0);
    const items = await collect(log.read({ afterSeq: 0, allowGaps: true }));
    const first = items[0];
    expect(first).toMatchObject({ kind: "output", seq: 1 });
    expect(first?.kind === "output" && first.data[0]).toBe(0x41);
    expect(log.retainedBytes).toBeLessThanOrEqual(4096 + 1064);
  });
});

describe("OutputLog merging", () => {
  it("merges waiting chunks of one stream up to the limit, keeping the last seq", async () => {
    const log = new OutputLog<number>({ overflow: "block", maxRetainedBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) log.append("stdout", bytes(100, 0x30 + i));
    log.append("stderr", bytes(10));
    log.append("stdout", bytes(100));
    log.finish(0);
    const items = await collect(log.read({ afterSeq: 0, mergeUpToBytes: 300 }));
    expect(items.map((i) => [i.kind, "seq" in i ? i.seq : 0, i.kind === "output" ? i.data.byteLength : 0])).toEqual([
      ["output", 3, 300],
      ["output", 5, 200],
      ["output", 6, 10],
      ["output", 7, 100],
      ["exit", 8, 0],
    ]);
    const merged = items[0];
    expect(merged?.kind === "output" && [...merged.data.subarray(99, 101)]).toEqual([0x30, 0x31]);
  });
});
