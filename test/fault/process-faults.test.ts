// Process-level faults: a process that ignores SIGTERM, an exec server SIGKILLed and
// restarted under its clients, and a fork bomb inside the sandbox held by the
// per-process pids cgroup. Each ends with nothing left behind.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type FuzzServer, fuzzClients, startFuzzServer } from "../support/fuzz-server.js";
import { descendants, processesWithMarker, startServerProcess } from "../support/load-server-process.js";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { failure } from "../support/failure.js";
import { skipTestOutsideCi } from "../support/ci-must-run.js";

type Clients = ReturnType<typeof fuzzClients>;

/** Polls state owned by the kernel or another process, which sends us no events. */
async function until(what: string, ok: () => boolean | Promise<boolean>, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once the process printed `text`. */
async function waitForOutput(c: Clients, processId: string, text: string): Promise<void> {
  let seen = "";
  for await (const ev of c.process.attach({ processId })) {
    if (ev.event.case === "output") seen += Buffer.from(ev.event.value.data).toString();
    if (seen.includes(text)) return;
    if (ev.event.case === "exited") throw new Error(`${processId} exited before printing ${text}: ${seen}`);
  }
}

/** The last 2 KiB a process printed (stdout and stderr), read back after its exit. */
async function outputTail(c: Clients, processId: string): Promise<string> {
  let seen = "";
  for await (const ev of c.process.attach({ processId })) {
    if (ev.event.case === "output") seen = (seen + Buffer.from(ev.event.value.data).toString()).slice(-2048);
    if (ev.event.case === "exited") break;
  }
  return JSON.stringify(seen);
}

/** The v1 pids cgroups an exec server process created (none where that hierarchy is absent). */
function pidsCgroupsOf(pid: number): string[] {
  const base = "/sys/fs/cgroup/pids";
  return existsSync(base) ? readdirSync(base).filter((d) => d.startsWith(`tether-${pid}-`)) : [];
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !isZombie(pid);
function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe("a process that ignores SIGTERM", () => {
  let fuzz: FuzzServer;
  beforeAll(async () => {
    fuzz = await startFuzzServer({ defaultSandboxMode: "full-access" });
  });
  afterAll(() => fuzz?.close());

  it("is SIGKILLed after the grace period, and the exit status says why", async () => {
    const c = fuzz.clients;
    // Unsandboxed on purpose: in a sandbox bwrap leads the group and dies of TERM itself.
    await c.process.start({
      processId: "stubborn",
      spec: { argv: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"] },
    });
    await waitForOutput(c, "stubborn", "ready");
    const { status } = await c.process.terminate({ processId: "stubborn", graceMs: 300 });
    expect(status).toMatchObject({ signal: 9, signalName: "SIGKILL", timedOut: false });
    expect(status?.reason).toMatch(/terminated by request; still running 300 ms after SIGTERM, so killed with SIGKILL/);
    expect(descendants(process.pid).filter((p) => p.comm === "sleep")).toEqual([]);
  });

  it("exits by TERM when it does not ignore it, with no SIGKILL in the reason", async () => {
    const c = fuzz.clients;
    await c.process.start({ processId: "polite", spec: { argv: ["sh", "-c", "echo ready; exec sleep 600"] } });
    await waitForOutput(c, "polite", "ready");
    const { status } = await c.process.terminate({ processId: "polite", graceMs: 30_000 });
    expect(status).toMatchObject({ signal: 15, reason: "terminated by request" });
  });
});

describe("a session closed while one of its processes is starting", () => {
  let fuzz: FuzzServer;
  beforeAll(async () => {
    fuzz = await startFuzzServer();
  });
  afterAll(() => fuzz?.close());

  it("takes the process with it: either the Start fails or the process is killed", async () => {
    const c = fuzz.clients;
    for (let i = 0; i < 8; i++) {
      const sessionId = `closing-${i}`;
      await c.session.openSession({ sessionId });
      // Sandboxed, so the spawn takes long enough for the close to land in the middle.
      const starting = c.process
        .start({ processId: `starting-${i}`, sessionId, spec: { argv: ["sleep", "600"], sandbox: { mode: SandboxMode.READ_ONLY } } })
        .then(
          () => "started" as const,
          (err: unknown) => err as TetherError,
        );
      await c.session.closeSession({ sessionId });
      const outcome = await starting;
      if (outcome === "started") {
        const wait = await c.process.wait({ processId: `starting-${i}` }, { timeoutMs: 10_000 }).catch((err: unknown) => err as TetherError);
        // Either it was killed, or it was already forgotten with its session.
        if (wait instanceof TetherError) expect(wait.code).toBe(ErrorCode.NotFound);
        else expect(wait.status).toMatchObject({ signal: 9 });
      } else {
        expect([ErrorCode.NotFound, ErrorCode.FailedPrecondition, ErrorCode.Cancelled]).toContain(outcome.code);
      }
    }
    expect(fuzz.core.processes.runningCount).toBe(0);
  });
});

describe("an exec server SIGKILLed and restarted", () => {
  it("leaves no process behind, and a reconnecting client learns its session and processes are gone", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "tether-restart-")));
    const marker = `restart-marker-${process.pid}`;
    try {
      const first = await startServerProcess({ dir });
      const c = fuzzClients(first.url);
      await c.session.openSession({ sessionId: "s1" });
      // A session process with children of its own, and a server-owned one.
      await c.process.start({ processId: "p1", sessionId: "s1", spec: { argv: ["sh", "-c", `sleep 600 & sleep 600 & echo ready; wait`, marker] } });
      await waitForOutput(c, "p1", "ready");
      await c.process.start({ processId: "p2", spec: { argv: ["sh", "-c", "exec sleep 600", marker] } });
      // Three sleeps: p1's two and p2's (its shell exec'd sleep, so only p1 still carries the marker).
      await until("both processes to run", () => descendants(first.pid).filter((p) => p.comm === "sleep").length >= 3);
      const before = descendants(first.pid).map((p) => p.pid);
      const hadCgroups = pidsCgroupsOf(first.pid).length > 0;
      expect(before.length).toBeGreaterThanOrEqual(5); // launchers, shells, sleeps

      await first.stop("SIGKILL");
      // With cgroups, the SIGKILL leaves them behind (the restart below sweeps them).
      expect(pidsCgroupsOf(first.pid).length > 0).toBe(hadCgroups);
      // Each launcher sees the server go (PDEATHSIG, or EOF on its control socket when the
      // zygote forked it) and kills and reaps its whole tree.
      await until("every child of the killed server to be gone", () => before.every((pid) => !alive(pid)));
      expect(processesWithMarker(marker).filter(alive)).toEqual([]);

      const second = await startServerProcess({ dir });
      try {
        // The dead server's pids cgroups (if this machine has them) are swept by the new one.
        expect(pidsCgroupsOf(first.pid)).toEqual([]);
        // The same channel reconnects to the new server on the same socket path.
        const opened = await c.session.openSession({ sessionId: "s1" }, { waitForReady: true, timeoutMs: 10_000 });
        expect(opened.resumed).toBe(false);
        const gone = await failure(c.process.wait({ processId: "p1" }));
        expect(gone.code).toBe(ErrorCode.NotFound);
        expect(gone.message).toMatch(/no process "p1"/);
        expect((await failure(c.process.attach({ processId: "p2" })[Symbol.asyncIterator]().next())).code).toBe(ErrorCode.NotFound);
        expect((await c.process.list({ includeExited: true })).processes).toEqual([]);
      } finally {
        c.raw.close();
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a fork bomb in the sandbox", () => {
  const PIDS_MAX = 128;
  let fuzz: FuzzServer;
  beforeAll(async () => {
    fuzz = await startFuzzServer({ limits: { maxPidsPerProcess: PIDS_MAX } });
  });
  afterAll(() => fuzz?.close());

  it("is held by the per-process pids limit, killed by its wall timeout, and leaves nothing behind", async (ctx) => {
    skipTestOutsideCi(ctx, fuzz.core.facts.unavailable?.pids_limit, "the fork bomb test (needs a pids cgroup)");
    const c = fuzz.clients;
    const marker = `fork-bomb-${process.pid}`;
    await c.process.start({
      processId: "bomb",
      spec: {
        // $0 carries the marker into every fork's command line. The top shell forks once
        // (`b &`), while its cgroup is nearly empty, then waits on stdin, so the bomb runs until
        // the wall timeout even when every later fork fails. Not `b; read x`: dash forks each
        // element of a pipeline itself, and under load the first element's bomb could fill the
        // cgroup before the top shell's second fork ("Cannot fork", exit 2 long before the timeout).
        argv: ["sh", "-c", "b() { b | b & }; b & read x", marker],
        stdinOpen: true,
        sandbox: { mode: SandboxMode.READ_ONLY },
        timeouts: { wallMs: 3000, killGraceMs: 200 },
      },
    });
    const waiting = c.process.wait({ processId: "bomb" });
    const cgroups = fuzz.core.cgroups!;
    const procDirs = () => readdirSync(cgroups.parent).filter((d) => d.startsWith("proc-"));
    // Forks refused in one cgroup; 0 for one removed since the listing (a spare launcher's, let go).
    const hits = (d: string) => {
      let events = "";
      try {
        events = readFileSync(join(cgroups.parent, d, "pids.events"), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      return Number(/^max (\d+)$/m.exec(events)?.[1] ?? 0);
    };
    const limitHits = () => procDirs().reduce((n, d) => n + hits(d), 0);
    // While it rages against the limit, the server answers and other work runs.
    await until("the bomb to hit its pids limit", () => limitHits() > 0, 10_000);
    // The bomb's own cgroup: the server also keeps launchers waiting in fresh cgroups (prejoined-launchers.ts).
    const bombDirs = procDirs().filter((d) => hits(d) > 0);
    expect(bombDirs.length).toBe(1);
    expect(await fuzz.healthy()).toBe(true);
    await c.process.start({ processId: "bystander", spec: { argv: ["sh", "-c", "exit 4"] } });
    expect((await c.process.wait({ processId: "bystander" })).status?.code).toBe(4);

    const { status } = await waiting;
    // What the bomb's top shell said and how it ended, so a failure shows what was seen.
    const seen = `status ${JSON.stringify(status, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}; output: ${await outputTail(c, "bomb")}`;
    expect(status?.timedOut, `the bomb ended before its wall timeout: ${seen}`).toBe(true);
    expect(status?.reason, seen).toMatch(/wall timeout of 3000 ms reached/);
    expect(status?.reason, seen).toMatch(new RegExp(`limit of ${PIDS_MAX} tasks \\(\\d+ forks refused\\)`));
    await until("every bomb process to be gone", () => processesWithMarker(marker).filter(alive).length === 0, 10_000);
    // rmdir of a cgroup succeeds only when no task is left in it.
    await until("the bomb's cgroup to be removed", () => procDirs().every((d) => !bombDirs.includes(d)), 5000);
  });
});
