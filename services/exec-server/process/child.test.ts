import { execFileSync, spawn as spawnProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { Child, type ChildSpec } from "./child.js";
import type { ChildStream } from "./child-output.js";
import { parseStatusLine } from "./launcher/status-line.js";
import { launcherPath } from "./launcher-path.js";
import { Zygote } from "./zygote.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
let launcher = "";
let scratch = "";
/** Set per mode below: launchers come from this zygote, or from Node directly. */
let zygote: Zygote | undefined;

beforeAll(() => {
  execFileSync(join(root, "scripts", "build-native.sh"), ["tether-launch", "tether-zygote"], { stdio: "inherit" });
  launcher = launcherPath();
  scratch = mkdtempSync(join(tmpdir(), "tether-child-"));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function spec(file: string, argv: string[], extra: Partial<ChildSpec> = {}): ChildSpec {
  return { file, argv, cwd: scratch, env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, stdinOpen: false, ...extra };
}

function sh(script: string, extra: Partial<ChildSpec> = {}): ChildSpec {
  return spec("/bin/sh", ["sh", "-c", script], extra);
}

function start(s: ChildSpec): Promise<Child> {
  return Child.spawn(s, { launcherPath: launcher, zygote });
}

/** Records output per stream and lets a test wait until a stream contains some text. */
function record(child: Child) {
  const chunks: Record<ChildStream, Buffer[]> = { stdout: [], stderr: [], pty: [] };
  const waiters = new Set<() => void>();
  const bytes = (stream: ChildStream): Buffer => Buffer.concat(chunks[stream]);
  const text = (stream: ChildStream): string => bytes(stream).toString("utf8");
  child.onOutput((stream, data) => {
    chunks[stream].push(data);
    for (const check of waiters) check();
  });
  const waitFor = (stream: ChildStream, pattern: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve) => {
      const check = (): void => {
        const match = pattern.exec(text(stream));
        if (!match) return;
        waiters.delete(check);
        resolve(match);
      };
      waiters.add(check);
      check();
    });
  return { bytes, text, waitFor };
}

/** Bounded polling for OS state that emits no event (a /proc entry, a blocked writer). */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Running, not a zombie (an orphan's zombie may wait for a slow pid 1 to reap it). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false; // no /proc entry: gone
  }
}

function parentOf(pid: number): number {
  return Number(/\) \S (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1]);
}

describe("parseStatusLine", () => {
  it("reads pid, error and exit lines", () => {
    expect(parseStatusLine("pid 42")).toEqual({ kind: "pid", pid: 42 });
    expect(parseStatusLine("error exec 13 Permission denied")).toEqual({
      kind: "error",
      stage: "exec",
      errno: 13,
      text: "Permission denied",
    });
    expect(parseStatusLine("exit signal 9 1500 2000 1024")).toEqual({
      kind: "exit",
      exit: { code: null, signal: 9, signalName: "SIGKILL", userCpuMs: 1.5, systemCpuMs: 2, maxRssKb: 1024 },
    });
    expect(parseStatusLine("bogus")).toBeUndefined();
  });
});

