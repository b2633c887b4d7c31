import { mkdtemp, mkdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { PathResolver } from "./path-resolver.js";

/** Write under `root`, read under `readOnly`, nothing elsewhere. */
function rootPolicy(root: string, readOnly: string[] = []): FileAccessPolicy {
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");
  return {
    accessFor: (p) => (readOnly.some((d) => under(p, d)) ? "read" : under(p, root) ? "write" : "none"),
    describe: () => `test policy (root: ${root})`,
  };
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    expect(err).toBeInstanceOf(TetherError);
    return (err as TetherError).code;
  }
}

describe("PathResolver", () => {
  let base: string;
  let root: string;
  let outside: string;
  let r: PathResolver;

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), "tether-resolve-")));
    root = join(base, "root");
    outside = join(base, "outside");
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, "secret"), "s");
    r = new PathResolver(rootPolicy(root));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it("rejects empty, relative and NUL-carrying paths naming the field", async () => {
    await expect(r.resolve("", "source", "read")).rejects.toThrow(/source is empty/);
    await expect(r.resolve("a/b", "path", "read")).rejects.toThrow(/path must be absolute/);
    await expect(r.resolve("/a\0b", "destination", "read")).rejects.toThrow(/destination contains a NUL byte/);
    expect(await codeOf(r.resolve("./x", "path", "read"))).toBe(ErrorCode.InvalidArgument);
  });

  it("resolves a not-yet-existing path under a symlinked directory to its physical place", async () => {
    await mkdir(join(root, "real"));
    await symlink(join(root, "real"), join(root, "link"));
    expect(await r.resolve(join(root, "link", "new", "file.txt"), "path", "write")).toBe(join(root, "real", "new", "file.txt"));
  });

  it("refuses a symlink pointing outside the allowed root, even for a new file beneath it", async () => {
    await symlink("/", join(root, "to-root"));
    await symlink(outside, join(root, "to-outside"));
    expect(await codeOf(r.resolve(join(root, "to-root", "etc", "passwd"), "path", "read"))).toBe(ErrorCode.PermissionDenied);
    expect(await codeOf(r.resolve(join(root, "to-outside", "secret"), "path", "read"))).toBe(ErrorCode.PermissionDenied);
    expect(await codeOf(r.resolve(join(root, "to-outside", "new"), "path", "write"))).toBe(ErrorCode.PermissionDenied);
  });

  it("follows a dangling symlink to its target instead of treating it as a new name", async () => {
    await symlink(join(outside, "planted"), join(root, "dangling"));
    await expect(r.resolve(join(root, "dangling"), "path", "write")).rejects.toThrow(/write access to .*outside\/planted is not allowed/);
  });

  it("resolves `..` after a symlink physically, as the kernel does", async () => {
    await mkdir(join(outside, "inner"));
    await symlink(join(outside, "inner"), join(root, "hop"));
    // Lexically this is root/secret (allowed); physically it is outside/secret.
    expect(await codeOf(r.resolve(join(root, "hop") + "/../secret", "path", "read"))).toBe(ErrorCode.PermissionDenied);
    expect(await codeOf(r.resolve(`${root}/../outside/secret`, "path", "read"))).toBe(ErrorCode.PermissionDenied);
    expect(await r.resolve(`${root}/a/../b`, "path", "write")).toBe(join(root, "b"));
  });

  it("resolves relative symlink targets with `..` against the link's directory", async () => {
    await mkdir(join(root, "d"));
    await symlink("../../outside/secret", join(root, "d", "rel"));
    expect(await codeOf(r.resolve(join(root, "d", "rel"), "path", "read"))).toBe(ErrorCode.PermissionDenied);
    await symlink("../target", join(root, "d", "ok"));
    expect(await r.resolve(join(root, "d", "ok"), "path", "write")).toBe(join(root, "target"));
  });

  it("gives InvalidArgument for symlink loops", async () => {
    await symlink(join(root, "b"), join(root, "a"));
    await symlink(join(root, "a"), join(root, "b"));
    expect(await codeOf(r.resolve(join(root, "a"), "path", "read"))).toBe(ErrorCode.InvalidArgument);
  });

  it("checks a link's own location for link operations, not its target", async () => {
    await symlink(join(outside, "secret"), join(root, "link"));
    expect(await r.resolveLink(join(root, "link"), "path", "write")).toBe(join(root, "link"));
    await expect(r.resolve(join(root, "link"), "path", "write")).rejects.toThrow(/not allowed by the file policy \(test policy/);
  });

  it("grants read but not write on a read-only subtree", async () => {
    const ro = join(root, "ro");
    await mkdir(ro);
    const rr = new PathResolver(rootPolicy(root, [ro]));
    expect(await rr.resolve(join(ro, "f"), "path", "read")).toBe(join(ro, "f"));
    expect(await codeOf(rr.resolve(join(ro, "f"), "path", "write"))).toBe(ErrorCode.PermissionDenied);
  });
});
