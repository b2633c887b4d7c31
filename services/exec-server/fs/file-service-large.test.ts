// Memory stays flat for big files: 200 MiB written from a stream and read back in
// chunks must not grow the process by anything like the file size.
import { createHash } from "node:crypto";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileService } from "./file-service.js";

const MIB = 1024 * 1024;
const TOTAL_MIB = 200;
// Half the file: holding it whole would fail by far. RSS also counts this test's own 1 MiB
// chunks until the GC takes them (Node 24's young generation let 64 MiB be crossed once in CI).
const ALLOWED_GROWTH = TOTAL_MIB * MIB / 2;

describe("FileService with a 200 MiB file", () => {
  let root: string;
  const files = new FileService();
  const signal = new AbortController().signal;

  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "tether-large-")));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("streams the write and the read back with bounded memory growth", async () => {
    const path = join(root, "big.bin");
    const written = createHash("sha256");
    let peak = 0;
    const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < TOTAL_MIB; i++) {
        const chunk = Buffer.alloc(MIB, i % 251);
        written.update(chunk);
        sample();
        yield chunk;
      }
    }
    const before = process.memoryUsage().rss;
    const info = await files.writeFile({ path }, source(), { signal });
    expect(info.size).toBe(TOTAL_MIB * MIB);

    const read = createHash("sha256");
    let bytes = 0;
    for await (const chunk of files.readFile({ path }, { signal })) {
      read.update(chunk.data);
      bytes += chunk.data.byteLength;
      sample();
    }
    expect(bytes).toBe(TOTAL_MIB * MIB);
    expect(read.digest("hex")).toBe(written.digest("hex"));
    expect(peak - before).toBeLessThan(ALLOWED_GROWTH);
  });
});
