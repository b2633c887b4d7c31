import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Environment } from "./environment.js";
import { LazyEnvironment } from "./lazy-environment.js";
import { LocalEnvironment } from "./local-environment.js";

describe("LazyEnvironment", () => {
  it("opens once, at the first use, and then is the opened environment", async () => {
    let opens = 0;
    const lazy = new LazyEnvironment({ kind: "local", description: "this machine", sessionId: "s", open: async () => (opens++, LocalEnvironment.create()) });
    expect(lazy.started).toBe(false);
    const dir = await mkdtemp(path.join(tmpdir(), "tether-lazy-"));
    const file = path.join(dir, "f.txt");
    await writeFile(file, "0123456789abcdefghij");
    const [info] = await Promise.all([lazy.files.stat(file), lazy.info()]);
    expect(Number(info.size)).toBe(20);
    expect(opens).toBe(1);
    const opened = await lazy.ready();
    expect(lazy.session.sessionId).toBe(opened.session.sessionId);
    expect(lazy.description).toBe(opened.description);
    const chunks: Uint8Array[] = [];
    for await (const c of lazy.files.readFile(file, { length: 16 }).chunks) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe("0123456789abcdef");
    await lazy.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives every use the opening's own error, and closes without having opened", async () => {
    const lazy = new LazyEnvironment({ kind: "local", description: "d", sessionId: "s", open: () => Promise.reject(new TetherError(ErrorCode.Unavailable, "no core")) });
    lazy.start();
    await expect(lazy.processes.list()).rejects.toMatchObject({ code: ErrorCode.Unavailable, message: "no core" });
    const it = lazy.files.readDir("/")[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ message: "no core" });
    await lazy.close();
  });

  it("lists no processes before its opening starts, without opening (it opens new); after that, the opened environment's", async () => {
    let opens = 0;
    const listed = [{ processId: "p" }];
    const lazy = new LazyEnvironment({
      kind: "local",
      description: "d",
      sessionId: "s",
      open: async () => (opens++, { processes: { list: async () => listed } } as unknown as Environment),
    });
    await expect(lazy.processes.list({ labels: { thread: "t" } })).resolves.toEqual([]);
    expect(opens).toBe(0);
    expect(lazy.started).toBe(false);
    lazy.start();
    await expect(lazy.processes.list()).resolves.toBe(listed);
    expect(opens).toBe(1);
  });

  it("never opens after it was closed unopened", async () => {
    let opens = 0;
    const lazy = new LazyEnvironment({ kind: "local", description: "d", sessionId: "s", open: async () => (opens++, {} as Environment) });
    await lazy.close();
    await expect(lazy.session.setSandbox(undefined)).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
    expect(opens).toBe(0);
  });
});
