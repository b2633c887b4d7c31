import { describe, expect, it } from "vitest";
import { EventFanout, MAX_RETAINED_WARNINGS } from "./event-fanout.js";
import type { ThreadEvent } from "./thread-event.js";

async function take(stream: AsyncIterable<ThreadEvent>, n: number): Promise<ThreadEvent[]> {
  const it = stream[Symbol.asyncIterator]();
  const out: ThreadEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  await it.return?.();
  return out;
}

const started = { type: "turn.started", turnId: "t0" } as const;

describe("EventFanout warnings", () => {
  it("hands the warnings published before a subscription to it, after its first initial event", async () => {
    const fanout = new EventFanout();
    fanout.publish({ type: "warning", message: "torn line" });
    fanout.publish({ type: "turn.started", turnId: "ignored" });
    fanout.publish({ type: "warning", message: "session 3 is gone" });
    const first = fanout.subscribe({ initial: () => [started, { type: "turn.started", turnId: "t1" }] });
    const events = take(first, 4);
    expect(await events).toEqual([
      started,
      { type: "warning", message: "torn line", id: expect.any(String) as unknown },
      { type: "warning", message: "session 3 is gone", id: expect.any(String) as unknown },
      { type: "turn.started", turnId: "t1" },
    ]);
    // A later subscriber sees them too; one with no initial events gets them first.
    fanout.publish({ type: "warning", message: "later" });
    const second = fanout.subscribe();
    const again = await take(second, 3);
    expect(again.map((e) => (e.type === "warning" ? e.message : e.type))).toEqual(["torn line", "session 3 is gone", "later"]);
    // The same warning has the same id for every subscriber (a client that subscribes again tells it by that), and each its own.
    const ids = (es: ThreadEvent[]) => es.flatMap((e) => (e.type === "warning" ? [e.id] : []));
    expect(ids(again).slice(0, 2)).toEqual(ids(await events));
    expect(new Set(ids(again)).size).toBe(3);
    expect(new EventFanout().warnings()).toEqual([]);
  });

  it("keeps only the last warnings, saying how many were dropped", async () => {
    const fanout = new EventFanout();
    for (let i = 0; i < MAX_RETAINED_WARNINGS + 5; i++) fanout.publish({ type: "warning", message: `w${i}` });
    const kept = fanout.warnings();
    expect(kept).toHaveLength(MAX_RETAINED_WARNINGS + 1);
    expect(kept[0]!.message).toBe(`5 earlier warnings not kept (only the last ${MAX_RETAINED_WARNINGS} are)`);
    expect(kept[1]!.message).toBe("w5");
    expect(kept.at(-1)!.message).toBe(`w${MAX_RETAINED_WARNINGS + 4}`);
  });
});
