// Per-process cgroups that cap how many tasks a process tree may have (pids.max), so a
// fork bomb hits a wall instead of the machine; root ignores RLIMIT_NPROC, so this
// is the only bound that holds for it. Works on cgroup v2 (pids enabled at the mount
// root) and on v1's pids hierarchy. The launcher joins the cgroup before it forks.
// Per-process cgroup files are touched with synchronous calls: on cgroupfs each is a
// few dozen microseconds in the kernel, while a thread-pool round trip per call cost
// the start of every process milliseconds under load.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile, readdir, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, TetherError, errnoCode } from "../../common/tether-error.js";
import { type Clock, systemClock } from "./stopwatch.js";

export interface ProcessCgroup {
  /** The cgroup directory the launcher joins (tether-launch --cgroup). */
  readonly dir: string;
  /** Reads what the cgroup saw, then removes it; call once the process tree is gone. Idempotent. */
  finish(): Promise<CgroupOutcome>;
}

export interface CgroupOutcome {
  /** How often a fork failed because pids.max was reached. */
  pidsLimitHits: number;
  /** The kernel's OOM killer killed a task in the cgroup (cgroup v2 memory.events; unknown on v1). */
  oomKilled: boolean;
}

export type CgroupProbe = { ok: true; cgroups: PidsCgroup } | { ok: false; reason: string };

interface Mount {
  version: 1 | 2;
  /** Where new per-server cgroups go. */
  base: string;
}

/** Several exec cores may live in one process (tests, the in-process backend). */
let instances = 0;

export class PidsCgroup {
  readonly parent: string;
  readonly version: 1 | 2;
  #seq = 0;
  #closed = false;
  /** Removals still retrying; close() waits for them before removing the parent. */
  readonly #removing = new Set<Promise<void>>();

  readonly #clock: Clock;

  private constructor(parent: string, version: 1 | 2, clock: Clock) {
    this.parent = parent;
    this.version = version;
    this.#clock = clock;
  }

  /** Finds a writable pids controller and creates this server's parent cgroup in it. */
  static async detect(options: { mountsFile?: string; selfCgroupFile?: string; name?: string; clock?: Clock } = {}): Promise<CgroupProbe> {
    const clock = options.clock ?? systemClock;
    let mount: Mount | undefined;
    try {
      mount = await findPidsMount(options.mountsFile ?? "/proc/self/mounts", options.selfCgroupFile ?? "/proc/self/cgroup");
    } catch (err) {
      return { ok: false, reason: `cannot read the cgroup mounts: ${String(err)}` };
    }
    if (!mount) return { ok: false, reason: "no cgroup pids controller is mounted (cgroup v2 with pids enabled, or v1 pids)" };
    await sweepStale(mount.base, clock);
    const parent = path.join(mount.base, options.name ?? `tether-${process.pid}-${++instances}`);
    try {
      await mkdir(parent, { recursive: true });
      if (mount.version === 2) await writeFile(path.join(parent, "cgroup.subtree_control"), "+pids");
    } catch (err) {
      return { ok: false, reason: `cannot create ${parent}: ${errnoCode(err) ?? String(err)} (the exec server needs write access to the cgroup fs)` };
    }
    return { ok: true, cgroups: new PidsCgroup(parent, mount.version, clock) };
  }

