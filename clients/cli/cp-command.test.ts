// `tether cp` end to end: the command module with a fake terminal, and the real CLI
// binary against a real exec server on a Unix socket (exit status and what it prints).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInterface } from "node:readline";
import { ErrorCode } from "../../services/common/tether-error.js";
import { ProgressLine, cpCommand, formatBytes, summaryLine } from "./cp-command.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

class Capture extends Writable {
  text = "";
  constructor(readonly isTTY: boolean, readonly columns = 100) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
}

/** `tether exec-server` on a socket in `dir`; ready once it prints `listening`. */
async function startSocketServer(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const socket = path.join(dir, "exec.sock");
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "bin", "tether.js"), "exec-server", "--listen", `unix://${socket}`, "--cwd", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const first = await Promise.race([once(createInterface({ input: child.stdout! }), "line"), exited.then(([code]) => Promise.reject(new Error(`exec-server exited with ${code}: run \`node scripts/build.mjs\``)))]);
  expect(String(first[0])).toMatch(/^listening /);
  return { url: `unix://${socket}`, stop: async () => { child.kill("SIGTERM"); await exited; } };
}

function tether(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, "bin", "tether.js"), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("cp output", () => {
  it("formats sizes and a one-line summary", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MiB");
    expect(summaryLine({ files: 2, directories: 1, symlinks: 1, bytes: 2048, destination: "/x" }, 2000)).toBe(
      "tether: copied 2 files, 1 directory, 1 link (2.0 KiB) to /x in 2.0 s (1.0 KiB/s)",
    );
  });

  it("redraws the progress line with \\r at most every 100 ms, and always at 100%", () => {
    const out = new Capture(true, 200);
    let t = 0;
    const bar = new ProgressLine(out, () => t);
    bar.update({ bytesDone: 10, bytesTotal: 100, path: "a" });
    t = 50;
    bar.update({ bytesDone: 20, bytesTotal: 100, path: "a" }); // too soon: skipped
    t = 1000;
    bar.update({ bytesDone: 100, bytesTotal: 100, path: "a" });
    bar.end();
    const frames = out.text.split("\r").filter(Boolean);
    expect(frames[0]).toMatch(/^ 10% \[##\.{18}\] 10 B \/ 100 B/);
    expect(frames.some((f) => f.startsWith(" 20%"))).toBe(false);
    expect(frames.at(-1)).toMatch(/^100% \[#{20}\] 100 B \/ 100 B  100 B\/s  a\x1b\[K\n$/);
  });
});

describe("cpCommand", () => {
  let scratch: string;
  let server: Awaited<ReturnType<typeof startSocketServer>>;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "tether-cp-cmd-"));
    server = await startSocketServer(scratch);
  });
  afterAll(async () => {
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("prints one summary line when stderr is not a terminal", async () => {
    const src = path.join(scratch, "a.txt");
    await writeFile(src, "hello");
    const out = new Capture(false);
    expect(await cpCommand(src, `:${scratch}/b.txt`, { env: server.url }, { stderr: out })).toBe(0);
    expect(out.text).toMatch(new RegExp(`^tether: copied 1 file \\(5 B\\) to ${scratch}/b.txt in \\d+\\.\\d s \\(.*/s\\)\\n$`));
    expect(await readFile(path.join(scratch, "b.txt"), "utf8")).toBe("hello");
  });

  it("draws progress on a terminal", async () => {
    await mkdir(path.join(scratch, "tree/sub"), { recursive: true });
    await writeFile(path.join(scratch, "tree/sub/f"), Buffer.alloc(300_000, 1));
    await mkdir(path.join(scratch, "down"));
    const out = new Capture(true);
    expect(await cpCommand(`:${scratch}/tree`, path.join(scratch, "down"), { env: server.url }, { stderr: out })).toBe(0);
    expect(out.text).toMatch(/\r100% \[#{20}\] 293\.0 KiB \/ 293\.0 KiB .* sub\/f\x1b\[K\ntether: copied 1 file, 2 directories/);
    expect((await stat(path.join(scratch, "down/tree/sub/f"))).size).toBe(300_000);
  });

  it("throws a typed error for two local paths before connecting", async () => {
    await expect(cpCommand("a", "b", { env: "unix:///nonexistent.sock" })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it("works as `tether cp` and fails with a fix-it message: 255 for what the environment says, 2 for bad operands", async () => {
    const src = path.join(scratch, "cli.txt");
    await writeFile(src, "via the binary");
    let r = await tether(["cp", "--env", server.url, src, `:${scratch}/cli-copy.txt`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^tether: copied 1 file \(14 B\)/);
    expect(await readFile(path.join(scratch, "cli-copy.txt"), "utf8")).toBe("via the binary");

    r = await tether(["cp", "--env", server.url, `:${scratch}/missing`, scratch]);
    expect(r.code).toBe(255);
    expect(r.stderr).toBe(`tether: :${scratch}/missing does not exist: check the source path (NOT_FOUND)\n`);

    // Operands as typed that cannot work: a usage error (exit 2), before connecting.
    r = await tether(["cp", "--env", server.url, src, `${scratch}/local-copy.txt`]);
    expect(r.stderr).toMatch(/both paths are local: prefix the environment's path with a colon/);
    expect(r.code).toBe(2);
  });
});
