import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Child } from "./child.js";
import { launcherPath } from "./launcher-path.js";
import { PidsCgroup } from "./pids-cgroup.js";
import { PrejoinedLaunchers } from "./prejoined-launchers.js";
import { Zygote } from "./zygote.js";
import { skipTestOutsideCi } from "../../../test/support/ci-must-run.js";

describe("PrejoinedLaunchers", () => {
  let cgroups: PidsCgroup | undefined;
  let why = "";
  beforeAll(async () => {
    const probe = await PidsCgroup.detect({ name: `tether-test-prejoin-${process.pid}` });
    if (probe.ok) cgroups = probe.cgroups;
    else why = probe.reason;
  });
  afterAll(() => cgroups?.close());

  it("hands a Start a launcher already in its pids cgroup, which still caps the tree, and refills", async (ctx) => {
    skipTestOutsideCi(ctx, cgroups ? undefined : why, "the prejoined launcher test");
    if (!cgroups) throw new Error("unreachable: skipTestOutsideCi returns only when cgroups exist");
    const zygote = Zygote.beside(launcherPath());
    if (!zygote) throw new Error("tether-zygote is not built (scripts/build-native.sh)");
    const pool = new PrejoinedLaunchers(zygote, cgroups, 1);
    try {
      expect(pool.take(4)).toBeUndefined(); // empty until the first refill
      pool.refill(4);
      // The refill is in the background by design; wait for it on the event, bounded.
      let ready = pool.take(4);
      for (let i = 0; ready === undefined && i < 500; i++) {
        await new Promise((r) => setTimeout(r, 10));
        ready = pool.take(4);
      }
      if (!ready) throw new Error("the pool never filled");
      // Its child is in the cgroup before any request (the launcher counts: pids.current 1).
      for (let i = 0; readFileSync(`${ready.cgroup.dir}/pids.current`, "utf8").trim() !== "1" && i < 500; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(readFileSync(`${ready.cgroup.dir}/pids.current`, "utf8").trim()).toBe("1");
      // launcher + sh + 2 sleeps fill the 4 slots; the third sleep cannot fork.
      const child = await Child.spawn(
        { file: "/bin/sh", argv: ["sh", "-c", "cat /proc/self/cgroup; sleep 0.2 & sleep 0.2 & sleep 0.2 & wait; echo done"], cwd: "/", env: { PATH: "/usr/bin:/bin" }, stdinOpen: false, cgroup: ready.cgroup.dir },
        { launcherPath: launcherPath(), zygote, prejoined: ready.prejoined },
      );
      let out = "";
      using _ = child.onOutput((_s, d) => (out += d.toString()));
      await child.exited;
      expect(out).toContain(ready.cgroup.dir.slice(ready.cgroup.dir.indexOf("/tether-test-prejoin-")));
      expect(out).toMatch(/Cannot fork|Resource temporarily unavailable/);
      expect((await ready.cgroup.finish()).pidsLimitHits).toBeGreaterThan(0);
      pool.refill(4);
    } finally {
      await pool.close();
      await zygote.close();
    }
    await cgroups.close();
    expect(existsSync(cgroups.parent)).toBe(false); // the pool's waiting cgroup was removed too
    cgroups = undefined;
  });
});
