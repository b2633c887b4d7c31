import { describe, expect, it } from "vitest";
import { type Clock, Stopwatch } from "./stopwatch.js";

/** A manual clock: time moves only when the test says so. */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextId = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = until;
  };
  return { clock, advance };
}

describe("Stopwatch", () => {
  it("fires once the running time reaches the limit", () => {
    const { clock, advance } = manualClock();
    let fired = 0;
    using _sw = new Stopwatch(100, () => fired++, clock);
    advance(99);
    expect(fired).toBe(0);
    advance(1);
    expect(fired).toBe(1);
    advance(1000);
    expect(fired).toBe(1);
  });

  it("does not count time while paused", () => {
    const { clock, advance } = manualClock();
    let fired = 0;
    using sw = new Stopwatch(100, () => fired++, clock);
    advance(60);
    sw.pause();
    advance(10_000);
    expect(fired).toBe(0);
    expect(sw.elapsedMs).toBe(60);
    sw.resume();
    advance(39);
    expect(fired).toBe(0);
    advance(1);
    expect(fired).toBe(1);
  });

  it("restarts the count on touch (idle timeouts)", () => {
    const { clock, advance } = manualClock();
    let fired = 0;
    using sw = new Stopwatch(100, () => fired++, clock);
    for (let i = 0; i < 10; i++) {
      advance(90);
      sw.touch();
    }
    expect(fired).toBe(0);
    advance(100);
    expect(fired).toBe(1);
  });

  it("never fires after dispose", () => {
    const { clock, advance } = manualClock();
    let fired = 0;
    const sw = new Stopwatch(100, () => fired++, clock);
    sw[Symbol.dispose]();
    advance(1000);
    expect(fired).toBe(0);
  });
});
