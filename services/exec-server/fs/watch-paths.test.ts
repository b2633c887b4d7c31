import { mkdir, mkdtemp, realpath, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { FileService } from "./file-service.js";
import type { WatchItem } from "./watch-queue.js";

/** Pulls items until `until` matches one; returns everything seen. */
async function waitFor(it: AsyncIterator<WatchItem>, until: (item: WatchItem) => boolean): Promise<WatchItem[]> {
  const seen: WatchItem[] = [];
  while (true) {
    const next = await it.next();
    if (next.done) throw new Error(`watch ended before the expected event; saw ${JSON.stringify(seen)}`);
    seen.push(next.value);
    if (until(next.value)) return seen;
  }
}

const change = (path: string, kind: string) => (item: WatchItem) => item.type === "change" && item.path === path && item.change === kind;

describe("FileService.watch", () => {
  let root: string;
  let ac: AbortController;
  const files = new FileService();

  beforeEach(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "tether-watch-")));
    ac = new AbortController();
  });
  afterEach(async () => {
    ac.abort(new TetherError(ErrorCode.Cancelled, "test over"));
    await rm(root, { recursive: true, force: true });
  });

  it("sends ready first, then created, modified and removed changes", async () => {
    const it = files.watch({ paths: [root] }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "ready" });
    const f = join(root, "f.txt");
    await writeFile(f, "1");
    await waitFor(it, change(f, "created"));
    await writeFile(f, "22");
    await waitFor(it, change(f, "modified"));
    await unlink(f);
    await waitFor(it, change(f, "removed"));
  });

  it("follows new subdirectories when recursive, without following symlinked ones", async () => {
    const outside = await realpath(await mkdtemp(join(tmpdir(), "tether-watch-out-")));
    try {
      await mkdir(join(root, "pre", "deep"), { recursive: true });
      await symlink(outside, join(root, "out"));
      const it = files.watch({ paths: [root], recursive: true }, { signal: ac.signal })[Symbol.asyncIterator]();
      expect((await it.next()).value).toEqual({ type: "ready" });
      await writeFile(join(root, "pre", "deep", "a"), "a");
      await waitFor(it, change(join(root, "pre", "deep", "a"), "created"));
      await mkdir(join(root, "new"));
      await waitFor(it, change(join(root, "new"), "created"));
      await writeFile(join(root, "new", "b"), "b");
      await waitFor(it, change(join(root, "new", "b"), "created"));
      // A change behind the symlink must not show up; the marker after it proves order.
      await writeFile(join(outside, "hidden"), "h");
      await writeFile(join(root, "marker"), "m");
      const seen = await waitFor(it, change(join(root, "marker"), "created"));
      expect(seen.some((i) => i.type === "change" && i.path.includes("hidden"))).toBe(false);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("hides the temp files of atomic writes, reporting only the target", async () => {
    const it = files.watch({ paths: [root] }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "ready" });
    const target = join(root, "atomic.txt");
    async function* data(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("content");
    }
    await files.writeFile({ path: target }, data(), { signal: ac.signal });
    await writeFile(join(root, "marker"), "m");
    const seen = await waitFor(it, change(join(root, "marker"), "created"));
    expect(seen.some((i) => i.type === "change" && i.path === target)).toBe(true);
    expect(seen.filter((i) => i.type === "change" && i.path !== target && !i.path.endsWith("marker"))).toEqual([]);
  });

  it("ends the stream when the signal aborts", async () => {
    const it = files.watch({ paths: [root] }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "ready" });
    const pending = it.next();
    ac.abort(new TetherError(ErrorCode.Cancelled, "stop"));
    expect((await pending).done).toBe(true);
  });

  it("coalesces into an overflow count when the consumer lags", async () => {
    const small = new FileService({ watchQueueCapacity: 5 });
    const it = small.watch({ paths: [root] }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "ready" });
    // Not pulling while 50 files appear: the queue must cap, not grow.
    for (let i = 0; i < 50; i++) await writeFile(join(root, `f${i}`), "x");
    await writeFile(join(root, "last"), "x");
    const seen = await waitFor(it, (i) => i.type === "overflow");
    expect(seen.filter((i) => i.type === "change").length).toBeLessThanOrEqual(5);
    expect(seen.at(-1)).toMatchObject({ type: "overflow", roots: [root] });
    expect((seen.at(-1) as { dropped: number }).dropped).toBeGreaterThan(0);
  });

  it("refuses a missing path and an empty list", async () => {
    await expect(files.watch({ paths: [join(root, "nope")] }, { signal: ac.signal }).next()).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(files.watch({ paths: [] }, { signal: ac.signal }).next()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