  /**
   * A fresh cgroup limited to `pidsMax` tasks. On a Start's path the calls are synchronous (each
   * ~25 µs; a thread-pool round trip costs more). `background` (the launcher pool's refill) uses
   * the thread pool instead: after a quiet moment the kernel's cgroup lock can be held for an RCU
   * grace period (10–24 ms measured), and blocking the event loop that long held back the exit
   * event of the process that had just ended.
   */
  async create(pidsMax: number, options: { background?: boolean } = {}): Promise<ProcessCgroup> {
    if (this.#closed) throw new TetherError(ErrorCode.Unavailable, "the exec server is shutting down");
    const dir = path.join(this.parent, `proc-${++this.#seq}`);
    try {
      // recursive: another server's sweep (in another pid namespace) may have removed our empty parent.
      if (options.background) {
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, "pids.max"), String(pidsMax));
      } else {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "pids.max"), String(pidsMax));
      }
    } catch (err) {
      tryRmdir(dir); // best effort: the error below is what matters
      throw TetherError.from(err, `cannot set up the pids cgroup ${dir}`);
    }
    let finished: Promise<CgroupOutcome> | undefined;
    return { dir, finish: () => (finished ??= this.#finish(dir)) };
  }

  /** Removes this server's parent cgroup (its children must be finished). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#removing);
    await removeCgroup(this.parent, this.#clock, 1);
  }

  async #finish(dir: string): Promise<CgroupOutcome> {
    const pidsLimitHits = counter(readOrEmpty(path.join(dir, "pids.events")), "max");
    const memoryEvents = this.version === 2 ? readOrEmpty(path.join(dir, "memory.events")) : "";
    // Removal may retry for a moment; the exit status need not wait for it, nor share its
    // turn with the rmdir's dispatch: it starts once the status is on its way (setImmediate).
    const removal = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => removeCgroup(dir, this.#clock))
      .finally(() => this.#removing.delete(removal));
    this.#removing.add(removal);
    return { pidsLimitHits, oomKilled: counter(memoryEvents, "oom_kill") > 0 };
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return ""; // no such counter on this kernel: it counts as zero
  }
}

/** rmdir; the errno on failure, undefined once the directory is gone. */
function tryRmdir(dir: string): string | undefined {
  try {
    rmdirSync(dir);
    return undefined;
  } catch (err) {
    const code = errnoCode(err);
    return code === "ENOENT" ? undefined : (code ?? "EIO");
  }
}

function counter(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * rmdir of a cgroup fails with EBUSY until its last task is released, which can trail
 * the exit a moment; a leftover empty cgroup is harmless, and the next server sweeps it.
 * Asynchronous (thread pool), unlike the other cgroup calls: removing a cgroup that had
 * tasks waits in the kernel (7–17 ms measured here with strace, an RCU grace period once
 * idle), and done synchronously it held back the exit status it follows.
 */
async function removeCgroup(dir: string, clock: Clock, attempts = 20): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    // EACCES/EROFS: not ours to remove; nothing else to do.
    const code = await rmdir(dir).then(
      () => undefined,
      (err: unknown) => errnoCode(err),
    );
    if (code !== "EBUSY") return;
    await new Promise<void>((r) => clock.setTimeout(r, 25 * (attempt + 1)));
  }
}

/** Removes the cgroups of exec servers that died without cleaning up (SIGKILL). */
async function sweepStale(base: string, clock: Clock): Promise<void> {
  const names = await readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^tether-(\d+)(?:-\d+)?$/.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const dir = path.join(base, name);
    for (const child of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory()) await removeCgroup(path.join(dir, child.name), clock);
    }
    await removeCgroup(dir, clock);
  }
}

async function findPidsMount(mountsFile: string, selfCgroupFile: string): Promise<Mount | undefined> {
  const mounts = (await readFile(mountsFile, "utf8")).split("\n").map((line) => line.split(" "));
  const self = await readFile(selfCgroupFile, "utf8").catch(() => "");
  for (const [, dir, type] of mounts) {
    if (type !== "cgroup2" || !dir) continue;
    const controllers = await readFile(path.join(dir, "cgroup.subtree_control"), "utf8").catch(() => "");
    // At the mount root only: below it, "no internal processes" forbids enabling
    // controllers in a cgroup that has members, which is where we would be.
    if (controllers.split(/\s+/).includes("pids")) return { version: 2, base: dir };
  }
  for (const [, dir, type, opts] of mounts) {
    if (type !== "cgroup" || !dir || !opts?.split(",").includes("pids")) continue;
    // Our own pids cgroup (e.g. a container's), so new cgroups stay under its limits.
    const own = /^\d+:(?:[^:]*,)?pids(?:,[^:]*)?:(.*)$/m.exec(self)?.[1] ?? "/";
    return { version: 1, base: path.join(dir, own) };
  }
  return undefined;
}
