import * as grpc from "@grpc/grpc-js";
import { watch } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { addService } from "../../common/grpc-service.js";
import { createGrpcClient } from "../../common/grpc-client.js";
import { ErrorCode } from "../../common/tether-error.js";
import { FileSystemService, FileType, WatchEventKind } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import type { WriteFileRequestSchema } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { TEMP_PREFIX } from "../fs/atomic-write.js";
import { FileService } from "../fs/file-service.js";
import { FULL_ACCESS } from "../sandbox/file-access.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { fileSystemHandlers } from "./filesystem-handlers.js";
import { failure, collectAll as collect } from "../../../test/support/failure.js";

const connect = (address: string) => createGrpcClient(FileSystemService, address, grpc.credentials.createInsecure());
type WriteReq = MessageInitShape<typeof WriteFileRequestSchema>;



async function* messages(...reqs: WriteReq[]): AsyncGenerator<WriteReq> {
  yield* reqs;
}

/** Resolves once `ok(names in dir)` holds, checking now and on every change in `dir`. */
function onceInDir(dir: string, ok: (names: string[]) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      readdir(dir).then((names) => {
        if (!ok(names)) return;
        watcher.close();
        resolve();
      }, reject);
    };
    const watcher = watch(dir, check);
    check();
  });
}

/** Records the signal of the last WriteFile the server handled, to see what the server saw. */
class ObservedFiles extends FileService {
  lastWriteSignal: AbortSignal | undefined;
  override writeFile(...args: Parameters<FileService["writeFile"]>): ReturnType<FileService["writeFile"]> {
    this.lastWriteSignal = args[2].signal;
    return super.writeFile(...args);
  }
}

const header = (path: string, extra: Record<string, unknown> = {}): WriteReq => ({ part: { case: "header", value: { path, ...extra } } });
const data = (text: string | Uint8Array): WriteReq => ({ part: { case: "data", value: typeof text === "string" ? Buffer.from(text) : text } });
const end = (size: number): WriteReq => ({ part: { case: "end", value: { size: BigInt(size) } } });

