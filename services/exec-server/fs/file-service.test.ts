import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { TEMP_PREFIX } from "./atomic-write.js";
import { FileService } from "./file-service.js";
import type { DirEntry } from "./read-dir.js";
import { failure, collectAll as collect } from "../../../test/support/failure.js";

function rootPolicy(root: string, readOnly: string[] = []): FileAccessPolicy {
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");
  return {
    accessFor: (p) => (readOnly.some((d) => under(p, d)) ? "read" : under(p, root) ? "write" : "none"),
    describe: () => `test policy (root: ${root})`,
  };
}



async function* bytes(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? Buffer.from(p) : p;
}

const ODD_NAMES = ["with space.txt", "new\nline", "-leading-dash", "ünïcødé-日本語-🙂.md", "'quote\"s", "a\\b"];

describe("FileService", () => {
  let base: string;
  let root: string;
  let outside: string;
  let files: FileService;
  let signal: AbortSignal;
  let policy: FileAccessPolicy;

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), "tether-fs-")));
    root = join(base, "root");
    outside = join(base, "outside");
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, "secret"), "top secret");
    policy = rootPolicy(root);
    files = new FileService({ defaultPolicy: policy });
    signal = new AbortController().signal;
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const read = async (path: string, offset = 0, length = 0) => {
    const chunks = await collect(files.readFile({ path, offset, length }, { signal }));
    return Buffer.concat(chunks.map((c) => c.data)).toString();
  };
  const tempsIn = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));

  describe("stat", () => {
    it("describes files, directories and links, with a version that changes on write", async () => {
      const f = join(root, "f.txt");
      await writeFile(f, "hello");
      await chmod(f, 0o600);
      const info = await files.stat({ path: f }, { signal });
      expect(info).toMatchObject({ path: f, type: "file", size: 5, mode: 0o600 });
      expect(info.mtimeMs).toBeGreaterThan(0);
      await writeFile(f, "hello!");
      expect((await files.stat({ path: f }, { signal })).version).not.toBe(info.version);
      expect((await files.stat({ path: root }, { signal })).type).toBe("directory");
      await symlink("f.txt", join(root, "l"));
      expect(await files.stat({ path: join(root, "l"), noFollow: true }, { signal })).toMatchObject({ type: "symlink", symlinkTarget: "f.txt" });
      expect((await files.stat({ path: join(root, "l") }, { signal })).type).toBe("file");
    });

    it("reports a missing path as NotFound naming it", async () => {
      const err = await failure(files.stat({ path: join(root, "nope") }, { signal }));
      expect(err.code).toBe(ErrorCode.NotFound);
      expect(err.message).toContain(join(root, "nope"));
    });

    it("refuses paths outside the policy, through links or `..`", async () => {
      await symlink("/", join(root, "slash"));
      for (const p of [join(outside, "secret"), join(root, "slash", "etc", "passwd"), `${root}/../outside/secret`]) {
        const err = await failure(files.stat({ path: p }, { signal }));
        expect(err.code).toBe(ErrorCode.PermissionDenied);
        expect(err.message).toContain("test policy");
      }
    });
  });

  describe("readFile", () => {
    it("streams a file, with the FileStat only on the first chunk", async () => {
      const service = new FileService({ defaultPolicy: policy, readChunkBytes: 4 });
      const f = join(root, "f");
      await writeFile(f, "0123456789");
      const chunks = await collect(service.readFile({ path: f }, { signal }));
      expect(chunks.map((c) => Buffer.from(c.data).toString())).toEqual(["0123", "4567", "89"]);
      expect(chunks.map((c) => c.offset)).toEqual([0, 4, 8]);
      expect(chunks[0]!.info?.size).toBe(10);
      expect(chunks.slice(1).every((c) => c.info === undefined)).toBe(true);
    });

    it("reads byte ranges, and an empty file or a range past the end as one empty chunk with info", async () => {
      const f = join(root, "f");
      await writeFile(f, "0123456789");
      expect(await read(f, 3, 4)).toBe("3456");
      expect(await read(f, 8)).toBe("89");
      const past = await collect(files.readFile({ path: f, offset: 100 }, { signal }));
      expect(past).toHaveLength(1);
      expect(past[0]!.data.byteLength).toBe(0);
      await writeFile(join(root, "empty"), "");
      const empty = await collect(files.readFile({ path: join(root, "empty") }, { signal }));
      expect(empty).toHaveLength(1);
      expect(empty[0]!.info?.size).toBe(0);
    });

    it("refuses a directory with InvalidArgument", async () => {
      const err = await failure(collect(files.readFile({ path: root }, { signal })));
      expect(err.code).toBe(ErrorCode.InvalidArgument);
      expect(err.message).toMatch(/is a directory/);
    });

    it("refuses NUL bytes and relative paths before touching anything", async () => {
      expect((await failure(collect(files.readFile({ path: `${root}/a\0b` }, { signal })))).code).toBe(ErrorCode.InvalidArgument);
      expect((await failure(collect(files.readFile({ path: "etc/passwd" }, { signal })))).message).toMatch(/path must be absolute/);
    });

    it("does not read through a symlink that leaves the allowed root", async () => {
      await symlink(join(outside, "secret"), join(root, "innocent.txt"));
      expect((await failure(collect(files.readFile({ path: join(root, "innocent.txt") }, { signal })))).code).toBe(ErrorCode.PermissionDenied);
    });
  });

  describe("writeFile", () => {
    it("creates a new file with mode 0644 by default, or the given mode", async () => {
      const info = await files.writeFile({ path: join(root, "a.txt") }, bytes("a", "b"), { signal });
      expect(info).toMatchObject({ type: "file", size: 2, mode: 0o644 });
      expect(await readFile(join(root, "a.txt"), "utf8")).toBe("ab");
      await files.writeFile({ path: join(root, "x.sh"), mode: 0o750 }, bytes("#!/bin/sh\n"), { signal });
      expect((await stat(join(root, "x.sh"))).mode & 0o777).toBe(0o750);
    });

    it("keeps an existing file's mode", async () => {
      const f = join(root, "keep");
      await writeFile(f, "old");
      await chmod(f, 0o600);
      await files.writeFile({ path: f, mode: 0o777 }, bytes("new"), { signal });
      expect((await stat(f)).mode & 0o777).toBe(0o600);
      expect(await readFile(f, "utf8")).toBe("new");
    });

    it("writes and reads back odd and unicode names", async () => {
      for (const name of ODD_NAMES) {
        const p = join(root, name);
        await files.writeFile({ path: p }, bytes(`content of ${name}`), { signal });
        expect(await read(p)).toBe(`content of ${name}`);
      }
      const listed = (await collect(files.readDir({ path: root }, { signal }))).flat().map((e) => e.name);
      expect(listed.sort()).toEqual([...ODD_NAMES].sort());
    });

    it("needs create_parents for a missing directory", async () => {
      const p = join(root, "a", "b", "c.txt");
      const err = await failure(files.writeFile({ path: p }, bytes("x"), { signal }));
      expect(err.code).toBe(ErrorCode.NotFound);
      expect(err.message).toMatch(/pass create_parents/);
      await files.writeFile({ path: p, createParents: true }, bytes("x"), { signal });
      expect(await readFile(p, "utf8")).toBe("x");
    });

    it("writes through a symlink inside the root to its target", async () => {
      await writeFile(join(root, "target"), "old");
      await symlink("target", join(root, "link"));
      await files.writeFile({ path: join(root, "link") }, bytes("new"), { signal });
      expect((await lstat(join(root, "link"))).isSymbolicLink()).toBe(true);
      expect(await readFile(join(root, "target"), "utf8")).toBe("new");
    });

    it("refuses to write through a dangling link or a linked dir pointing outside", async () => {
      await symlink(join(outside, "planted"), join(root, "dangling"));
      await symlink(outside, join(root, "out"));
      for (const p of [join(root, "dangling"), join(root, "out", "new"), join(root, "out", "secret")]) {
        expect((await failure(files.writeFile({ path: p }, bytes("x"), { signal }))).code).toBe(ErrorCode.PermissionDenied);
      }
      await expect(stat(join(outside, "planted"))).rejects.toThrow();
      expect(await readFile(join(outside, "secret"), "utf8")).toBe("top secret");
    });

    it("refuses a path the policy only lets us read", async () => {
      const ro = join(root, "ro");
      await mkdir(ro);
      await writeFile(join(ro, "f"), "keep");
      const err = await failure(files.writeFile({ path: join(ro, "f") }, bytes("x"), { signal, policy: rootPolicy(root, [ro]) }));
      expect(err.code).toBe(ErrorCode.PermissionDenied);
      expect(err.message).toContain(join(ro, "f"));
      expect(await read(join(ro, "f"))).toBe("keep");
    });

    it("refuses writing onto a directory", async () => {
      expect((await failure(files.writeFile({ path: root }, bytes("x"), { signal }))).code).toBe(ErrorCode.InvalidArgument);
    });

    it("honours expected_version: absent, matching and mismatching", async () => {
      const f = join(root, "v");
      const created = await files.writeFile({ path: f, expectedVersion: "absent" }, bytes("1"), { signal });
      const again = await failure(files.writeFile({ path: f, expectedVersion: "absent" }, bytes("2"), { signal }));
      expect(again.code).toBe(ErrorCode.FailedPrecondition);
      const second = await files.writeFile({ path: f, expectedVersion: created.version }, bytes("22"), { signal });
      const stale = await failure(files.writeFile({ path: f, expectedVersion: created.version }, bytes("333"), { signal }));
      expect(stale.code).toBe(ErrorCode.FailedPrecondition);
      expect(stale.message).toContain(created.version);
      expect(stale.message).toContain(second.version);
      expect(await read(f)).toBe("22");
      expect(await tempsIn(root)).toEqual([]);
    });

    it("checks the version again right before renaming", async () => {
      const f = join(root, "race");
      const first = await files.writeFile({ path: f }, bytes("1"), { signal });
      async function* racing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from("mine");
        // Someone else writes while our data is still streaming.
        await writeFile(f, "theirs");
      }
      const err = await failure(files.writeFile({ path: f, expectedVersion: first.version }, racing(), { signal }));
      expect(err.code).toBe(ErrorCode.FailedPrecondition);
      expect(await read(f)).toBe("theirs");
      expect(await tempsIn(root)).toEqual([]);
    });

    it("leaves the target unchanged and no temp file when aborted mid-write", async () => {
      const f = join(root, "atomic");
      await writeFile(f, "original");
      const ac = new AbortController();
      let release!: () => void;
      const stalled = new Promise<void>((r) => (release = r));
      let sent!: () => void;
      const firstSent = new Promise<void>((r) => (sent = r));
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(100_000, 1);
        sent();
        await stalled; // never released before the abort
        yield Buffer.alloc(100_000, 2);
      }
      const writing = files.writeFile({ path: f }, slow(), { signal: ac.signal });
      await firstSent;
      ac.abort(new TetherError(ErrorCode.Cancelled, "client went away"));
      const err = await failure(writing);
      expect(err.code).toBe(ErrorCode.Cancelled);
      release();
      expect(await readFile(f, "utf8")).toBe("original");
      expect(await tempsIn(root)).toEqual([]);
    });

    it("leaves the target unchanged and no temp file when the data source fails", async () => {
      const f = join(root, "atomic2");
      await writeFile(f, "original");
      async function* broken(): AsyncGenerator<Uint8Array> {
        yield Buffer.from("partial");
        throw new TetherError(ErrorCode.DataLoss, "stream broke");
      }
      expect((await failure(files.writeFile({ path: f }, broken(), { signal }))).code).toBe(ErrorCode.DataLoss);
      expect(await readFile(f, "utf8")).toBe("original");
      expect(await tempsIn(root)).toEqual([]);
    });
  });

  describe("makeDir", () => {
    it("creates a directory with exact mode, and parents when asked", async () => {
      const d = join(root, "d");
      expect(await files.makeDir({ path: d, mode: 0o700 }, { signal })).toMatchObject({ type: "directory", mode: 0o700 });
      expect((await failure(files.makeDir({ path: d }, { signal }))).code).toBe(ErrorCode.AlreadyExists);
      await files.makeDir({ path: d, parents: true }, { signal });
      const deep = join(root, "x", "y", "z");
      expect((await failure(files.makeDir({ path: deep }, { signal }))).message).toMatch(/pass parents/);
      expect((await files.makeDir({ path: deep, parents: true }, { signal })).mode).toBe(0o755);
    });

    it("refuses outside the policy", async () => {
      expect((await failure(files.makeDir({ path: join(outside, "d") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
    });
  });

  describe("readDir", () => {
    beforeEach(async () => {
      await mkdir(join(root, "b", "c", "d"), { recursive: true });
      await writeFile(join(root, "a.txt"), "a");
      await writeFile(join(root, "b", "x"), "x");
      await writeFile(join(root, "b", "c", "y"), "y");
      await symlink(outside, join(root, "z-out"));
    });
    const names = (batches: DirEntry[][]) => batches.flat().map((e) => e.name);

    it("lists one level, sorted, with links as links", async () => {
      const batches = await collect(files.readDir({ path: root }, { signal }));
      expect(names(batches)).toEqual(["a.txt", "b", "z-out"]);
      expect(batches.flat().find((e) => e.name === "z-out")?.info).toMatchObject({ type: "symlink", symlinkTarget: outside });
    });

    it("descends to the given depth without following symlinked directories", async () => {
      expect(names(await collect(files.readDir({ path: root, depth: 3 }, { signal })))).toEqual([
        "a.txt", "b", "b/c", "b/c/d", "b/c/y", "b/x", "z-out",
      ]);
    });

    it("streams in bounded batches", async () => {
      const service = new FileService({ defaultPolicy: policy, readDirBatch: 2 });
      const batches = await collect(service.readDir({ path: root, depth: 10 }, { signal }));
      expect(batches.every((b) => b.length <= 2)).toBe(true);
      expect(names(batches)).toHaveLength(7);
    });

    it("refuses a file with InvalidArgument", async () => {
      expect((await failure(collect(files.readDir({ path: join(root, "a.txt") }, { signal })))).code).toBe(ErrorCode.InvalidArgument);
    });

    it("skips what the policy hides", async () => {
      const p: FileAccessPolicy = { accessFor: (x) => (x.endsWith("/b") ? "none" : "write"), describe: () => "hide b" };
      expect(names(await collect(files.readDir({ path: root, depth: 5 }, { signal, policy: p })))).toEqual(["a.txt", "z-out"]);
    });
  });

  describe("remove", () => {
    it("removes files; needs recursive for non-empty directories; force ignores missing", async () => {
      await writeFile(join(root, "f"), "x");
      await files.remove({ path: join(root, "f") }, { signal });
      await expect(stat(join(root, "f"))).rejects.toThrow();
      const missing = await failure(files.remove({ path: join(root, "f") }, { signal }));
      expect(missing.code).toBe(ErrorCode.NotFound);
      await files.remove({ path: join(root, "f"), force: true }, { signal });
      await mkdir(join(root, "d", "e"), { recursive: true });
      const notEmpty = await failure(files.remove({ path: join(root, "d") }, { signal }));
      expect(notEmpty.code).toBe(ErrorCode.FailedPrecondition);
      expect(notEmpty.message).toMatch(/directory not empty: pass recursive/);
      await files.remove({ path: join(root, "d", "e") }, { signal });
      await files.remove({ path: join(root, "d"), recursive: true }, { signal });
      expect(await readdir(root)).toEqual([]);
    });

    it("removes a link, not what it points to", async () => {
      await symlink(outside, join(root, "out"));
      await files.remove({ path: join(root, "out"), recursive: true }, { signal });
      expect(await readFile(join(outside, "secret"), "utf8")).toBe("top secret");
      await expect(lstat(join(root, "out"))).rejects.toThrow();
    });

    it("removes nothing of a tree when a path inside is read-only under the policy", async () => {
      await mkdir(join(root, "repo", ".git"), { recursive: true });
      await writeFile(join(root, "repo", ".git", "HEAD"), "ref");
      await writeFile(join(root, "repo", "a"), "a");
      const p = rootPolicy(root, [join(root, "repo", ".git")]);
      expect((await failure(files.remove({ path: join(root, "repo"), recursive: true }, { signal, policy: p }))).code).toBe(ErrorCode.PermissionDenied);
      expect(await readFile(join(root, "repo", "a"), "utf8")).toBe("a");
    });

    it("refuses outside the policy, including via `..`", async () => {
      expect((await failure(files.remove({ path: `${root}/../outside/secret` }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
      expect(await readFile(join(outside, "secret"), "utf8")).toBe("top secret");
    });
  });

  describe("copy", () => {
    it("copies a file preserving mode, refusing to overwrite unless asked", async () => {
      await writeFile(join(root, "s"), "src");
      await chmod(join(root, "s"), 0o751);
      const info = await files.copy({ source: join(root, "s"), destination: join(root, "d") }, { signal });
      expect(info).toMatchObject({ size: 3, mode: 0o751 });
      expect((await failure(files.copy({ source: join(root, "s"), destination: join(root, "d") }, { signal }))).code).toBe(ErrorCode.AlreadyExists);
      await writeFile(join(root, "s"), "src2");
      await files.copy({ source: join(root, "s"), destination: join(root, "d"), overwrite: true }, { signal });
      expect(await readFile(join(root, "d"), "utf8")).toBe("src2");
    });

    it("copies trees only with recursive, keeping links as links", async () => {
      await mkdir(join(root, "t", "sub"), { recursive: true });
      await writeFile(join(root, "t", "sub", "f"), "f");
      await symlink("sub/f", join(root, "t", "l"));
      expect((await failure(files.copy({ source: join(root, "t"), destination: join(root, "u") }, { signal }))).message).toMatch(/pass recursive/);
      await files.copy({ source: join(root, "t"), destination: join(root, "u"), recursive: true }, { signal });
      expect(await readFile(join(root, "u", "sub", "f"), "utf8")).toBe("f");
      expect(await readlink(join(root, "u", "l"))).toBe("sub/f");
      expect((await failure(files.copy({ source: join(root, "t"), destination: join(root, "t", "sub", "in") , recursive: true }, { signal }))).code).toBe(ErrorCode.InvalidArgument);
    });

    it("cannot copy a secret out through a link, or into a place outside the root", async () => {
      await symlink(join(outside, "secret"), join(root, "l"));
      expect((await failure(files.copy({ source: join(root, "l"), destination: join(root, "stolen") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
      await writeFile(join(root, "f"), "f");
      expect((await failure(files.copy({ source: join(root, "f"), destination: join(outside, "f") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
    });
  });

  describe("rename", () => {
    it("renames, refusing to overwrite unless asked", async () => {
      await writeFile(join(root, "a"), "a");
      await writeFile(join(root, "b"), "b");
      expect((await failure(files.rename({ source: join(root, "a"), destination: join(root, "b") }, { signal }))).code).toBe(ErrorCode.AlreadyExists);
      const info = await files.rename({ source: join(root, "a"), destination: join(root, "b"), overwrite: true }, { signal });
      expect(info).toMatchObject({ path: join(root, "b"), size: 1 });
      expect(await readFile(join(root, "b"), "utf8")).toBe("a");
      expect((await failure(files.rename({ source: join(root, "a"), destination: join(root, "c") }, { signal }))).code).toBe(ErrorCode.NotFound);
    });

    it("renames a link itself, and refuses moving a directory into itself", async () => {
      await symlink(outside, join(root, "l"));
      await files.rename({ source: join(root, "l"), destination: join(root, "m") }, { signal });
      expect(await readlink(join(root, "m"))).toBe(outside);
      await mkdir(join(root, "d"));
      expect((await failure(files.rename({ source: join(root, "d"), destination: join(root, "d", "e") }, { signal }))).code).toBe(ErrorCode.InvalidArgument);
    });

    it("refuses moving anything out of the allowed root", async () => {
      await writeFile(join(root, "f"), "f");
      expect((await failure(files.rename({ source: join(root, "f"), destination: join(outside, "f") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
      expect((await failure(files.rename({ source: join(outside, "secret"), destination: join(root, "s") }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
    });
  });

  describe("canonicalize", () => {
    it("resolves symlinks and `..`, also for paths that do not exist yet", async () => {
      await mkdir(join(root, "real"));
      await symlink("real", join(root, "l"));
      expect(await files.canonicalize({ path: `${root}/l/../l/new` }, { signal })).toBe(join(root, "real", "new"));
      expect((await failure(files.canonicalize({ path: `${root}/../outside` }, { signal }))).code).toBe(ErrorCode.PermissionDenied);
      expect((await failure(files.canonicalize({ path: "rel" }, { signal }))).code).toBe(ErrorCode.InvalidArgument);
    });
  });

  describe("escapes", () => {
    it("refuses every operation reaching outside the root through a link or `..`", async () => {
      await symlink(outside, join(root, "out"));
      await symlink("/", join(root, "slash"));
      await writeFile(join(root, "mine"), "mine");
      const ways = [join(root, "out"), `${root}/../outside`, `${root}/slash${outside}`, `${root}/./out/../../outside`];
      for (const dir of ways) {
        const secret = `${dir}/secret`;
        const attempts: [string, () => Promise<unknown>][] = [
          ["stat", () => files.stat({ path: secret }, { signal })],
          ["readFile", () => collect(files.readFile({ path: secret }, { signal }))],
          ["writeFile", () => files.writeFile({ path: secret }, bytes("pwned"), { signal })],
          ["writeFile new", () => files.writeFile({ path: `${dir}/new`, createParents: true }, bytes("x"), { signal })],
          ["makeDir", () => files.makeDir({ path: `${dir}/d`, parents: true }, { signal })],
          ["readDir", () => collect(files.readDir({ path: dir }, { signal }))],
          ["remove", () => files.remove({ path: secret }, { signal })],
          ["copy out", () => files.copy({ source: join(root, "mine"), destination: `${dir}/copied` }, { signal })],
          ["copy in", () => files.copy({ source: secret, destination: join(root, "stolen") }, { signal })],
          ["rename out", () => files.rename({ source: join(root, "mine"), destination: `${dir}/moved` }, { signal })],
          ["rename in", () => files.rename({ source: secret, destination: join(root, "stolen") }, { signal })],
          ["canonicalize", () => files.canonicalize({ path: secret }, { signal })],
          ["watch", () => files.watch({ paths: [dir] }, { signal }).next()],
        ];
        for (const [op, attempt] of attempts) {
          const err = await failure(attempt());
          expect(`${op} ${dir}: ${ErrorCode[err.code]}`).toBe(`${op} ${dir}: PermissionDenied`);
        }
      }
      expect((await readdir(outside)).sort()).toEqual(["secret"]);
      expect(await readFile(join(outside, "secret"), "utf8")).toBe("top secret");
      expect(await readFile(join(root, "mine"), "utf8")).toBe("mine");
    });
  });
});
