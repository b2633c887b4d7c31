// Real-kernel failure cases: a full disk and a read-only file system, on small tmpfs
// mounts. Mounting needs root (CAP_SYS_ADMIN); without it these tests are skipped with
// the reason printed, and fail in CI.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../common/tether-error.js";
import { TEMP_PREFIX } from "./atomic-write.js";
import { FileService } from "./file-service.js";
import { skipTestOutsideCi } from "../../../test/support/ci-must-run.js";
import { failure } from "../../../test/support/failure.js";

function tryMount(dir: string, options: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}

function unmount(dir: string): void {
  execFileSync("umount", [dir], { stdio: "pipe" });
}

async function* megabytes(n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n * 4; i++) yield Buffer.alloc(256 * 1024, 0x61);
}


describe("FileService on real tmpfs mounts", () => {
  let base: string;
  let small: string;
  let readonly: string;
  let skipReason: string | undefined;
  const mounted: string[] = [];
  const files = new FileService();
  const signal = new AbortController().signal;

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), "tether-mounts-")));
    small = join(base, "small");
    readonly = join(base, "ro");
    await mkdir(small);
    await mkdir(readonly);
    skipReason = tryMount(small, "size=1m");
    if (skipReason) return;
    mounted.push(small);
    skipReason = tryMount(readonly, "size=1m");
    if (skipReason) return;
    mounted.push(readonly);
    await writeFile(join(readonly, "existing"), "before");
    execFileSync("mount", ["-o", "remount,ro", readonly], { stdio: "pipe" });
  });
  afterAll(async () => {
    for (const m of mounted) unmount(m);
    await rm(base, { recursive: true, force: true });
  });

  it("reports a full disk as ResourceExhausted and leaves no temp file", async (ctx) => {
    skipTestOutsideCi(ctx, skipReason, "tmpfs mount tests");
    await writeFile(join(small, "keep"), "kept");
    const target = join(small, "big");
    const err = await failure(files.writeFile({ path: target }, megabytes(2), { signal }));
    expect(err.code).toBe(ErrorCode.ResourceExhausted);
    expect(err.message).toContain(`disk full while writing ${target}`);
    expect((await readdir(small)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
    expect(await readdir(small)).toEqual(["keep"]);
    // The space is back: a small write succeeds.
    await files.writeFile({ path: target }, megabytes(0.25), { signal });
  });

  it("reports a read-only file system as PermissionDenied and keeps the file", async (ctx) => {
    skipTestOutsideCi(ctx, skipReason, "tmpfs mount tests");
    const target = join(readonly, "existing");
    async function* data(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("after");
    }
    const err = await failure(files.writeFile({ path: target }, data(), { signal }));
    expect(err.code).toBe(ErrorCode.PermissionDenied);
    expect(err.message).toMatch(/read-only file system/);
    expect(await readFile(target, "utf8")).toBe("before");
    expect((await failure(files.makeDir({ path: join(readonly, "d") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
  });

  it("falls back to copy and remove when renaming across file systems", async (ctx) => {
    skipTestOutsideCi(ctx, skipReason, "tmpfs mount tests");
    await mkdir(join(small, "tree", "sub"), { recursive: true });
    await writeFile(join(small, "tree", "sub", "f"), "moved");
    const dest = join(base, "moved-tree");
    await files.rename({ source: join(small, "tree"), destination: dest }, { signal });
    expect(await readFile(join(dest, "sub", "f"), "utf8")).toBe("moved");
    expect((await readdir(small)).includes("tree")).toBe(false);
  });
});