describe("fileSystemHandlers over grpc-js", () => {
  let base: string;
  let root: string;
  let server: grpc.Server;
  let client: ReturnType<typeof connect>;
  const files = new ObservedFiles();
  const sessions: string[] = [];

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), "tether-fs-grpc-")));
    root = join(base, "root");
    await mkdir(root);
    await writeFile(join(base, "secret"), "top secret");
    const confined: FileAccessPolicy = {
      accessFor: (p) => (p === root || p.startsWith(root + "/") ? "write" : "none"),
      describe: () => `confined to ${root}`,
    };
    const policyFor = (sessionId: string) => {
      sessions.push(sessionId);
      return sessionId === "confined" ? confined : FULL_ACCESS;
    };
    server = new grpc.Server();
    addService(server, FileSystemService, fileSystemHandlers(files, policyFor));
    const address = `unix://${join(base, "fs.sock")}`;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    client = connect(address);
  });
  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await rm(base, { recursive: true, force: true });
  });

  it("writes, stats and reads a file back, in ranges too", async () => {
    const path = join(root, "hello world.txt");
    const res = await client.writeFile(messages(header(path, { mode: 0o600 }), data("hello "), data("world")));
    expect(res.info).toMatchObject({ path, type: FileType.FILE, size: 11n, mode: 0o600 });
    const st = await client.stat({ path });
    expect(st.info?.version).toBe(res.info?.version);
    expect(st.info?.mtimeMs).toBeGreaterThan(0n);
    const chunks = await collect(client.readFile({ path }));
    expect(chunks[0]?.info?.size).toBe(11n);
    expect(Buffer.concat(chunks.map((c) => c.data)).toString()).toBe("hello world");
    const range = await collect(client.readFile({ path, offset: 6n, length: 3n }));
    expect(range[0]?.offset).toBe(6n);
    expect(Buffer.concat(range.map((c) => c.data)).toString()).toBe("wor");
  });

  it("streams a multi-chunk file both ways", async () => {
    const path = join(root, "big.bin");
    const part = Buffer.alloc(300 * 1024, 7);
    await client.writeFile(messages(header(path), data(part), data(part), data(part)));
    const chunks = await collect(client.readFile({ path }));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.reduce((n, c) => n + c.data.byteLength, 0)).toBe(3 * part.byteLength);
  });

  it("refuses a WriteFile that does not start with a header, or sends two", async () => {
    const path = join(root, "bad");
    const noHeader = await failure(client.writeFile(messages(data("x"))));
    expect(noHeader.code).toBe(ErrorCode.InvalidArgument);
    expect(noHeader.message).toMatch(/first WriteFile message must be a header/);
    expect((await failure(client.writeFile(messages()))).code).toBe(ErrorCode.InvalidArgument);
    const twice = await failure(client.writeFile(messages(header(path), data("x"), header(path))));
    expect(twice.message).toMatch(/second header/);
    await expect(readFile(path)).rejects.toThrow();
  });

  it("commits nothing when the client cancels a WriteFile mid-stream", async () => {
    const dir = join(root, "cancel");
    await mkdir(dir);
    const path = join(dir, "target");
    await writeFile(path, "original");
    const ac = new AbortController();
    const tempAppeared = onceInDir(dir, (names) => names.some((n) => n.startsWith(TEMP_PREFIX)));
    let release!: () => void;
    const never = new Promise<void>((r) => (release = r));
    async function* stalled(): AsyncGenerator<WriteReq> {
      yield header(path);
      yield data(Buffer.alloc(64 * 1024, 1));
      await never;
    }
    const writing = client.writeFile(stalled(), { signal: ac.signal });
    await tempAppeared;
    const tempGone = onceInDir(dir, (names) => !names.some((n) => n.startsWith(TEMP_PREFIX)));
    ac.abort();
    expect((await failure(writing)).code).toBe(ErrorCode.Cancelled);
    await tempGone;
    release();
    expect(await readFile(path, "utf8")).toBe("original");
  });

  it("sees the client's cancel while data flows, and leaves neither the file nor a temp file", async () => {
    const dir = join(root, "cancel-flowing");
    await mkdir(dir);
    const path = join(dir, "target");
    const ac = new AbortController();
    const tempAppeared = onceInDir(dir, (names) => names.some((n) => n.startsWith(TEMP_PREFIX)));
    async function* endless(): AsyncGenerator<WriteReq> {
      yield header(path, { explicitEnd: true });
      while (!ac.signal.aborted) yield data(Buffer.alloc(64 * 1024, 2));
    }
    const writing = client.writeFile(endless(), { signal: ac.signal });
    await tempAppeared;
    const tempGone = onceInDir(dir, (names) => names.length === 0);
    ac.abort();
    expect((await failure(writing)).code).toBe(ErrorCode.Cancelled);
    await tempGone;
    expect(files.lastWriteSignal?.aborted).toBe(true);
    expect((files.lastWriteSignal?.reason as { code?: string }).code).toBe(ErrorCode.Cancelled);
  });

  it("commits only after the promised end message, whose size must match", async () => {
    const dir = join(root, "explicit-end");
    await mkdir(dir);
    const path = join(dir, "target");
    // Node's HTTP/2 client half-closes a stream before resetting it: a cancelled upload can
    // arrive as a clean end of stream. With explicit_end that is not a commit.
    const cut = await failure(client.writeFile(messages(header(path, { explicitEnd: true }), data("partial"))));
    expect(cut.code).toBe(ErrorCode.InvalidArgument);
    expect(cut.message).toMatch(/without the end message/);
    expect((await failure(client.writeFile(messages(header(path, { explicitEnd: true }), data("abc"), end(4))))).message).toMatch(/end\.size/);
    expect((await failure(client.writeFile(messages(header(path), data("abc"), end(3), data("d"))))).message).toMatch(/after the end message/);
    expect(await readdir(dir)).toEqual([]);
    const res = await client.writeFile(messages(header(path, { explicitEnd: true }), data("ab"), data("c"), end(3)));
    expect(res.info?.size).toBe(3n);
    expect(await readFile(path, "utf8")).toBe("abc");
    expect(await readdir(dir)).toEqual(["target"]);
  });

  it("maps expected_version mismatches and bad modes", async () => {
    const path = join(root, "versioned");
    const first = await client.writeFile(messages(header(path, { expectedVersion: "absent" }), data("1")));
    const err = await failure(client.writeFile(messages(header(path, { expectedVersion: "absent" }), data("2"))));
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(err.message).toContain(first.info!.version);
    const mode = await failure(client.writeFile(messages(header(path, { mode: 0o100644 }), data("2"))));
    expect(mode.code).toBe(ErrorCode.InvalidArgument);
    expect(mode.message).toMatch(/header.mode/);
    expect((await failure(client.makeDir({ path: join(root, "m"), mode: 0o40755 }))).message).toMatch(/^mode /);
  });

  it("makes, lists, copies, renames and removes", async () => {
    const dir = join(root, "tree");
    expect((await client.makeDir({ path: join(dir, "a", "b"), parents: true, mode: 0o700 })).info).toMatchObject({ type: FileType.DIRECTORY, mode: 0o700 });
    await client.writeFile(messages(header(join(dir, "a", "f.txt")), data("f")));
    const listing = (await collect(client.readDir({ path: dir, depth: 3 }))).flatMap((r) => r.entries.map((e) => e.name));
    expect(listing).toEqual(["a", "a/b", "a/f.txt"]);
    const copied = await client.copy({ source: dir, destination: join(root, "tree2"), recursive: true });
    expect(copied.info?.type).toBe(FileType.DIRECTORY);
    expect(await readFile(join(root, "tree2", "a", "f.txt"), "utf8")).toBe("f");
    const renamed = await client.rename({ source: join(root, "tree2"), destination: join(root, "tree3") });
    expect(renamed.info?.path).toBe(join(root, "tree3"));
    const notEmpty = await failure(client.remove({ path: join(root, "tree3") }));
    expect(notEmpty.code).toBe(ErrorCode.FailedPrecondition);
    await client.remove({ path: join(root, "tree3"), recursive: true });
    expect((await failure(client.stat({ path: join(root, "tree3") }))).code).toBe(ErrorCode.NotFound);
    await client.remove({ path: join(root, "tree3"), force: true });
  });

  it("canonicalizes through links", async () => {
    await mkdir(join(root, "real"), { recursive: true });
    await symlink(join(root, "real"), join(root, "alias"));
    expect((await client.canonicalize({ path: `${root}/alias/../alias/x` })).path).toBe(join(root, "real", "x"));
  });

  it("applies the session's file policy, naming it in the error", async () => {
    await symlink(base, join(root, "up"));
    const err = await failure(client.stat({ path: join(root, "up", "secret"), sessionId: "confined" }));
    expect(err.code).toBe(ErrorCode.PermissionDenied);
    expect(err.message).toContain(`confined to ${root}`);
    expect(sessions).toContain("confined");
    expect((await client.stat({ path: join(base, "secret") })).info?.size).toBe(10n);
  });

  it("answers bad input with InvalidArgument naming the field", async () => {
    expect((await failure(client.stat({ path: "" }))).message).toMatch(/^path is empty/);
    expect((await failure(client.stat({ path: "relative/x" }))).message).toMatch(/path must be absolute/);
    expect((await failure(client.stat({ path: `${root}/a\0b` }))).message).toMatch(/NUL/);
    expect((await failure(client.copy({ source: join(root, "x"), destination: "" }))).message).toMatch(/^destination is empty/);
    expect((await failure(client.rename({ source: "nope", destination: join(root, "y") }))).message).toMatch(/source must be absolute/);
    expect((await failure(collect(client.readFile({ path: root })))).code).toBe(ErrorCode.InvalidArgument);
    expect((await failure(collect(client.readFile({ path: join(root, "x"), offset: 2n ** 60n })))).message).toMatch(/^offset .* too large/);
    expect((await failure(collect(client.watch({ paths: [] })))).message).toMatch(/^paths is empty/);
    expect((await failure(collect(client.watch({ paths: ["rel"] })))).message).toMatch(/paths\[0\] must be absolute/);
  });

  it("watches: ready first, then changes, until the client cancels", async () => {
    const dir = join(root, "watched");
    await mkdir(dir);
    const ac = new AbortController();
    const it = client.watch({ paths: [dir], recursive: true }, { signal: ac.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value?.event.case).toBe("ready");
    await writeFile(join(dir, "new.txt"), "x");
    while (true) {
      const next = await it.next();
      expect(next.done).toBe(false);
      const ev = next.value!.event;
      if (ev.case === "change" && ev.value.path === join(dir, "new.txt") && ev.value.kind === WatchEventKind.CREATED) break;
    }
    ac.abort();
    await it.return?.();
  });
});
