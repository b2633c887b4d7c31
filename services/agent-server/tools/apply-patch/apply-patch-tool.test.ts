// apply_patch against a real in-process exec server: files change only through the
// Environment's file API, concurrent changes are refused, and a failed multi-file patch
// leaves every file as it was.
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Environment, FileOps } from "../../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../../clients/environment/local-environment.js";
import { fakeToolContext } from "../../../../test/support/fake-tool-context.js";
import { buildToolRegistry } from "../tool-registry.js";
import { sessionSandboxFor } from "../../thread-environment.js";
import { applyPatchTool } from "./apply-patch-tool.js";

let env: Environment;
let root: string;
let dir: string;
let n = 0;
const registry = buildToolRegistry([applyPatchTool()]);

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tether-patch-"));
  env = await LocalEnvironment.create({ defaultCwd: root });
});
afterAll(async () => {
  await env?.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = path.join(root, `t${++n}`);
  await env.files.makeDir(dir, { parents: true });
});

const patch = (...lines: string[]) => ["*** Begin Patch", ...lines, "*** End Patch"].join("\n");
const read = (p: string) => readFile(path.join(dir, p), "utf8");
const exists = (p: string) => stat(path.join(dir, p)).then(() => true, () => false);
const call = (text: string, ctx = fakeToolContext({ env, cwd: dir })) => registry.call("apply_patch", JSON.stringify({ input: text }), ctx).then((r) => ({ ...r, ctx }));

/** An environment whose file reads run `afterRead(path)` once a file was read: a concurrent writer. */
function interleaved(afterRead: (p: string) => Promise<void>): Environment {
  const files: FileOps = {
    ...env.files,
    readFile(p, opts) {
      const r = env.files.readFile(p, opts);
      async function* chunks(): AsyncIterable<Uint8Array> {
        yield* r.chunks;
        await afterRead(p);
      }
      return { info: r.info, chunks: chunks() };
    },
  };
  return { ...env, files, processes: env.processes, session: env.session, info: env.info.bind(env), close: env.close.bind(env), kind: env.kind, description: env.description, [Symbol.asyncDispose]: () => env.close() };
}

