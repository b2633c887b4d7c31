import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RolloutStore, metaRecord } from "./rollout-store.js";
import type { ThreadInfo } from "./thread-event.js";

const info = (threadId: string, updatedAt: string): ThreadInfo => ({
  threadId,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt,
  cwd: "/w",
  environment: "local",
  model: "m",
  sandbox: "workspace-write",
  approvalPolicy: "never",
  preview: "",
});

describe("RolloutStore index", () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), "tether-store-"));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("notes a thread before the index is loaded without reading it, and lists it with the stored ones and a rollout the index lacked", async () => {
    const store = new RolloutStore(home);
    await store.init();
    const indexed = info("thread_a", "2026-01-01T00:00:01.000Z");
    const unindexed = info("thread_b", "2026-01-01T00:00:02.000Z");
    await writeFile(path.join(store.dir, "index.jsonl"), `${JSON.stringify(indexed)}\n`);
    await writeFile(store.pathFor("thread_b"), `${JSON.stringify(metaRecord(unindexed))}\n`);
    const fresh = info("thread_c", "2026-01-01T00:00:03.000Z");
    await store.noteThread(fresh);
    // Only the line was appended: the lost thread_b is found at the first listing, not before.
    expect((await readFile(path.join(store.dir, "index.jsonl"), "utf8")).trim().split("\n").map((l) => (JSON.parse(l) as ThreadInfo).threadId)).toEqual(["thread_a", "thread_c"]);
    const newer = { ...fresh, updatedAt: "2026-01-01T00:00:04.000Z" };
    await Promise.all([store.noteThread(newer), store.list()]);
    expect((await store.list()).map((t) => [t.threadId, t.updatedAt])).toEqual([
      ["thread_c", newer.updatedAt],
      ["thread_b", unindexed.updatedAt],
      ["thread_a", indexed.updatedAt],
    ]);
    // A fresh store (another process) reads the same from the file alone.
    expect((await new RolloutStore(home).list()).map((t) => [t.threadId, t.updatedAt])).toEqual([
      ["thread_c", newer.updatedAt],
      ["thread_b", unindexed.updatedAt],
      ["thread_a", indexed.updatedAt],
    ]);
  });
});