// Every behaviour holds whichever way the launcher was started.
describe.each(["direct", "zygote"] as const)("launcher spawned %s", (mode) => {
  beforeAll(() => {
    zygote = mode === "zygote" ? Zygote.beside(launcher) : undefined;
    if (mode === "zygote" && zygote === undefined) throw new Error("tether-zygote is not built");
  });
  afterAll(async () => {
    await zygote?.close();
    zygote = undefined;
  });

  describe("Child with pipes", () => {
    it("separates stdout from stderr and keeps binary bytes exact", async () => {
      const out = Buffer.from([0, 255, 254, 0x61, 0, 0xc3, 0x28, 10, 0x80]);
      const err = Buffer.from([0xff, 0, 0xed, 0xa0, 0x80, 0x41]);
      writeFileSync(join(scratch, "out.bin"), out);
      writeFileSync(join(scratch, "err.bin"), err);
      await using child = await start(sh('cat out.bin; cat err.bin >&2'));
      const rec = record(child);
      const exit = await child.exited;
      expect(exit.code).toBe(0);
      expect(rec.bytes("stdout").equals(out)).toBe(true);
      expect(rec.bytes("stderr").equals(err)).toBe(true);
      expect(child.hasTty).toBe(false);
    });

    it("reports the exit code", async () => {
      await using child = await start(sh("exit 42"));
      const exit = await child.exited;
      expect(exit).toMatchObject({ code: 42, signal: null, signalName: "" });
    });

    it("reports death by signal with its name", async () => {
      await using child = await start(spec("/bin/sleep", ["sleep", "100"]));
      child.signal(15, "process");
      const exit = await child.exited;
      expect(exit).toMatchObject({ code: null, signal: 15, signalName: "SIGTERM" });
    });

    it("writes to stdin and closes it", async () => {
      await using child = await start(spec("/bin/cat", ["cat"], { stdinOpen: true }));
      const rec = record(child);
      await child.write(Buffer.from("hello\0world\n"));
      await child.closeStdin();
      await child.closeStdin();
      expect((await child.exited).code).toBe(0);
      expect(rec.text("stdout")).toBe("hello\0world\n");
      await expect(child.write(Buffer.from("x"))).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
    });

    it("rejects writes when stdin was never opened", async () => {
      await using child = await start(spec("/bin/true", ["true"]));
      await expect(child.write(Buffer.from("x"))).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
      expect(() => child.resize(10, 10)).toThrow(TetherError);
      await child.exited;
    });

    it("does not hand the control and status fds to the target", async () => {
      await using child = await start(sh('for fd in 3 4; do [ -e /proc/$$/fd/$fd ] && echo leak$fd; done; echo ok'));
      const rec = record(child);
      await child.exited;
      expect(rec.text("stdout")).toBe("ok\n");
    });

    it("passes argv, env and cwd", async () => {
      await using child = await start(sh('echo "$0|$1|$FOO|$(pwd)"', { argv: ["sh", "-c", 'echo "$0|$1|$FOO|$(pwd)"', "zero", "one"], env: { FOO: "bar" } }));
      const rec = record(child);
      await child.exited;
      expect(rec.text("stdout")).toBe(`zero|one|bar|${scratch}\n`);
    });

    it("fails with PermissionDenied for a file that is not executable", async () => {
      const file = join(scratch, "not-executable");
      writeFileSync(file, "#!/bin/sh\necho hi\n");
      chmodSync(file, 0o644);
      const err = await start(spec(file, ["x"])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TetherError);
      expect(err).toMatchObject({ code: ErrorCode.PermissionDenied });
      expect((err as TetherError).message).toContain(file);
    });

    it("fails with NotFound for a missing file or cwd", async () => {
      await expect(start(spec("/nonexistent/prog", ["prog"]))).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await expect(start(spec("/bin/true", ["true"], { cwd: join(scratch, "missing") }))).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
    });

    it("rejects bad specs with InvalidArgument", async () => {
      await expect(start(spec("/bin/echo", []))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(start(spec("echo", ["echo"]))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(start(spec("/bin/echo", ["echo", "a\0b"]))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    });

    it("rejects with Cancelled when the spawn signal is aborted", async () => {
      const aborted = AbortSignal.abort();
      await expect(Child.spawn(spec("/bin/true", ["true"]), { launcherPath: launcher, signal: aborted })).rejects.toMatchObject({
        code: ErrorCode.Cancelled,
      });
    });

    it("fails with FailedPrecondition when the launcher is missing", async () => {
      await expect(Child.spawn(spec("/bin/true", ["true"]), { launcherPath: join(scratch, "no-launcher") })).rejects.toMatchObject({
        code: ErrorCode.FailedPrecondition,
      });
    });

    it("keeps the output of a child that exits before anyone subscribes", async () => {
      // Node resumes a dead child's stdio on its own (flushStdio); nothing may be lost to that.
      const children = await Promise.all(Array.from({ length: 40 }, () => start(spec("/usr/bin/seq", ["seq", "1", "400"]))));
      await Promise.all(children.map((c) => new Promise<void>((resolve) => setImmediate(resolve)).then(() => c)));
      const outputs = await Promise.all(
        children.map(async (c) => {
          const out = record(c);
          await c.exited;
          return out.text("stdout");
        }),
      );
      const expected = Array.from({ length: 400 }, (_, i) => `${i + 1}\n`).join("");
      expect(outputs).toEqual(Array(40).fill(expected));
    });

    it("reports CPU time for a busy loop", async () => {
      await using child = await start(sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"));
      const exit = await child.exited;
      expect(exit.code).toBe(0);
      expect(exit.userCpuMs + exit.systemCpuMs).toBeGreaterThan(0);
      expect(exit.maxRssKb).toBeGreaterThan(0);
    });

    it("delivers 50 MB of output completely", async () => {
      const size = 50 * 1024 * 1024;
      const line = "0123456789abcdef\n";
      await using child = await start(sh(`yes 0123456789abcdef | head -c ${size}`));
      const got = createHash("sha256");
      let count = 0;
      child.onOutput((_stream, data) => {
        got.update(data);
        count += data.length;
      });
      expect((await child.exited).code).toBe(0);
      const want = createHash("sha256");
      const block = line.repeat(1 + Math.floor(65536 / line.length));
      for (let left = size; left > 0; left -= block.length) want.update(block.slice(0, Math.min(left, block.length)));
      expect(count).toBe(size);
      expect(got.digest("hex")).toBe(want.digest("hex"));
    });

    it.each([
      ["pipes", {}],
      ["a PTY", { tty: { rows: 24, cols: 80 }, stdinOpen: true }],
    ] as const)("blocks the producer while output is paused and resumes it (%s)", async (_mode, extra) => {
      await using child = await start(spec("/usr/bin/yes", ["yes"], extra));
      let received = 0;
      let seen!: () => void;
      let target = 1;
      let reached = new Promise<void>((resolve) => (seen = resolve));
      child.onOutput((_stream, data) => {
        received += data.length;
        if (received >= target) seen();
      });
      await reached;
      child.pauseOutput();
      const written = (): number => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${child.pid}/io`, "utf8"))?.[1]);
      // Blocked = its write count stays the same across two looks while it sleeps in write().
      let last = -1;
      await until(() => {
        const now = written();
        const stalled = now === last && readFileSync(`/proc/${child.pid}/stat`, "utf8").includes(") S ");
        last = now;
        return stalled;
      }, "yes to block on the full pipe");
      const receivedWhilePaused = received;
      expect(written() - receivedWhilePaused).toBeLessThan(16 * 1024 * 1024); // only kernel + stream buffers
      target = last + 1024 * 1024;
      reached = new Promise<void>((resolve) => (seen = resolve));
      child.resumeOutput();
      await reached;
      expect(received).toBeGreaterThan(receivedWhilePaused);
      await child.close();
    });
  });

  describe("Child process trees", () => {
    it("signals the whole group", async () => {
      // With a trap set, `wait` returns at once; the second wait only ends quickly if the
      // group signal killed the sleeps too (a signal to the shell alone would leave them).
      const script = 'trap "echo got-term" TERM; sleep 100 & a=$!; sleep 100 & b=$!; echo pids=$a,$b; wait $a; wait $b; echo done; exit 5';
      await using child = await start(sh(script));
      const rec = record(child);
      const match = await rec.waitFor("stdout", /pids=(\d+),(\d+)\n/);
      const sleeps = [Number(match[1]), Number(match[2])];
      // Until exec, a forked dash child still runs the trap handler and would swallow TERM.
      const execd = (pid: number): boolean => readFileSync(`/proc/${pid}/comm`, "utf8") === "sleep\n";
      await until(() => sleeps.every(execd), "both sleeps to be exec'd");
      child.signal(15, "group");
      const exit = await child.exited;
      expect(exit.code).toBe(5);
      expect(rec.text("stdout")).toContain("got-term\ndone\n");
      for (const pid of sleeps) expect(alive(pid)).toBe(false);
    });

    it("kills background and re-parented grandchildren when the target exits", async () => {
      await using child = await start(sh('sleep 1000 & echo a=$!; (setsid sleep 1000 & echo b=$!); exit 0'));
      const rec = record(child);
      const exit = await child.exited;
      expect(exit.code).toBe(0);
      const pids = [...rec.text("stdout").matchAll(/[ab]=(\d+)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(alive(pid)).toBe(false);
    });

    it("killTree takes down the target and its descendants", async () => {
      await using child = await start(sh('setsid sleep 1000 & echo b=$!; sleep 1000'));
      const rec = record(child);
      const bg = Number((await rec.waitFor("stdout", /b=(\d+)\n/))[1]);
      await child.close();
      expect((await child.exited).signal).toBe(9);
      expect(alive(bg)).toBe(false);
      expect(alive(child.pid)).toBe(false);
    });

    it("kills the target when the Node process that owns it is SIGKILLed", async () => {
      const bundle = join(scratch, "child.mjs");
      const entry = 'export { Child } from "./child.ts"; export { Zygote } from "./zygote.ts";';
      await build({ stdin: { contents: entry, resolveDir: here, loader: "ts" }, bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "silent" });
      const script = join(scratch, "owner.mjs");
      writeFileSync(
        script,
        `import { Child, Zygote } from ${JSON.stringify(bundle)};
const zygote = process.argv[3] === "zygote" ? Zygote.beside(process.argv[2]) : undefined;
const c = await Child.spawn({ file: "/bin/sleep", argv: ["sleep", "1000"], cwd: "/", env: {}, stdinOpen: false }, { launcherPath: process.argv[2], zygote });
process.stdout.write(c.pid + " " + parseInt(await zygote?.pid() ?? 0) + "\\n");
setInterval(() => {}, 1000);
`,
      );
      const owner = spawnProcess(process.execPath, [script, launcher, mode], { stdio: ["ignore", "pipe", "inherit"] });
      const [pid, zygotePid] = await new Promise<number[]>((resolve, reject) => {
        let text = "";
        owner.stdout.on("data", (d: Buffer) => {
          text += d.toString();
          if (text.includes("\n")) resolve(text.trim().split(" ").map(Number));
        });
        owner.on("exit", (code) => reject(new Error(`owner exited early with ${code}`)));
      });
      expect(alive(pid!)).toBe(true);
      if (mode === "zygote") expect(parentOf(parentOf(pid!))).toBe(zygotePid);
      owner.kill("SIGKILL");
      await until(() => !alive(pid!), `sleep ${pid} to die after its owner was killed`, 5000);
      if (mode === "zygote") await until(() => !alive(zygotePid!), `the zygote ${zygotePid} to die with its owner`, 5000);
    });

    it("reports a launcher that was SIGKILLed and takes down the target's group", async () => {
      await using child = await start(sh("sleep 1000 & echo bg=$!; sleep 1000"));
      const rec = record(child);
      const bg = Number((await rec.waitFor("stdout", /bg=(\d+)\n/))[1]);
      process.kill(parentOf(child.pid), "SIGKILL");
      const exit = await child.exited;
      expect(exit).toMatchObject({ code: null, signal: 9 });
      expect(exit.launcherFailure).toContain("without reporting");
      // SIGKILL to the group was sent; the kernel finishes the kill a moment later.
      await until(() => !alive(bg) && !alive(child.pid), "the target's group to die");
    });

    it("does not leak file descriptors in the exec server", async () => {
      const fds = (): number => readdirSync("/proc/self/fd").length;
      await (await start(spec("/bin/true", ["true"]))).close(); // warm up lazily opened fds
      const before = fds();
      for (let i = 0; i < 10; i++) {
        await using child = await start(spec("/bin/echo", ["echo", "x"], { stdinOpen: true }));
        record(child);
        await child.exited;
      }
      for (let i = 0; i < 5; i++) {
        await using child = await start(spec("/bin/cat", ["cat"], { tty: { rows: 5, cols: 5 }, stdinOpen: true }));
        record(child);
        await child.close();
      }
      expect(fds()).toBe(before);
    });
  });

  describe("Child with a PTY", () => {
    const tty = { rows: 24, cols: 80 };

    it("runs the target on a /dev/pts terminal of the requested size", async () => {
      await using child = await start(sh("tty; stty size", { tty: { rows: 33, cols: 101 }, stdinOpen: true }));
      const rec = record(child);
      expect((await child.exited).code).toBe(0);
      expect(child.hasTty).toBe(true);
      expect(rec.text("pty")).toMatch(/^\/dev\/pts\/\d+\r\n33 101\r\n$/);
      expect(rec.text("stdout")).toBe("");
    });

    it("resizes the terminal and the target sees SIGWINCH", async () => {
      await using child = await start(sh('trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done', { tty, stdinOpen: true }));
      const rec = record(child);
      await rec.waitFor("pty", /ready\r\n/);
      child.resize(40, 120);
      await rec.waitFor("pty", /40 120\r\n/);
      expect(() => child.resize(0, 10)).toThrow(TetherError);
    });

    it("interrupts a sleep in a shell with a Ctrl-C byte", async () => {
      await using child = await start(sh("echo ready; sleep 100; echo not-reached", { tty, stdinOpen: true }));
      const rec = record(child);
      await rec.waitFor("pty", /ready\r\n/);
      // `sh -c` catches SIGINT; a ^C between its fork and the sleep's exec would be swallowed
      // by the forked copy of the shell (a dash race, not ours), so wait for the exec.
      const children = `/proc/${child.pid}/task/${child.pid}/children`;
      const sleeping = (): boolean => {
        const pid = readFileSync(children, "utf8").trim();
        return pid !== "" && readFileSync(`/proc/${pid}/comm`, "utf8") === "sleep\n";
      };
      await until(sleeping, "the shell to exec sleep");
      await child.write(Buffer.from([3]));
      const exit = await child.exited;
      expect(exit.signal === 2 || exit.code === 130).toBe(true);
      expect(rec.text("pty")).not.toContain("not-reached");
    });

    it("relays bulk output through the terminal completely", async () => {
      const size = 4 * 1024 * 1024;
      await using child = await start(spec("/usr/bin/head", ["head", "-c", String(size), "/dev/zero"], { tty, stdinOpen: true }));
      let count = 0;
      let nonZero = 0;
      child.onOutput((_stream, data) => {
        count += data.length;
        for (const b of data) if (b !== 0) nonZero++;
      });
      expect((await child.exited).code).toBe(0);
      expect(count).toBe(size);
      expect(nonZero).toBe(0);
    });

    it("holds the terminal's master in this process, and no other target inherits it", async () => {
      const ptmx = (pid: number | "self"): number =>
        readdirSync(`/proc/${pid}/fd`).filter((fd) => {
          try {
            return /ptmx$/.test(readlinkSync(`/proc/${pid}/fd/${fd}`));
          } catch {
            return false; // closed while we looked
          }
        }).length;
      const before = ptmx("self");
      await using held = await start(spec("/bin/cat", ["cat"], { tty, stdinOpen: true }));
      record(held);
      expect(ptmx("self")).toBe(before + 1); // no relay in tether-launch: the keystroke's path is one hop shorter
      // The master's fd is not close-on-exec (node-pty): the launcher must close it before the target runs.
      await using other = await start(sh("ls -l /proc/self/fd; echo done", { tty, stdinOpen: true }));
      const rec = record(other);
      expect((await other.exited).code).toBe(0);
      expect(rec.text("pty")).toContain("done");
      expect(rec.text("pty")).not.toContain("ptmx");
    });

    it("reports the exit of a target that closed its terminal before exiting (no SIGHUP)", async () => {
      // The master reads EIO once every slave fd is closed; closing it then would hang up the
      // terminal and SIGHUP a target that is still running.
      await using child = await start(sh("exec </dev/null >/dev/null 2>&1; sleep 0.2; exit 3", { tty, stdinOpen: true }));
      record(child);
      const exit = await child.exited;
      expect(exit.signal).toBeNull();
      expect(exit.code).toBe(3);
    });

    it("sends the EOF character once when stdin is closed", async () => {
      await using child = await start(spec("/bin/cat", ["cat"], { tty, stdinOpen: true }));
      const rec = record(child);
      await child.write(Buffer.from("hi\n"));
      await rec.waitFor("pty", /hi\r\nhi\r\n/);
      await child.closeStdin();
      expect((await child.exited).code).toBe(0);
    });
  });
});
