// Real zsh, real shim, real broker: every exec a zsh-fork shell makes is decided by the
// test's DecideFn, and run / escalate / deny behave as the shell's user would expect.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecideFn, DecisionResult, EscalationDecision, ExecIntercept } from "./escalation-types.js";
import { ZshForkBroker, type ZshForkLaunch } from "./zsh-fork.js";
import { skipOutsideCi } from "../../../test/support/ci-must-run.js";
import { detectSandboxSupport } from "../sandbox/sandbox-capabilities.js";

const root = path.resolve(import.meta.dirname, "../../..");
const nativeDir = path.join(root, "build/native");
execFileSync("bash", [path.join(root, "scripts/build-native.sh")], { stdio: "inherit" });
const availability = await ZshForkBroker.available(nativeDir);
const skipSuite = skipOutsideCi(availability.ok ? undefined : availability.reason, "the zsh-fork suite");
// The same probe the exec server uses (bwrap on PATH and able to build namespaces), not a fixed path.
const bwrap = (await detectSandboxSupport()).bwrap;
const skipBwrap = skipOutsideCi(bwrap.ok ? undefined : bwrap.reason, "zsh-fork across a bwrap sandbox");

const PATH = "/usr/bin:/bin";
const MAX_CAPTURE = 8 * 1024 * 1024;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  intercepts: ExecIntercept[];
}

/** Decides every exec the same way and records what was asked. */
function always(decision: EscalationDecision, reason?: string): { decide: DecideFn; intercepts: ExecIntercept[] } {
  const intercepts: ExecIntercept[] = [];
  return {
    intercepts,
    decide: async (req) => {
      intercepts.push(req);
      return { decision, reason };
    },
  };
}

function collect(proc: ChildProcess, stdin?: Buffer): Promise<Omit<Run, "intercepts">> {
  const out: Buffer[] = [];
  let outSize = 0;
  let stderr = "";
  proc.stdout?.on("data", (b: Buffer) => {
    if (outSize + b.length <= MAX_CAPTURE) out.push(b);
    outSize += b.length;
  });
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (s: string) => {
    if (stderr.length < MAX_CAPTURE) stderr += s;
  });
  if (stdin) proc.stdin?.end(stdin);
  else proc.stdin?.end();
  return new Promise((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr }));
  });
}

