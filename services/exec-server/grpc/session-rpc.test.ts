import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessState, TimeoutKind } from "../../../gen/tether/exec/v1/process_pb.js";
import type { EventsResponse } from "../../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { type Harness, failure, startHarness } from "../../../test/support/exec-harness.js";

let h: Harness;
let n = 0;
const id = (what: string) => `${what}-${++n}`;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Opens an Events stream and resolves once its `ready` event arrived; `next` reads on. */
async function attachEvents(sessionId: string) {
  const abort = new AbortController();
  const it = h.clients.sessions.events({ sessionId }, { signal: abort.signal })[Symbol.asyncIterator]();
  const next = async (): Promise<EventsResponse> => {
    const r = await it.next();
    if (r.done) throw new Error("events stream ended");
    return r.value;
  };
  const first = await next();
  expect(first.event.case).toBe("ready");
  return {
    next,
    detach: async () => {
      abort.abort();
      await it.return?.().catch(() => undefined);
    },
  };
}

/** Resolves with `fallback` when `p` has not settled after `ms` (observing that something did NOT happen). */
function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

describe("SessionService", () => {
  it("elicitation pauses a wall-timeout stopwatch; the timeout fires only after the count returns to 0", async () => {
    const s = h.clients.sessions;
    const p = h.clients.processes;
    const { sessionId } = await s.openSession({ sessionId: id("elicit") });
    const events = await attachEvents(sessionId);
    const pid = id("elicit-sleep");
    await p.start({ processId: pid, sessionId, spec: { argv: ["sleep", "30"], timeouts: { wallMs: 800, killGraceMs: 200 } } });
    expect((await s.incrementElicitation({ sessionId })).count).toBe(1);
    const changed = await events.next();
    expect(changed.event).toEqual(expect.objectContaining({ case: "elicitation" }));

    const waited = p.wait({ processId: pid });
    // Well past the 800 ms wall limit: a running stopwatch would have fired by now.
    expect(await within(waited, 2000, "still running")).toBe("still running");
    const [info] = (await p.list({ sessionId })).processes;
    expect(info).toMatchObject({ processId: pid, state: ProcessState.RUNNING, paused: true });

    expect((await s.decrementElicitation({ sessionId })).count).toBe(0);
    const status = (await waited).status!;
    expect(status).toMatchObject({ timedOut: true, timeoutKind: TimeoutKind.WALL, signal: 15 });
    expect(Number(status.wallTimeMs)).toBeGreaterThan(2000);
    await events.detach();
    await s.closeSession({ sessionId });
  });

  it("starts a process paused when its session is already eliciting", async () => {
    const s = h.clients.sessions;
    const p = h.clients.processes;
    const { sessionId } = await s.openSession({ sessionId: id("paused-start") });
    await s.incrementElicitation({ sessionId });
    const pid = id("paused-sleep");
    const started = await p.start({ processId: pid, sessionId, spec: { argv: ["sleep", "30"], timeouts: { wallMs: 300, killGraceMs: 100 } } });
    expect(started.process?.paused).toBe(true);
    const waited = p.wait({ processId: pid });
    expect(await within(waited, 1200, "still running")).toBe("still running");
    await s.decrementElicitation({ sessionId });
    expect((await waited).status).toMatchObject({ timedOut: true, timeoutKind: TimeoutKind.WALL });
    await s.closeSession({ sessionId });
  });

  it("counts nested elicitations and refuses a decrement at 0 with FAILED_PRECONDITION", async () => {
    const s = h.clients.sessions;
    const { sessionId } = await s.openSession({ sessionId: id("count") });
    const zero = await failure(s.decrementElicitation({ sessionId }));
    expect(zero.code).toBe(ErrorCode.FailedPrecondition);
    expect(zero.message).toMatch(/0|zero/);
    expect((await s.incrementElicitation({ sessionId })).count).toBe(1);
    expect((await s.incrementElicitation({ sessionId })).count).toBe(2);
    expect((await s.decrementElicitation({ sessionId })).count).toBe(1);
    expect((await s.decrementElicitation({ sessionId })).count).toBe(0);
    expect((await failure(s.decrementElicitation({ sessionId }))).code).toBe(ErrorCode.FailedPrecondition);
    await s.closeSession({ sessionId });
  });

  it("kills the session's processes when it stays detached past its TTL", async () => {
    const s = h.clients.sessions;
    const p = h.clients.processes;
    const opened = await s.openSession({ sessionId: id("ttl"), detachedTtlMs: 300 });
    expect(opened).toMatchObject({ resumed: false, detachedTtlMs: 300 });
    const { sessionId } = opened;
    const events = await attachEvents(sessionId);
    const pid = id("ttl-sleep");
    await p.start({ processId: pid, sessionId, spec: { argv: ["sleep", "30"] } });
    const waited = p.wait({ processId: pid });
    const detachedAt = Date.now();
    await events.detach();
    const status = (await waited).status!;
    expect(Date.now() - detachedAt).toBeGreaterThanOrEqual(250);
    expect(status).toMatchObject({ signal: 9, timedOut: false });
    expect(status.reason).toMatch(/session expired/);
    // The session is gone: opening the same id makes a new one.
    expect((await s.openSession({ sessionId, detachedTtlMs: 300 })).resumed).toBe(false);
    await s.closeSession({ sessionId });
  });

  it("keeps the processes when the session is resumed within its TTL; CloseSession kills them", async () => {
    const s = h.clients.sessions;
    const p = h.clients.processes;
    const { sessionId } = await s.openSession({ sessionId: id("resume"), detachedTtlMs: 1500 });
    const events = await attachEvents(sessionId);
    const pid = id("resume-sleep");
    const started = await p.start({ processId: pid, sessionId, spec: { argv: ["sleep", "30"] } });
    await events.detach();

    const resumed = await s.openSession({ sessionId, detachedTtlMs: 1500 });
    expect(resumed).toMatchObject({ sessionId, resumed: true });
    const again = await attachEvents(sessionId);
    // Attached again: well past the TTL the process must still be there.
    const waited = p.wait({ processId: pid });
    expect(await within(waited, 2500, "still running")).toBe("still running");
    const [info] = (await p.list({ sessionId })).processes;
    expect(info).toMatchObject({ processId: pid, pid: started.process!.pid, state: ProcessState.RUNNING });

    expect((await s.closeSession({ sessionId })).processesKilled).toBe(1);
    expect((await waited).status).toMatchObject({ signal: 9, reason: "the session was closed" });
    await expect(again.next()).rejects.toThrow();
    const gone = await failure(s.incrementElicitation({ sessionId }));
    expect(gone.code).toBe(ErrorCode.NotFound);
  });

  it("refuses a process for a session that does not exist", async () => {
    const err = await failure(h.clients.processes.start({ processId: id("orphan"), sessionId: "no-such-session", spec: { argv: ["true"] } }));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.message).toMatch(/no-such-session/);
  });
});