describe("apply_patch on a LocalEnvironment", () => {
  it("adds, updates, moves and deletes files, with a diff per hunk", async () => {
    await writeFile(path.join(dir, "keep.py"), "def f():\n    return 1\n\ndef g():\n    return 2\n");
    await writeFile(path.join(dir, "old.txt"), "bye\n");
    await writeFile(path.join(dir, "from.txt"), "one\ntwo\n", { mode: 0o755 });
    const r = await call(
      patch(
        "*** Add File: sub/new.txt",
        "+hello",
        "*** Update File: keep.py",
        "@@ def g():",
        "-    return 2",
        "+    return 22",
        "*** Update File: from.txt",
        "*** Move to: moved/to.txt",
        "@@",
        " one",
        "-two",
        "+TWO",
        "*** Delete File: old.txt",
      ),
    );
    expect(r).toMatchObject({ success: true, output: "Success. Updated the following files:\nA sub/new.txt\nM keep.py\nR from.txt -> moved/to.txt\nD old.txt\n" });
    expect(await read("sub/new.txt")).toBe("hello\n");
    expect(await read("keep.py")).toBe("def f():\n    return 1\n\ndef g():\n    return 22\n");
    expect(await read("moved/to.txt")).toBe("one\nTWO\n");
    expect((await stat(path.join(dir, "moved/to.txt"))).mode & 0o777).toBe(0o755);
    expect(await exists("from.txt")).toBe(false);
    expect(await exists("old.txt")).toBe(false);
    const kinds = r.ctx.item.events.map((e) => (e.kind === "delta" ? "delta" : `${e.kind}:${e.item.type === "file_change" ? e.item.status : ""}`));
    expect(kinds).toEqual(["started:in_progress", "updated:in_progress", "completed:completed"]);
    const done = r.ctx.item.events.at(-1);
    if (done?.kind !== "completed" || done.item.type !== "file_change") throw new Error("no completed file_change");
    expect(done.item.changes.map((c) => [c.kind, c.path, c.movePath])).toEqual([
      ["add", "sub/new.txt", undefined],
      ["update", "keep.py", undefined],
      ["update", "from.txt", "moved/to.txt"],
      ["delete", "old.txt", undefined],
    ]);
    expect(done.item.changes[1]?.diff).toContain("-    return 2\n+    return 22\n");
    expect(done.item.changes[2]?.diff).toContain("--- a/from.txt\n+++ b/moved/to.txt\n");
    expect(r.ctx.asked).toEqual([
      { kind: "file_change", paths: ["sub/new.txt", "keep.py", "from.txt", "moved/to.txt", "old.txt"].map((p) => path.join(dir, p)), outsideWritableRoots: false },
    ]);
  });

  it("applies hunks on the same file in order, and a move may replace an existing file", async () => {
    await writeFile(path.join(dir, "same.txt"), "a\nb\n");
    await writeFile(path.join(dir, "src.txt"), "s\n");
    await writeFile(path.join(dir, "dst.txt"), "old dst\n");
    const r = await call(
      patch(
        "*** Add File: twice.txt", "+one",
        "*** Update File: twice.txt", "@@", "-one", "+ONE",
        "*** Update File: same.txt", "@@", "-a", "+A",
        "*** Update File: same.txt", "@@", "-b", "+B",
        "*** Update File: src.txt", "*** Move to: dst.txt", "@@", "-s", "+S",
      ),
    );
    expect(r.success).toBe(true);
    expect(await read("twice.txt")).toBe("ONE\n");
    expect(await read("same.txt")).toBe("A\nB\n");
    expect(await read("dst.txt")).toBe("S\n");
    expect(await exists("src.txt")).toBe(false);
    // One change per file: two hunks on same.txt make one diff.
    expect(r.output).toBe("Success. Updated the following files:\nA twice.txt\nM same.txt\nR src.txt -> dst.txt\n");
    const done = r.ctx.item.events.at(-1);
    if (done?.kind !== "completed" || done.item.type !== "file_change") throw new Error("no completed file_change");
    expect(done.item.changes.map((c) => c.diff)).toEqual([
      "--- /dev/null\n+++ b/twice.txt\n@@ -0,0 +1,1 @@\n+ONE\n",
      "--- a/same.txt\n+++ b/same.txt\n@@ -1,2 +1,2 @@\n-a\n-b\n+A\n+B\n",
      "--- a/src.txt\n+++ b/dst.txt\n@@ -1,1 +1,1 @@\n-s\n+S\n",
    ]);
  });

  it("a binary file may be deleted but not updated", async () => {
    await writeFile(path.join(dir, "bin.dat"), Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    const upd = await call(patch("*** Update File: bin.dat", "@@", "-x", "+y"));
    expect(upd.output).toMatch(/cannot update bin\.dat \(patch line 2\): it is not UTF-8 text/);
    const del = await call(patch("*** Delete File: bin.dat"));
    expect(del.success).toBe(true);
    expect(await exists("bin.dat")).toBe(false);
  });

  it("accepts the raw patch text as the arguments (freeform call)", async () => {
    const ctx = fakeToolContext({ env, cwd: dir });
    const r = await registry.call("apply_patch", patch("*** Add File: raw.txt", "+raw"), ctx);
    expect(r.success).toBe(true);
    expect(await read("raw.txt")).toBe("raw\n");
  });

  it("a chunk that does not match fails naming file and line, and changes no file", async () => {
    await writeFile(path.join(dir, "a.txt"), "a1\na2\n");
    await writeFile(path.join(dir, "b.txt"), "b1\nb2\n");
    const r = await call(patch("*** Update File: a.txt", "@@", "-a1", "+A1", "*** Update File: b.txt", "@@", "-zzz", "+B", "*** Add File: c.txt", "+c"));
    expect(r.success).toBe(false);
    expect(r.output).toBe("apply_patch failed; no file was changed: b.txt: the chunk at patch line 7 does not apply: could not find these lines (searched the whole file, 2 lines):\nzzz");
    expect(await read("a.txt")).toBe("a1\na2\n");
    expect(await exists("c.txt")).toBe(false);
    expect(r.ctx.item.events.at(-1)).toMatchObject({ kind: "completed", item: { status: "failed" } });
  });

  it("updating or deleting a missing file fails with the patch line", async () => {
    const r = await call(patch("*** Delete File: ghost.txt"));
    expect(r).toMatchObject({ success: false, output: "apply_patch failed; no file was changed: cannot delete ghost.txt (patch line 2): the file does not exist" });
  });

  it("refuses to overwrite a change made after the file was read", async () => {
    await writeFile(path.join(dir, "race.txt"), "base\n");
    const env2 = interleaved(async (p) => {
      if (p.endsWith("race.txt")) await writeFile(p, "someone else\n");
    });
    const r = await call(patch("*** Update File: race.txt", "@@", "-base", "+mine"), fakeToolContext({ env: env2, cwd: dir }));
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/^apply_patch failed; every file was left as it was: .*race\.txt changed after apply_patch read it/);
    expect(await read("race.txt")).toBe("someone else\n");
  });

  it("a failure part-way through a multi-file patch rolls back the files already written", async () => {
    await writeFile(path.join(dir, "1.txt"), "one\n");
    await writeFile(path.join(dir, "3.txt"), "three\n");
    await writeFile(path.join(dir, "4.txt"), "four\n");
    // 3.txt changes behind our back after it is read: its write is refused after 1.txt and 2.txt were written.
    const env2 = interleaved(async (p) => {
      if (p.endsWith("3.txt")) await writeFile(p, "THREE by someone else\n");
    });
    const r = await call(
      patch("*** Update File: 1.txt", "@@", "-one", "+ONE", "*** Add File: 2.txt", "+two", "*** Update File: 3.txt", "@@", "-three", "+3", "*** Delete File: 4.txt"),
      fakeToolContext({ env: env2, cwd: dir }),
    );
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/^apply_patch failed; every file was left as it was: .*3\.txt changed after apply_patch read it/);
    expect(await read("1.txt")).toBe("one\n");
    expect(await exists("2.txt")).toBe(false);
    expect(await read("3.txt")).toBe("THREE by someone else\n");
    expect(await read("4.txt")).toBe("four\n");
  });

  it("a declined change touches nothing and says why", async () => {
    const ctx = fakeToolContext({ env, cwd: dir, authorize: () => ({ allowed: false, reason: "user said no", by: "user", cancelTurn: false }) });
    const r = await call(patch("*** Add File: no.txt", "+x"), ctx);
    expect(r).toMatchObject({ success: false, output: "apply_patch was not allowed (user): user said no" });
    expect(await exists("no.txt")).toBe(false);
    expect(ctx.item.events.at(-1)).toMatchObject({ kind: "completed", item: { status: "declined" } });
  });

  it("flags paths outside the writable roots for policy", async () => {
    const ctx = fakeToolContext({ env, cwd: dir, writableRoots: [path.join(dir, "inside")] });
    await call(patch("*** Add File: inside/ok.txt", "+1", "*** Add File: ../elsewhere.txt", "+2"), ctx);
    expect(ctx.asked[0]).toMatchObject({ kind: "file_change", outsideWritableRoots: true });
    await rm(path.join(root, "elsewhere.txt"), { force: true });
    const inside = fakeToolContext({ env, cwd: dir, writableRoots: [dir] });
    await call(patch("*** Add File: ok.txt", "+1"), inside);
    expect(inside.asked[0]).toMatchObject({ outsideWritableRoots: false });
    // .git and .tether stay read-only inside a writable root, as they do for commands.
    const git = fakeToolContext({ env, cwd: dir, writableRoots: [dir], authorize: () => ({ allowed: false, reason: "asked", by: "user", cancelTurn: false }) });
    await call(patch("*** Add File: .git/hooks/pre-commit", "+x"), git);
    expect(git.asked[0]).toMatchObject({ outsideWritableRoots: true });
  });

  it("a parse error comes back to the model with the line", async () => {
    const r = await call("*** Begin Patch\n*** Nope: x\n*** End Patch");
    expect(r).toMatchObject({ success: false });
    expect(r.output).toMatch(/^invalid patch: line 2: /);
    expect(r.ctx.item.events).toEqual([]);
  });
});

