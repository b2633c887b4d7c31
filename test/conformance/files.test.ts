// Files on every backend: each FileOps call, a 64 MiB round trip streamed both ways,
// names that are hard to get right, policy refusals and the error codes all agree on.
import { createHash } from "node:crypto";
import v8 from "node:v8";
import vm from "node:vm";
import { expect, it } from "vitest";
import { FileType, WatchEventKind } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { FileAccess, SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { Environment } from "../../clients/environment/environment.js";
import { ErrorCode } from "../../services/common/tether-error.js";
import { enc, failure, forEachBackend, run } from "./conformance-kit.js";

async function readAll(env: Environment, path: string, opts: { offset?: number; length?: number } = {}): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of env.files.readFile(path, opts).chunks) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

async function names(env: Environment, path: string, depth = 1): Promise<string[]> {
  const out: string[] = [];
  for await (const e of env.files.readDir(path, { depth })) out.push(e.name);
  return out.sort();
}

const MIB = 1 << 20;

// Live buffers, not garbage waiting for a collection: what "held in memory" means.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
function liveBuffers(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** 64 different 1 MiB chunks, made as they are sent: never the whole file in memory. */
async function* bigFile(chunks: number, hash: ReturnType<typeof createHash>, peak: { bytes: number }): AsyncIterable<Uint8Array> {
  const base = Buffer.alloc(MIB);
  for (let i = 0; i < MIB; i += 4) base.writeUInt32LE((i * 2654435761) >>> 0, i);
  for (let i = 0; i < chunks; i++) {
    const chunk = Buffer.from(base);
    chunk.writeUInt32LE(i, 0);
    hash.update(chunk);
    if (i % 8 === 7) peak.bytes = Math.max(peak.bytes, liveBuffers());
    yield chunk;
  }
}

forEachBackend("files", (ctx) => {
  it("writes, stats, reads ranges, lists, copies, renames and removes", async () => {
    const { env, dir } = ctx;
    const file = `${dir}/ops/a/b/hello.txt`;
    const written = await env.files.writeFile({ path: file, createParents: true, mode: 0o600 }, enc("hello, world\n"));
    expect(written.type).toBe(FileType.FILE);
    expect(written.size).toBe(13n);
    expect(written.mode & 0o777).toBe(0o600);
    const info = await env.files.stat(file);
    expect(info.version).toBe(written.version);
    expect(await readAll(env, file)).toBe("hello, world\n");
    expect(await readAll(env, file, { offset: 7, length: 5 })).toBe("world");
    const read = env.files.readFile(file);
    for await (const _ of read.chunks) {
      // drained only to get the info
    }
    expect((await read.info).size).toBe(13n);

    expect((await env.files.makeDir(`${dir}/ops/x/y`, { parents: true })).type).toBe(FileType.DIRECTORY);
    expect(await names(env, `${dir}/ops`)).toEqual(["a", "x"]);
    expect(await names(env, `${dir}/ops`, 3)).toEqual(["a", "a/b", "a/b/hello.txt", "x", "x/y"]);

    await env.files.copy(`${dir}/ops/a`, `${dir}/ops/c`, { recursive: true });
    expect(await readAll(env, `${dir}/ops/c/b/hello.txt`)).toBe("hello, world\n");
    await env.files.rename(`${dir}/ops/c/b/hello.txt`, `${dir}/ops/c/moved.txt`);
    expect(await names(env, `${dir}/ops/c`)).toEqual(["b", "moved.txt"]);
    expect((await failure(env.files.rename(`${dir}/ops/c/moved.txt`, file))).code).toBe(ErrorCode.AlreadyExists);
    await env.files.rename(`${dir}/ops/c/moved.txt`, file, { overwrite: true });

    await env.files.writeFile({ path: `${dir}/ops/target.txt` }, enc("t"));
    await run(env, { argv: ["ln", "-s", "target.txt", `${dir}/ops/link`] });
    expect(await env.files.canonicalize(`${dir}/ops/x/../link`)).toBe(`${dir}/ops/target.txt`);
    const link = await env.files.stat(`${dir}/ops/link`, { noFollow: true });
    expect(link.type).toBe(FileType.SYMLINK);
    expect(link.symlinkTarget).toBe("target.txt");

    expect((await failure(env.files.remove(`${dir}/ops/a`))).code).toBe(ErrorCode.FailedPrecondition);
    await env.files.remove(`${dir}/ops`, { recursive: true });
    await env.files.remove(`${dir}/ops`, { force: true });
    expect((await failure(env.files.stat(`${dir}/ops`))).code).toBe(ErrorCode.NotFound);
  });

  it("checks the expected version before replacing a file", async () => {
    const { env, dir } = ctx;
    const path = `${dir}/versioned.txt`;
    const v1 = await env.files.writeFile({ path, expectedVersion: "absent" }, enc("one"));
    expect((await failure(env.files.writeFile({ path, expectedVersion: "absent" }, enc("x")))).code).toBe(ErrorCode.FailedPrecondition);
    const v2 = await env.files.writeFile({ path, expectedVersion: v1.version }, enc("two"));
    const stale = await failure(env.files.writeFile({ path, expectedVersion: v1.version }, enc("three")));
    expect(stale.code).toBe(ErrorCode.FailedPrecondition);
    expect(await readAll(env, path)).toBe("two");
    expect(v2.version).not.toBe(v1.version);
  });

  it("handles unicode and odd names", async () => {
    const { env, dir } = ctx;
    const odd = ["héllo wörld ✓.txt", "emoji 🎉", " leading space", "-dash", "quote'\"`$(x)", "new\nline", "日本語"];
    await env.files.makeDir(`${dir}/odd`);
    for (const name of odd) await env.files.writeFile({ path: `${dir}/odd/${name}` }, enc(`content of ${name}`));
    expect(await names(env, `${dir}/odd`)).toEqual([...odd].sort());
    for (const name of odd) expect(await readAll(env, `${dir}/odd/${name}`)).toBe(`content of ${name}`);
    // The process sees the same names the file API wrote.
    const ls = await run(env, { argv: ["ls", "-1", "--quoting-style=literal", `${dir}/odd`], env: { LC_ALL: "C.UTF-8" } });
    expect(ls.stdout).toContain("日本語\n");
    expect(ls.stdout).toContain("héllo wörld ✓.txt\n");
  });

  it("watches a directory: ready first, then changes", async () => {
    const { env, dir } = ctx;
    await env.files.makeDir(`${dir}/watched`);
    const abort = new AbortController();
    const it = env.files.watch([`${dir}/watched`], { signal: abort.signal })[Symbol.asyncIterator]();
    try {
      expect((await it.next()).value).toEqual({ ready: true });
      await env.files.writeFile({ path: `${dir}/watched/new.txt` }, enc("x"));
      for (;;) {
        const ev = (await it.next()).value as { path?: string; kind?: WatchEventKind };
        if (ev.path === `${dir}/watched/new.txt` && (ev.kind === WatchEventKind.CREATED || ev.kind === WatchEventKind.MODIFIED)) break;
      }
    } finally {
      abort.abort();
      await it.return?.();
    }
  });

  it("streams a 64 MiB file up and down with matching checksums and bounded memory", async () => {
    const { env, dir } = ctx;
    const path = `${dir}/big.bin`;
    const up = createHash("sha256");
    const before = liveBuffers();
    const peak = { bytes: before };
    const info = await env.files.writeFile({ path }, bigFile(64, up, peak));
    expect(info.size).toBe(64n * BigInt(MIB));
    const upPeak = peak.bytes - before;
    const down = createHash("sha256");
    let size = 0;
    let sampled = 0;
    for await (const chunk of env.files.readFile(path).chunks) {
      down.update(chunk);
      size += chunk.byteLength;
      if (size - sampled >= 8 * MIB) {
        sampled = size;
        peak.bytes = Math.max(peak.bytes, liveBuffers());
      }
    }
    expect(size).toBe(64 * MIB);
    const hex = up.digest("hex");
    expect(down.digest("hex")).toBe(hex);
    // The environment's own view agrees.
    const sum = await run(env, { argv: ["sha256sum", path] });
    expect(sum.stdout.split(" ")[0]).toBe(hex);
    // Held whole, the file alone would add 64 MiB of live buffers. What streaming may hold:
    // grpc-js queues up to 16 messages (1 MiB each) per call before write() asks to wait,
    // plus what HTTP/2 and the socket hold, so about 35 MiB was seen on upload.
    expect({ upload: upPeak < 48 * MIB, both: peak.bytes - before < 48 * MIB }, `peak live buffers: upload ${upPeak}, overall ${peak.bytes - before}`).toEqual({ upload: true, both: true });
  });

  it("answers bad file input with the same codes", async () => {
    const { env, dir } = ctx;
    await env.files.writeFile({ path: `${dir}/exists.txt` }, enc("x"));
    const codes = {
      missingStat: (await failure(env.files.stat(`${dir}/missing`))).code,
      missingRead: (await failure(() => env.files.readFile(`${dir}/missing`).chunks)).code,
      relativeStat: (await failure(env.files.stat("relative/path"))).code,
      relativeWrite: (await failure(env.files.writeFile({ path: "relative.txt" }, enc("x")))).code,
      nulByte: (await failure(env.files.stat(`${dir}/a\0b`))).code,
      readDirectory: (await failure(() => env.files.readFile(dir).chunks)).code,
      readDirOnFile: (await failure(() => env.files.readDir(`${dir}/exists.txt`))).code,
      makeDirExists: (await failure(env.files.makeDir(`${dir}/exists.txt`))).code,
      makeDirNoParent: (await failure(env.files.makeDir(`${dir}/no/parent`))).code,
      writeNoParent: (await failure(env.files.writeFile({ path: `${dir}/no/parent.txt` }, enc("x")))).code,
      removeMissing: (await failure(env.files.remove(`${dir}/missing`))).code,
      copyMissing: (await failure(env.files.copy(`${dir}/missing`, `${dir}/copy`))).code,
    };
    expect(codes).toEqual({
      missingStat: ErrorCode.NotFound,
      missingRead: ErrorCode.NotFound,
      relativeStat: ErrorCode.InvalidArgument,
      relativeWrite: ErrorCode.InvalidArgument,
      nulByte: ErrorCode.InvalidArgument,
      readDirectory: ErrorCode.InvalidArgument,
      readDirOnFile: ErrorCode.InvalidArgument,
      makeDirExists: ErrorCode.AlreadyExists,
      makeDirNoParent: ErrorCode.NotFound,
      writeNoParent: ErrorCode.NotFound,
      removeMissing: ErrorCode.NotFound,
      copyMissing: ErrorCode.NotFound,
    });
  });

  it("refuses writes under a read-only session sandbox, in the file API and in processes", async () => {
    // Sandboxes hide /tmp unless a rule brings a path back: this one makes our dir readable.
    const readOnly = await ctx.openSession({
      defaultSandbox: { mode: SandboxMode.READ_ONLY, fileRules: [{ pattern: ctx.dir, access: FileAccess.READ }] },
    });
    const path = `${ctx.dir}/readonly-${Date.now()}.txt`;
    expect((await failure(readOnly.files.writeFile({ path }, enc("x")))).code).toBe(ErrorCode.PermissionDenied);
    expect((await failure(readOnly.files.makeDir(`${path}.d`))).code).toBe(ErrorCode.PermissionDenied);
    await ctx.env.files.writeFile({ path }, enc("kept"));
    expect((await failure(readOnly.files.remove(path))).code).toBe(ErrorCode.PermissionDenied);
    expect(await readAll(readOnly, path)).toBe("kept");
    const proc = await run(readOnly, { argv: ["sh", "-c", `echo x > '${path}'`], cwd: ctx.dir });
    expect(proc.exit.code).not.toBe(0);
    expect(await readAll(ctx.env, path)).toBe("kept");
  });
});
