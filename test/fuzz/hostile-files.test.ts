// Structurally valid FileSystemService requests with hostile values: `..`, NUL,
// very long paths and names, symlink loops, links out of the workspace, special
// files, uint64 offsets, huge writes, broken WriteFile streams. Every call must get a
// typed status or a legitimate success, nothing outside the workspace may change, and
// the server must keep serving. Mutating calls only ever name paths inside this
// test's temp dir (or nonexistent ones), so a policy bug cannot damage the machine.
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { DescMethod } from "@bufbuild/protobuf";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CanonicalizeRequestSchema,
  CopyRequestSchema,
  FileSystemService,
  MakeDirRequestSchema,
  ReadDirRequestSchema,
  ReadFileRequestSchema,
  RemoveRequestSchema,
  RenameRequestSchema,
  StatRequestSchema,
  WatchRequestSchema,
  WriteFileRequestSchema,
} from "../../gen/tether/exec/v1/filesystem_pb.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { badUtf8, encode, encodeWithBadUtf8, hostileBytes, hostileId, hostileString, hostileUint32, hostileUint64 } from "../support/fuzz-arbitraries.js";
import { FuzzRawClient, rawField, untypedAnswers, FUZZ_CALL_TIMEOUT_MS } from "../support/fuzz-raw-client.js";
import { type FuzzServer, startFuzzServer } from "../support/fuzz-server.js";

const F = FileSystemService.method;
const FS_SESSION = "fuzz-files";
const SECRET = "outside the workspace: must never change";


