import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { WatchQueue } from "./watch-queue.js";

const live = () => new AbortController().signal;

describe("WatchQueue", () => {
  it("hands out changes in order and coalesces repeats of a path's latest change", async () => {
    const q = new WatchQueue(10);
    q.push("/a", "modified");
    q.push("/a", "modified");
    q.push("/b", "created");
    q.push("/a", "removed");
    q.push("/a", "created");
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await q.take(live()));
    expect(got).toEqual([
      { type: "change", path: "/a", change: "modified" },
      { type: "change", path: "/b", change: "created" },
      { type: "change", path: "/a", change: "removed" },
      { type: "change", path: "/a", change: "created" },
    ]);
    expect(q.size).toBe(0);
  });

  it("drops changes beyond capacity and reports the count after the queued ones", async () => {
    const q = new WatchQueue(2);
    for (let i = 0; i < 10; i++) q.push(`/f${i}`, "created");
    expect(q.size).toBe(2);
    expect((await q.take(live())).type).toBe("change");
    expect((await q.take(live())).type).toBe("change");
    expect(await q.take(live())).toEqual({ type: "overflow", dropped: 8 });
    q.push("/again", "modified");
    expect(await q.take(live())).toEqual({ type: "change", path: "/again", change: "modified" });
  });

  it("wakes a waiting consumer on push and rejects it on abort", async () => {
    const q = new WatchQueue(2);
    const waiting = q.take(live());
    q.push("/x", "created");
    expect(await waiting).toMatchObject({ path: "/x" });
    const ac = new AbortController();
    const pending = q.take(ac.signal);
    ac.abort(new TetherError(ErrorCode.Cancelled, "done"));
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });
});
