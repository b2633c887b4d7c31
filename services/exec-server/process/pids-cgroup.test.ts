import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Child } from "./child.js";
import { launcherPath } from "./launcher-path.js";
import { PidsCgroup } from "./pids-cgroup.js";
import { skipTestOutsideCi } from "../../../test/support/ci-must-run.js";

describe("PidsCgroup.detect", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-cgroup-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("says why when no pids controller is mounted", async () => {
    const mounts = join(dir, "mounts");
    await writeFile(mounts, "proc /proc proc rw 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n");
    const probe = await PidsCgroup.detect({ mountsFile: mounts, selfCgroupFile: join(dir, "none") });
    expect(probe).toEqual({ ok: false, reason: expect.stringMatching(/no cgroup pids controller/) });
  });

  it("says why when the cgroup fs is not writable", async () => {
    const mounts = join(dir, "mounts-ro");
    await writeFile(mounts, `cgroup ${join(dir, "missing", "pids")} cgroup rw,pids 0 0\n`);
    await writeFile(join(dir, "missing"), "a file, so nothing can be created below it");
    const probe = await PidsCgroup.detect({ mountsFile: mounts, selfCgroupFile: join(dir, "none") });
    expect(probe).toEqual({ ok: false, reason: expect.stringMatching(/cannot create .*needs write access/) });
  });
});

describe("PidsCgroup on this machine", () => {
  let cgroups: PidsCgroup | undefined;
  let why = "";
  beforeAll(async () => {
    const probe = await PidsCgroup.detect({ name: `tether-test-${process.pid}` });
    if (probe.ok) cgroups = probe.cgroups;
    else why = probe.reason;
  });
  afterAll(() => cgroups?.close());

  it("caps a process tree's tasks through tether-launch --cgroup and counts refused forks", async (ctx) => {
    skipTestOutsideCi(ctx, cgroups ? undefined : why, "the pids cgroup test");
    if (!cgroups) throw new Error("unreachable: skipTestOutsideCi returns only when cgroups exist");
    const cg = await cgroups.create(4);
    expect(readFileSync(join(cg.dir, "pids.max"), "utf8").trim()).toBe("4");
    // launcher + sh + 2 sleeps fill the 4 slots; the third sleep cannot fork.
    const child = await Child.spawn(
      { file: "/bin/sh", argv: ["sh", "-c", "sleep 0.2 & sleep 0.2 & sleep 0.2 & wait; echo done"], cwd: "/", env: { PATH: "/usr/bin:/bin" }, stdinOpen: false, cgroup: cg.dir },
      { launcherPath: launcherPath() },
    );
    let out = "";
    using _ = child.onOutput((_s, d) => (out += d.toString()));
    await child.exited;
    expect(out).toMatch(/Cannot fork|Resource temporarily unavailable/);
    const outcome = await cg.finish();
    expect(outcome.pidsLimitHits).toBeGreaterThan(0);
    expect(await cg.finish()).toBe(await cg.finish());
    await cgroups.close();
    expect(existsSync(cg.dir)).toBe(false);
    expect(existsSync(cgroups.parent)).toBe(false);
    cgroups = undefined;
  });

  it("reports a cgroup that cannot be joined as a start error", async () => {
    const err = await Child.spawn(
      { file: "/bin/true", argv: ["true"], cwd: "/", env: {}, stdinOpen: false, cgroup: "/nonexistent/cgroup" },
      { launcherPath: launcherPath() },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/tether-launch failed \(cgroup\)/);
  });
});

describe("tether-launch --cgroup on cgroup v2", () => {
  // Any writable cgroup2 mount will do (no controller is needed to see membership); on a
  // hybrid host that is the unified mount.
  const mount = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[2] === "cgroup2")?.[1];

  it("clones the target straight into the cgroup (clone3 CLONE_INTO_CGROUP); the launcher stays out", async (ctx) => {
    const dir = mount && join(mount, `tether-test-clone3-${process.pid}`);
    const made = dir ? await mkdir(dir).then(() => undefined, (e: unknown) => `cannot create a cgroup under ${mount}: ${String(e)}`) : "no cgroup2 mount";
    skipTestOutsideCi(ctx, made, "the clone3 cgroup test");
    if (!dir) throw new Error("unreachable: skipTestOutsideCi returns only when the cgroup exists");
    try {
      const child = await Child.spawn(
        { file: "/bin/sh", argv: ["sh", "-c", "grep '^0::' /proc/self/cgroup; grep '^0::' /proc/$PPID/cgroup"], cwd: "/", env: { PATH: "/usr/bin:/bin" }, stdinOpen: false, cgroup: dir },
        { launcherPath: launcherPath() },
      );
      let out = "";
      using _ = child.onOutput((_s, d) => (out += d.toString()));
      await child.exited;
      const [target, launcher] = out.trim().split("\n");
      const name = dir.slice(mount.length);
      expect(target).toBe(`0::${name}`);
      expect(launcher).not.toBe(`0::${name}`);
    } finally {
      await rmdir(dir).catch(() => undefined);
    }
  });
});
