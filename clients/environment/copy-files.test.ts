// copyFiles against the in-process backend and a real exec server on a Unix socket:
// trees with unicode names, modes and links both ways, a 100 MiB file by checksum, and
// the errors that tell a user what to fix.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type CopyProgress, copyFiles, parseCopyOperand } from "./copy-files.js";
import type { Environment } from "./environment.js";
import { GrpcEnvironment } from "./grpc-environment.js";
import { LocalEnvironment } from "./local-environment.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIG = 100 << 20;

/** `tether exec-server` as its own process on a socket; ready once it prints `listening`. */
async function startSocketServer(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  if (!existsSync(path.join(ROOT, "dist", "tether.js"))) throw new Error("dist/ is missing: run `node scripts/build.mjs` first");
  const socket = path.join(dir, "exec.sock");
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "bin", "tether.js"), "exec-server", "--listen", `unix://${socket}`, "--cwd", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([once(lines, "line"), exited.then(([code]) => Promise.reject(new Error(`exec-server exited with ${code} before listening`)))]);
  expect(String(first[0])).toMatch(/^listening /);
  return {
    url: `unix://${socket}`,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** name -> "file:mode:content" | "dir:mode" | "link:target", sorted, relative to root. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of await readdir(dir)) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link:${await readlink(full)}`;
      else if (st.isDirectory()) {
        out[r] = `dir:${mode}`;
        await walk(full, r);
      } else out[r] = `file:${mode}:${await readFile(full, "utf8")}`;
    }
  }
  await walk(root, "");
  return out;
}

async function makeTree(root: string): Promise<void> {
  await mkdir(path.join(root, "répertoire/日本語/深い"), { recursive: true });
  await mkdir(path.join(root, "empty dir"));
  await writeFile(path.join(root, "héllo wörld.txt"), "grüße 👋\n");
  await writeFile(path.join(root, "répertoire/日本語/深い/ファイル.md"), "# 見出し\n");
  await writeFile(path.join(root, "run.sh"), "#!/bin/sh\necho hi\n");
  await chmod(path.join(root, "run.sh"), 0o755);
  await writeFile(path.join(root, "secret"), "s3cr3t");
  await chmod(path.join(root, "secret"), 0o600);
  await writeFile(path.join(root, "empty"), "");
  await symlink("répertoire/日本語", path.join(root, "link to 日本語"));
  await symlink("/nonexistent/target", path.join(root, "dangling"));
  // Read-only directory: must still be filled, then get its mode.
  await mkdir(path.join(root, "locked"));
  await writeFile(path.join(root, "locked/inside"), "x");
  await chmod(path.join(root, "locked"), 0o555);
  await chmod(path.join(root, "répertoire"), 0o750);
}

async function writeBigFile(file: string): Promise<string> {
  const h = createHash("sha256");
  const out = createWriteStream(file);
  const block = randomBytes(1 << 20);
  for (let i = 0; i < BIG >> 20; i++) {
    block[0] = i; // every MiB differs, so a repeated or skipped chunk changes the sum
    h.update(block);
    if (!out.write(Buffer.from(block))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return h.digest("hex");
}

const backends: { name: string; open: (scratch: string) => Promise<{ env: Environment; stop: () => Promise<void> }> }[] = [
  {
    name: "local",
    open: async (scratch) => {
      const env = await LocalEnvironment.create({ defaultCwd: scratch });
      return { env, stop: () => env.close() };
    },
  },
  {
    name: "unix socket",
    open: async (scratch) => {
      const server = await startSocketServer(scratch);
      const env = await GrpcEnvironment.connect({ kind: "unix", path: server.url.slice("unix://".length) });
      return { env, stop: async () => { await env.close(); await server.stop(); } };
    },
  },
];

describe("parseCopyOperand", () => {
  it("treats a leading colon as the environment's side", () => {
    expect(parseCopyOperand(":/tmp/x")).toEqual({ side: "remote", path: "/tmp/x" });
    expect(parseCopyOperand("./x")).toEqual({ side: "local", path: "./x" });
    expect(() => parseCopyOperand(":")).toThrow(/names no remote path/);
  });
});

describe.each(backends)("copyFiles on $name", (backend) => {
  let scratch: string;
  let env: Environment;
  let stop: () => Promise<void>;
  let remote: string; // a directory on the environment (also on this machine's disk for these backends)
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "tether-cp-test-"));
    ({ env, stop } = await backend.open(scratch));
    remote = path.join(scratch, "remote");
    await env.files.makeDir(remote);
  });
  afterAll(async () => {
    await stop?.();
    // The read-only directories would stop a non-root rm.
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("copies a tree with unicode names, modes and links up and back down unchanged", async () => {
    const src = path.join(scratch, "tree-src");
    await mkdir(src);
    await makeTree(src);
    const up = await copyFiles(env, { side: "local", path: src }, { side: "remote", path: `${remote}/tree-up` });
    expect(up).toMatchObject({ files: 6, directories: 6, symlinks: 2, destination: `${remote}/tree-up` });

    const link = await env.files.stat(`${remote}/tree-up/link to 日本語`, { noFollow: true });
    expect(link.symlinkTarget).toBe("répertoire/日本語");
    expect((await env.files.stat(`${remote}/tree-up/run.sh`)).mode).toBe(0o755);

    const back = path.join(scratch, "tree-back");
    await mkdir(back);
    // An existing directory receives the source inside it, as with cp.
    const down = await copyFiles(env, { side: "remote", path: `${remote}/tree-up` }, { side: "local", path: back });
    expect(down.destination).toBe(path.join(back, "tree-up"));
    expect(await describeTree(path.join(back, "tree-up"))).toEqual(await describeTree(src));
  });

  it("streams a 100 MiB file both ways with the same checksum, reporting progress", async () => {
    const file = path.join(scratch, "big.bin");
    const sum = await writeBigFile(file);
    const seen: CopyProgress[] = [];
    await copyFiles(env, { side: "local", path: file }, { side: "remote", path: `${remote}/big.bin` }, { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ bytesDone: BIG, bytesTotal: BIG, path: "big.bin" });
    expect(seen.every((p, i) => i === 0 || p.bytesDone > seen[i - 1]!.bytesDone)).toBe(true);

    const down = path.join(scratch, "big-down.bin");
    const summary = await copyFiles(env, { side: "remote", path: `${remote}/big.bin` }, { side: "local", path: down });
    expect(summary).toMatchObject({ files: 1, bytes: BIG });
    expect(await sha256File(down)).toBe(sum);
    await rm(file);
    await rm(down);
    await env.files.remove(`${remote}/big.bin`);
  });

  it("stops when aborted, leaving neither the target nor a temp file", async () => {
    const src = path.join(scratch, "abort-src.bin");
    await writeFile(src, randomBytes(8 << 20));
    await env.files.writeFile({ path: `${remote}/abort.bin` }, await readFile(src));
    const down = path.join(scratch, "abort-down");
    // Fresh on every attempt (CI retries a failed test once).
    await rm(down, { recursive: true, force: true });
    await rm(`${remote}/abort-up.bin`, { force: true });
    await mkdir(down);
    for (const [from, to, listing] of [
      [{ side: "remote", path: `${remote}/abort.bin` }, { side: "local", path: `${down}/copy.bin` }, async () => readdir(down)],
      [{ side: "local", path: src }, { side: "remote", path: `${remote}/abort-up.bin` }, async () => (await readdir(remote)).filter((n) => n === "abort-up.bin")],
    ] as const) {
      const abort = new AbortController();
      const err = await copyFiles(env, from, to, { signal: abort.signal, onProgress: () => abort.abort() }).catch((e: unknown) => e);
      expect((err as TetherError).code).toBe(ErrorCode.Cancelled);
      expect(await listing()).toEqual([]);
    }
  });

  it("never commits an upload aborted mid-stream, however the cancel races the stream", async () => {
    // Node's HTTP/2 client half-closes a stream before resetting it, so a cancel used to
    // arrive as a clean end now and then; repeating the abort gives the race its chances.
    const src = path.join(scratch, "abort-race.bin");
    await writeFile(src, randomBytes(2 << 20));
    const target = `${remote}/abort-race.bin`;
    for (let i = 0; i < 25; i++) {
      const abort = new AbortController();
      const err = await copyFiles(env, { side: "local", path: src }, { side: "remote", path: target }, { signal: abort.signal, onProgress: () => abort.abort() }).catch((e: unknown) => e);
      expect((err as TetherError).code).toBe(ErrorCode.Cancelled);
      expect((await readdir(remote)).filter((n) => n === "abort-race.bin")).toEqual([]);
    }
  });

  it("gives an overwritten remote file the source's mode", async () => {
    const src = path.join(scratch, "tool");
    await writeFile(src, "v2");
    await chmod(src, 0o750);
    await env.files.writeFile({ path: `${remote}/tool`, mode: 0o644 }, new TextEncoder().encode("v1"));
    await copyFiles(env, { side: "local", path: src }, { side: "remote", path: `${remote}/tool` });
    const info = await env.files.stat(`${remote}/tool`);
    expect(info.mode).toBe(0o750);
    expect(Number(info.size)).toBe(2);
  });

  it("resolves a relative remote path against the environment's working directory", async () => {
    const cwd = (await env.info()).defaultCwd;
    const name = `tether-cp-rel-${randomBytes(4).toString("hex")}`;
    const src = path.join(scratch, "rel.txt");
    await writeFile(src, "relative");
    try {
      const s = await copyFiles(env, { side: "local", path: src }, { side: "remote", path: name });
      expect(s.destination).toBe(path.posix.join(cwd, name));
    } finally {
      await env.files.remove(path.posix.join(cwd, name), { force: true });
    }
  });

  it("refuses with a message saying what to fix", async () => {
    const file = path.join(scratch, "plain.txt");
    await writeFile(file, "x");
    const fail = async (p: Promise<unknown>): Promise<TetherError> => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TetherError);
      return err as TetherError;
    };
    let err = await fail(copyFiles(env, { side: "local", path: file }, { side: "local", path: "/tmp/y" }));
    expect([err.code, err.message]).toEqual([ErrorCode.InvalidArgument, "both paths are local: prefix the environment's path with a colon (:/remote/path)"]);
    err = await fail(copyFiles(env, { side: "remote", path: "/a" }, { side: "remote", path: "/b" }));
    expect(err.message).toMatch(/one side must be local/);
    err = await fail(copyFiles(env, { side: "local", path: path.join(scratch, "nope") }, { side: "remote", path: remote }));
    expect([err.code, err.message]).toEqual([ErrorCode.NotFound, `${path.join(scratch, "nope")} does not exist: check the source path`]);
    err = await fail(copyFiles(env, { side: "remote", path: `${remote}/nope` }, { side: "local", path: scratch }));
    expect(err.message).toBe(`:${remote}/nope does not exist: check the source path`);
    err = await fail(copyFiles(env, { side: "local", path: file }, { side: "remote", path: `${remote}/no/such/dir/x` }));
    expect([err.code, err.message]).toEqual([ErrorCode.NotFound, `the destination's parent :${remote}/no/such/dir does not exist: create it first`]);
    err = await fail(copyFiles(env, { side: "remote", path: `${remote}/tool` }, { side: "local", path: path.join(scratch, "missing-dir") + "/" }));
    expect(err.message).toBe(`destination directory ${path.join(scratch, "missing-dir")} does not exist: create it first`);
    err = await fail(copyFiles(env, { side: "local", path: scratch }, { side: "remote", path: `${scratch}/remote/inside` }));
    expect([err.code, err.message]).toEqual([ErrorCode.InvalidArgument, `cannot copy ${scratch} into itself (${scratch}/remote/inside): pick a destination outside it`]);
    err = await fail(copyFiles(env, { side: "local", path: scratch }, { side: "remote", path: `${remote}/tool` }));
    expect([err.code, err.message]).toEqual([ErrorCode.FailedPrecondition, `:${remote}/tool exists and is not a directory: cannot replace it with a directory`]);
  });
});