describe("apply_patch and the session's default sandbox", () => {
  it("an approved patch outside the writable roots widens the session for its writes only", async () => {
    const inside = path.join(root, `ws${++n}`);
    const outside = path.join(root, `out${n}`);
    await env.files.makeDir(inside, { parents: true });
    await env.files.makeDir(outside, { parents: true });
    await using ws = await LocalEnvironment.create({ defaultCwd: root, defaultSandbox: sessionSandboxFor("workspace-write", [inside]) });
    const ctx = fakeToolContext({ env: ws, cwd: inside, sandbox: "workspace-write", writableRoots: [inside] });
    // The session's own file policy refuses the write outside the roots…
    await expect(ws.files.writeFile({ path: path.join(outside, "direct.txt") }, Buffer.from("x"))).rejects.toThrow();
    // …an approved patch there goes through, with the file_change asked as outside the roots…
    const r = await registry.call("apply_patch", JSON.stringify({ input: patch(`*** Add File: ${path.join(outside, "patched.txt")}`, "+approved") }), ctx);
    expect(r.success).toBe(true);
    expect(ctx.asked).toEqual([expect.objectContaining({ kind: "file_change", outsideWritableRoots: true })]);
    expect(await readFile(path.join(outside, "patched.txt"), "utf8")).toBe("approved\n");
    // …and the session's sandbox is the thread's again afterwards.
    await expect(ws.files.writeFile({ path: path.join(outside, "direct.txt") }, Buffer.from("x"))).rejects.toThrow();
  });
});