describe.skipIf(skipSuite)("ZshForkBroker (real zsh and shim)", () => {
  let runtimeDir: string;
  let work: string;
  let broker: ZshForkBroker;

  beforeAll(async () => {
    runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), "zf-rt-"));
    fs.chmodSync(runtimeDir, 0o700);
    work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "zf-work-")));
    broker = new ZshForkBroker({ runtimeDir, nativeDir });
  });

  afterAll(async () => {
    await broker.close();
    expect(processesMentioning(runtimeDir)).toEqual([]); // the broker carries its socket path
    fs.rmSync(runtimeDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function launch(commandLine: string, decide: DecideFn, extraEnv: Record<string, string> = {}): Promise<ZshForkLaunch> {
    return broker.prepare(`p-${randomBytes(4).toString("hex")}`, commandLine, decide, { PATH, HOME: work, ...extraEnv });
  }

  async function run(commandLine: string, decision: EscalationDecision | DecideFn, opts: { stdin?: Buffer; env?: Record<string, string> } = {}): Promise<Run> {
    const d = typeof decision === "string" ? always(decision, "not allowed in this test") : { decide: decision, intercepts: [] };
    const l = await launch(commandLine, d.decide, opts.env);
    try {
      const proc = spawn(l.file, l.argv.slice(1), { argv0: l.argv[0], env: l.env, cwd: work, stdio: "pipe" });
      return { ...(await collect(proc, opts.stdin)), intercepts: d.intercepts };
    } finally {
      await l.dispose();
    }
  }

  it("runs a pipeline in place and asks once per external command", async () => {
    const r = await run("/bin/echo hi | tr a-z A-Z", "run");
    expect(r.stdout.toString()).toBe("HI\n");
    expect(r.code).toBe(0);
    expect(r.intercepts.map((i) => path.basename(i.file)).sort()).toEqual(["echo", "tr"]);
  });

  it("passes the resolved file, argv, cwd and the env without the shim's variables", async () => {
    const r = await run("tr a-z A-Z </dev/null; (cd /tmp && ls -d . >/dev/null)", "run", { env: { FOO: "bar baz" } });
    expect(r.code).toBe(0);
    expect(r.intercepts).toHaveLength(2);
    const [tr, ls] = r.intercepts as [ExecIntercept, ExecIntercept];
    expect(tr.file).toBe("/usr/bin/tr");
    expect(tr.argv).toEqual(["tr", "a-z", "A-Z"]);
    expect(tr.cwd).toBe(work);
    expect(tr.env.FOO).toBe("bar baz");
    expect(tr.env.PATH).toBe(PATH);
    expect(Object.keys(tr.env).filter((k) => k === "LD_PRELOAD" || k.startsWith("TETHER_"))).toEqual([]);
    expect(ls.file).toBe("/usr/bin/ls");
    expect(ls.cwd).toBe("/tmp");
  });

  it("carries awkward bytes and large requests exactly", async () => {
    const odd = 'quote" back\\slash\ttab\nnewline \u0001 ünï';
    const big = "x".repeat(120_000); // several socket reads on the broker's side
    const r = await run('printf %s "$ODD" | od -An -c >/dev/null; printenv BIG | wc -c', "escalate", { env: { ODD: odd, BIG: big } });
    expect(r.stdout.toString().trim()).toBe(String(big.length + 1));
    expect(r.intercepts.find((i) => i.file.endsWith("/od"))?.env.ODD).toBe(odd);
    expect(r.intercepts.find((i) => i.file.endsWith("/printenv"))?.env.BIG).toBe(big);
    const args = await run("/bin/echo \"$ODD\"", "escalate", { env: { ODD: odd } });
    expect(args.intercepts[0]?.argv).toEqual(["/bin/echo", odd]);
    expect(args.stdout.toString()).toBe(`${odd}\n`);
  });

  it("runs subshells and builtins without asking", async () => {
    const r = await run("(cd /tmp && pwd); echo done", "deny");
    expect(r.stdout.toString()).toBe("/tmp\ndone\n");
    expect(r.intercepts).toEqual([]);
  });

  it("keeps the shim out of the programs it runs: grandchildren are not asked about", async () => {
    const script = path.join(work, "inner.sh");
    fs.writeFileSync(script, "#!/bin/sh\n/bin/true && env | grep -c '^LD_PRELOAD=' || echo clean\n", { mode: 0o755 });
    for (const decision of ["run", "escalate"] as const) {
      const r = await run(`${script}`, decision);
      expect(r.stdout.toString()).toBe("0\nclean\n");
      expect(r.intercepts.map((i) => i.file)).toEqual([script]);
    }
  });

  it("stays passive in programs between the exec server and zsh, which keep the environment", async () => {
    const { decide, intercepts } = always("run");
    const l = await launch("printenv TETHER_ESCALATION_TOKEN || echo stripped", decide);
    // Like the launcher or bwrap: a non-zsh program with the shim loaded execs zsh.
    const proc = spawn("/bin/sh", ["-c", 'exec "$@"', "sh", ...l.argv], { env: l.env, cwd: work });
    const r = await collect(proc);
    await l.dispose();
    expect(r.stdout.toString()).toBe("stripped\n");
    expect(intercepts.map((i) => i.file)).toEqual(["/usr/bin/printenv"]);
  });

  it("leaves a command that does not exist to the shell", async () => {
    const r = await run("no-such-command-here; echo status=$?", "deny");
    expect(r.stdout.toString()).toBe("status=127\n");
    expect(r.intercepts).toEqual([]);
  });

  it("escalates a script without #! by running it with sh", async () => {
    const script = path.join(work, "plain-script");
    fs.writeFileSync(script, "echo plain $1\n", { mode: 0o755 });
    const r = await run(`${script} arg`, "escalate");
    expect(r.stdout.toString()).toBe("plain arg\n");
    expect(r.code).toBe(0);
  });

  it("aborts the pending decision when the shell goes away", async () => {
    let asked: () => void = () => {};
    const wasAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const aborted = new Promise<unknown>((resolve) => {
      void (async () => {
        const l = await launch("ls /", (_req, signal) => {
          asked();
          signal.addEventListener("abort", () => resolve(signal.reason));
          return new Promise(() => {});
        });
        const proc = spawn(l.file, l.argv.slice(1), { env: l.env, cwd: work, detached: true, stdio: "ignore" });
        await wasAsked;
        process.kill(-proc.pid!, "SIGKILL");
      })();
    });
    expect(await aborted).toMatchObject({ name: "TetherError" });
  });

  it("fails closed while the broker is down and starts a new one on the next prepare", async () => {
    const own = new ZshForkBroker({ runtimeDir, nativeDir });
    try {
      let socketDir = "";
      // Kills the broker while it waits for this decision.
      const decide: DecideFn = async (req) => {
        if (req.argv[0] === "sh") for (const pid of processesMentioning(socketDir)) process.kill(pid, "SIGKILL");
        return { decision: "run" };
      };
      const l2 = await own.prepare("p2", "/bin/echo one; sh -c true; /bin/echo two; echo status=$?", decide, { PATH });
      socketDir = path.dirname(l2.env.TETHER_ESCALATION_SOCKET!);
      const r = await collect(spawn(l2.file, l2.argv.slice(1), { env: l2.env, cwd: work }));
      expect(r.stdout.toString()).toBe("one\nstatus=126\n");
      expect(r.stderr).toMatch(/tether: command denied: escalation broker/);
      await l2.dispose();
      const again = await own.prepare("p3", "/bin/echo back", always("run").decide, { PATH });
      const r3 = await collect(spawn(again.file, again.argv.slice(1), { env: again.env, cwd: work }));
      await again.dispose();
      expect(r3.stdout.toString()).toBe("back\n");
    } finally {
      await own.close();
    }
  });

  it("lets an escalated command use the shell's terminal and get its ^C", async () => {
    const intercepts: ExecIntercept[] = [];
    let asked: () => void = () => {};
    const wasAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const decide: DecideFn = async (req) => {
      intercepts.push(req);
      asked();
      return { decision: "escalate" };
    };
    const l = await launch("cat; echo after=$?", decide);
    const term = pty.spawn(l.file, l.argv.slice(1), { cols: 80, rows: 24, cwd: work, env: l.env });
    let screen = "";
    const waitFor = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (screen.includes(text)) {
            sub.dispose();
            resolve();
          }
        };
        const sub = term.onData((d) => {
          screen += d;
          check();
        });
        check();
      });
    const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit(resolve));
    await wasAsked;
    term.write("hello\r");
    await waitFor("hello\r\nhello\r\n"); // the terminal's echo, then cat's copy
    term.write("\x03");
    const end = await exited;
    await l.dispose();
    // cat died of the forwarded SIGINT, and the shell, seeing that, stopped like a shell does.
    expect(end.signal ?? end.exitCode - 128).toBe(os.constants.signals.SIGINT);
    expect(screen).not.toContain("after=");
    expect(intercepts).toHaveLength(1);
  });

  it("wraps the rest of the exec family and posix_spawn the same way", async () => {
    const probe = path.join(work, "zsh-probe"); // the shim is active only in a zsh-named image
    execFileSync("cc", ["-O2", "-o", probe, path.join(import.meta.dirname, "native/exec-family-probe.c")]);
    for (const fn of ["execv", "execvp", "execl", "execlp", "execle", "spawnp"]) {
      for (const decision of ["run", "escalate", "deny"] as const) {
        const { decide, intercepts } = always(decision, `no ${fn}`);
        const l = await launch("unused", decide);
        const r = await collect(spawn(probe, [fn], { env: l.env, cwd: work }));
        await l.dispose();
        const what = `${fn} ${decision}`;
        const viaPath = fn === "execvp" || fn === "execlp" || fn === "spawnp";
        expect(intercepts.map((i) => [i.file, ...i.argv]), what).toEqual([[viaPath ? "/usr/bin/sh" : "/bin/sh", "sh", "-c", "exit 3"]]);
        if (decision === "deny") expect(r.stderr, what).toBe(`tether: command denied: no ${fn}\n`);
        if (fn === "spawnp") {
          expect(r.stdout.toString(), what).toBe(decision === "deny" ? `rc=${os.constants.errno.EACCES} exit=0\n` : "rc=0 exit=3\n");
        } else {
          expect(r.code, what).toBe(decision === "deny" ? 126 : 3);
        }
      }
    }
  });

  it("keeps other LD_PRELOAD entries for the programs it runs", async () => {
    const r = await run("printenv LD_PRELOAD", "run", { env: { LD_PRELOAD: "libc.so.6" } });
    expect(r.stdout.toString()).toBe("libc.so.6\n");
  });

  it("denies with exit code 126 and the reason on stderr", async () => {
    const r = await run("ls /; echo status=$?", always("deny", "ls is not allowed").decide);
    expect(r.stdout.toString()).toBe("status=126\n");
    expect(r.stderr).toBe("tether: command denied: ls is not allowed\n");
    const last = await run("ls /", "deny");
    expect(last.code).toBe(126);
  });

  it("denies when the decision throws", async () => {
    const r = await run("ls /", async () => {
      throw new Error("controller went away");
    });
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^tether: command denied: .*controller went away\n$/);
  });

  it("denies when the token is unknown or the broker is unreachable", async () => {
    const l = await launch("ls /", always("run").decide);
    await l.dispose();
    const gone = await collect(spawn(l.file, l.argv.slice(1), { env: l.env, cwd: work }));
    expect(gone.code).toBe(126);
    expect(gone.stderr).toMatch(/unknown escalation token/);
    const l2 = await launch("ls /", always("run").decide);
    const env = { ...l2.env, TETHER_ESCALATION_SOCKET: path.join(work, "no-such.sock") };
    const unreachable = await collect(spawn(l2.file, l2.argv.slice(1), { env, cwd: work }));
    await l2.dispose();
    expect(unreachable.code).toBe(126);
    expect(unreachable.stderr).toMatch(/^tether: command denied: escalation broker unreachable/);
  });

  it("gives the shell the escalated command's exit code", async () => {
    const r = await run('sh -c "exit 7"; echo status=$?; sh -c "kill -TERM \\$\\$"; echo status=$?', "escalate");
    expect(r.stdout.toString()).toBe(`status=7\nstatus=${128 + os.constants.signals.SIGTERM}\n`);
    const last = await run('sh -c "exit 7"', "escalate");
    expect(last.code).toBe(7);
  });

  it("hands the shell's stdin and stdout to an escalated command byte for byte", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const r = await run("cat | cat", "escalate", { stdin: data });
    expect(r.code).toBe(0);
    expect(r.intercepts).toHaveLength(2);
    expect(r.stdout.equals(data)).toBe(true);
    const err = await run("sh -c 'echo to-stderr >&2; exit 3'", "escalate");
    expect(err.stderr).toBe("to-stderr\n");
    expect(err.code).toBe(3);
  });

  it("decides one process's requests while another's decision is still pending", async () => {
    let releaseFirst: (d: DecisionResult) => void = () => {};
    const held = new Promise<DecisionResult>((resolve) => {
      releaseFirst = resolve;
    });
    let firstSeen: () => void = () => {};
    const seen = new Promise<void>((resolve) => {
      firstSeen = resolve;
    });
    const slow = run("/bin/echo slow", async () => {
      firstSeen();
      return held;
    });
    await seen;
    const fast = await run("/bin/echo fast", "run");
    expect(fast.stdout.toString()).toBe("fast\n");
    releaseFirst({ decision: "run" });
    expect((await slow).stdout.toString()).toBe("slow\n");
  });

  it("forwards Ctrl-C to an escalated command and kills it when the shell dies", async () => {
    const l = await launch(
      "sh -c 'trap \"echo got-int; exit 5\" INT; echo ready; while :; do sleep 0.05; done'",
      always("escalate").decide,
    );
    const proc = spawn(l.file, l.argv.slice(1), { env: l.env, cwd: work, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const done = collect(proc);
    await new Promise<void>((resolve) => {
      proc.stdout?.on("data", (b: Buffer) => {
        if (b.toString().includes("ready")) resolve();
      });
    });
    process.kill(-proc.pid!, "SIGINT"); // what a terminal's ^C does to the foreground group
    const r = await done;
    await l.dispose();
    expect(r.stdout.toString()).toContain("got-int");

    // SIGKILL the whole shell group: the broker sees the hang-up and kills the command,
    // which closes the last writer of our stdout pipe.
    const l2 = await launch("sh -c 'echo ready; exec sleep 1000'", always("escalate").decide);
    const proc2 = spawn(l2.file, l2.argv.slice(1), { env: l2.env, cwd: work, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const done2 = collect(proc2);
    await new Promise<void>((resolve) => proc2.stdout?.once("data", () => resolve()));
    process.kill(-proc2.pid!, "SIGKILL");
    const r2 = await done2;
    await l2.dispose();
    expect(r2.signal).toBe("SIGKILL");
  });

  it("kills a process's escalated commands when the process is disposed", async () => {
    const l = await launch("sh -c 'echo ready; exec sleep 1000'", always("escalate").decide);
    const proc = spawn(l.file, l.argv.slice(1), { env: l.env, cwd: work });
    const done = collect(proc);
    await new Promise<void>((resolve) => proc.stdout?.once("data", () => resolve()));
    await l.dispose();
    const r = await done;
    // zsh exec'd the last command itself, so the shell ends the way the command did.
    expect(r.signal).toBe("SIGKILL");
  });

  it.skipIf(skipBwrap)("escalation crosses a bwrap sandbox; run stays inside", async () => {
    const socketDir = path.dirname((await launch("true", always("run").decide)).env.TETHER_ESCALATION_SOCKET!);
    for (const decision of ["run", "escalate"] as const) {
      const target = path.join(work, `touched-${decision}`);
      const { decide, intercepts } = always(decision);
      const l = await launch(`touch ${target}; echo status=$?`, decide);
      const argv = ["--ro-bind", "/", "/", "--bind", socketDir, socketDir, "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--", ...l.argv];
      const r = await collect(spawn("bwrap", argv, { env: l.env, cwd: work }));
      await l.dispose();
      expect(r.code).toBe(0);
      // bwrap loads the shim too but stays passive: only the shell's own exec is asked about.
      expect(intercepts.map((i) => i.argv)).toEqual([["touch", target]]);
      if (decision === "run") {
        expect(r.stdout.toString()).toBe("status=1\n");
        expect(fs.existsSync(target)).toBe(false);
      } else {
        expect(r.stdout.toString()).toBe("status=0\n");
        expect(fs.existsSync(target)).toBe(true);
      }
    }
  });

  it("leaves no process behind when closed", async () => {
    const own = new ZshForkBroker({ runtimeDir, nativeDir });
    const l = await own.prepare("bg", "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!'", always("escalate").decide, { PATH });
    const r = await collect(spawn(l.file, l.argv.slice(1), { env: l.env, cwd: work }));
    const orphan = Number(r.stdout.toString().trim());
    expect(orphan).toBeGreaterThan(1);
    expect(isAlive(orphan)).toBe(true);
    const socketDir = path.dirname(l.env.TETHER_ESCALATION_SOCKET!);
    await l.dispose();
    await own.close();
    expect(isAlive(orphan)).toBe(false);
    expect(processesMentioning(socketDir)).toEqual([]);
    expect(fs.existsSync(socketDir)).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat); // a zombie is already dead
  } catch {
    return false;
  }
}

/** Pids whose command line mentions `needle` (the broker carries its socket path). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}