describe("exec server with hostile file system requests", () => {
  let fuzz: FuzzServer;
  let raw: FuzzRawClient;
  let ws: string;
  let outside: string;
  let cases = 0;
  let readPath: fc.Arbitrary<string>;
  let mutPath: fc.Arbitrary<string>;
  let session: fc.Arbitrary<string>;
  /** Paths under the temp dir, where deep or recursive operations are cheap. */
  let local: (p: string) => boolean;

  async function property<T>(method: DescMethod, arb: fc.Arbitrary<T>, toBodies: (v: T) => fc.Arbitrary<Buffer[]> | Buffer[], runs: number) {
    const found = await untypedAnswers(raw, method, arb, toBodies, runs, () => cases++);
    expect(found.join("\n")).toBe("");
  }

  beforeAll(async () => {
    fuzz = await startFuzzServer();
    raw = new FuzzRawClient(fuzz.url);
    ws = join(fuzz.dir, "ws");
    outside = join(fuzz.dir, "outside");
    await mkdir(join(ws, "sub"), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, "secret"), SECRET);
    await writeFile(join(ws, "file"), "hello");
    await symlink(join(ws, "loop2"), join(ws, "loop1"));
    await symlink(join(ws, "loop1"), join(ws, "loop2"));
    await symlink(join(ws, "self"), join(ws, "self"));
    await symlink(outside, join(ws, "link-out"));
    await symlink("../outside/secret", join(ws, "rel-out"));
    await fuzz.clients.session.openSession({
      sessionId: FS_SESSION,
      defaultSandbox: { mode: SandboxMode.WORKSPACE_WRITE, writableRoots: [ws] },
    });
    const inDir = [
      ws, `${ws}/file`, `${ws}/sub`, `${ws}/sub/`, `${ws}/loop1`, `${ws}/loop1/x`, `${ws}/self`, `${ws}/self/x`, `${ws}/link-out`,
      `${ws}/link-out/secret`, `${ws}/link-out/new`, `${ws}/rel-out`, `${ws}/../outside/secret`, `${ws}/./file`, `${ws}//file`,
      `${ws}/sub/../file`, `${ws}/new`, `${ws}/new/deep/er`, `${ws}/file/child`, `${ws}/fi\0le`, `${ws}/${"x".repeat(300)}`,
      `${ws}/${"a/".repeat(2500)}b`, `${ws}/.tether-write-x`, outside, `${outside}/secret`, `${outside}/new`, fuzz.dir,
    ];
    // Not /proc/self/mem: reading it at an unmapped offset is EIO, which maps to INTERNAL
    // (fs-error.ts), and at a mapped one it reads the exec server's own memory; both
    // are reported to the file-service owner rather than hidden by the fuzz.
    const system = ["/etc/passwd", "/etc", "/proc/self/status", "/dev/zero", "/dev/null", "/nonexistent", "/", "", "relative", "..", "\0"];
    local = (p) => p.startsWith(fuzz.dir + "/") || p === fuzz.dir;
    const wsRandom = fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("..")).map((s) => `${ws}/${s}`);
    readPath = fc.oneof(
      { arbitrary: fc.constantFrom(...inDir, ...system), weight: 4 },
      { arbitrary: wsRandom, weight: 2 },
      { arbitrary: hostileString, weight: 2 },
    );
    // Mutations: only the temp dir, or relative names without `..` (resolved against it).
    mutPath = fc.oneof(
      { arbitrary: fc.constantFrom(...inDir, "", "\0", "relative", `/nonexistent/${"y".repeat(10)}`), weight: 4 },
      { arbitrary: wsRandom, weight: 2 },
      { arbitrary: fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("..") && !s.startsWith("/") && !s.startsWith("~")), weight: 1 },
    );
    session = fc.oneof({ arbitrary: fc.constant(FS_SESSION), weight: 5 }, { arbitrary: fc.constant(""), weight: 1 }, { arbitrary: hostileId, weight: 1 });
  });

  afterAll(async () => {
    raw?.close();
    await fuzz?.close();
    console.log(`hostile file system fuzz: ${cases} cases`);
  });

  it("Stat, Canonicalize: path tricks", async () => {
    await property(F.stat, fc.record({ path: readPath, noFollow: fc.boolean(), sessionId: session }), (r) => encodeWithBadUtf8(StatRequestSchema, [1, 3])(r).map((b) => [b]), 150);
    await property(F.canonicalize, fc.record({ path: readPath, sessionId: session }), (r) => encodeWithBadUtf8(CanonicalizeRequestSchema, [1, 2])(r).map((b) => [b]), 120);
  });

  it("ReadFile: uint64 offsets and lengths, special files", async () => {
    const req = fc.record({ path: readPath, offset: hostileUint64, length: hostileUint64, sessionId: session });
    await property(F.readFile, req, (r) => encodeWithBadUtf8(ReadFileRequestSchema, [1, 4])(r).map((b) => [b]), 150);
  });

  it("ReadDir and Watch: loops, depth extremes", async () => {
    const readDir = readPath.chain((path) =>
      fc.record({ path: fc.constant(path), depth: local(path) ? hostileUint32 : fc.integer({ min: 0, max: 1 }), sessionId: session }),
    );
    await property(F.readDir, readDir, (r) => encodeWithBadUtf8(ReadDirRequestSchema, [1, 3])(r).map((b) => [b]), 120);
    const watch = fc.array(readPath, { maxLength: 3 }).chain((paths) =>
      fc.record({ paths: fc.constant(paths), recursive: paths.every(local) ? fc.boolean() : fc.constant(false), sessionId: session }),
    );
    await property(F.watch, watch, (r) => encodeWithBadUtf8(WatchRequestSchema, [1, 3])(r).map((b) => [b]), 80);
  });

  it("WriteFile: hostile headers, huge data, broken streams", async () => {
    const header = fc.record({ path: mutPath, mode: hostileUint32, createParents: fc.boolean(), expectedVersion: fc.oneof(fc.constant(""), hostileString), sessionId: session });
    const shape = fc.constantFrom("normal", "normal", "normal", "no-header", "two-headers", "empty-part", "bad-utf8-path");
    const req = fc.record({ header, shape, data: fc.array(hostileBytes(3 << 20), { maxLength: 3 }) });
    await property(F.writeFile, req, (r) => {
      const h = encode(WriteFileRequestSchema, { part: { case: "header", value: r.header } });
      const parts = r.data.map((d) => encode(WriteFileRequestSchema, { part: { case: "data", value: d } }));
      switch (r.shape) {
        case "no-header":
          return [...parts, h];
        case "two-headers":
          return [h, ...parts, h];
        case "empty-part":
          return [h, Buffer.alloc(0), ...parts];
        case "bad-utf8-path":
          return badUtf8.map((bad) => [Buffer.concat([h, rawField(1, rawField(1, bad))]), ...parts]);
        default:
          return [h, ...parts];
      }
    }, 150);
  });

  it("MakeDir, Remove: hostile modes and paths", async () => {
    const mk = fc.record({ path: mutPath, parents: fc.boolean(), mode: hostileUint32, sessionId: session });
    await property(F.makeDir, mk, (r) => encodeWithBadUtf8(MakeDirRequestSchema, [1, 4])(r).map((b) => [b]), 120);
    const rm = fc.record({ path: mutPath, recursive: fc.boolean(), force: fc.boolean(), sessionId: session });
    await property(F.remove, rm, (r) => encodeWithBadUtf8(RemoveRequestSchema, [1, 4])(r).map((b) => [b]), 120);
  });

  it("Copy, Rename: sources and destinations that alias, loop or escape", async () => {
    const copy = fc
      .record({ source: fc.oneof(mutPath, fc.constantFrom("/etc/passwd", "/dev/zero", "/proc/self/status")), destination: mutPath, overwrite: fc.boolean(), sessionId: session })
      .chain((r) => fc.record({ recursive: local(r.source) ? fc.boolean() : fc.constant(false) }).map((x) => ({ ...r, ...x })));
    await property(F.copy, copy, (r) => encodeWithBadUtf8(CopyRequestSchema, [1, 2, 5])(r).map((b) => [b]), 120);
    const rename = fc.record({ source: mutPath, destination: mutPath, overwrite: fc.boolean(), sessionId: session });
    await property(F.rename, rename, (r) => encodeWithBadUtf8(RenameRequestSchema, [1, 2, 4])(r).map((b) => [b]), 120);
  });

  it("answers a denial whose details carry a non-ASCII path (grpc-js refuses such metadata)", async () => {
    const h = encode(WriteFileRequestSchema, { part: { case: "header", value: { path: `${outside}/é-\u{10ffff}`, sessionId: FS_SESSION } } });
    const res = await raw.call(F.writeFile, [h, encode(WriteFileRequestSchema, { part: { case: "data", value: Buffer.from("x") } })], FUZZ_CALL_TIMEOUT_MS);
    expect(grpc.status[res.code]).toBe("PERMISSION_DENIED");
  });

  it("keeps serving, and nothing outside the workspace changed", async () => {
    expect(await fuzz.healthy()).toBe(true);
    expect(await readFile(join(outside, "secret"), "utf8")).toBe(SECRET);
    const { files, process } = fuzz.clients;
    await files.stat({ path: join(outside, "secret") });
    await process.start({ processId: "after-files-fuzz", spec: { argv: ["true"] } });
    expect((await process.wait({ processId: "after-files-fuzz" })).status?.code).toBe(0);
  });
});
