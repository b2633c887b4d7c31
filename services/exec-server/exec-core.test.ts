import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability } from "../../gen/tether/exec/v1/environment_pb.js";
import { ErrorCode } from "../common/tether-error.js";
import { ZshForkBroker } from "./escalation/zsh-fork.js";
import { ExecCore } from "./exec-core.js";
import { launcherPath } from "./process/launcher-path.js";
import { detectSandboxSupport } from "./sandbox/sandbox-capabilities.js";

let core: ExecCore;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "tether-core-"));
  core = await ExecCore.create({ defaultCwd: dir });
});
afterAll(async () => {
  await core.close();
  await rm(dir, { recursive: true, force: true });
});

async function* once(data: string) {
  yield Buffer.from(data);
}

describe("ExecCore", () => {
  it("does not serve /proc through the file API (the server's own environment lives there)", async () => {
    const signal = new AbortController().signal;
    const policy = core.filePolicyFor("");
    const read = async () => {
      for await (const _ of core.files.readFile({ path: "/proc/self/environ" }, { signal, policy })) {
        // Reaching here would be the bug.
      }
    };
    await expect(read()).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
    await expect(core.files.stat({ path: "/proc/1/environ" }, { signal, policy })).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
  });

  it("creates files without setuid, setgid or sticky bits whatever mode is asked", async () => {
    const signal = new AbortController().signal;
    const file = path.join(dir, "suid");
    await core.files.writeFile({ path: file, mode: 0o6755 }, once("x"), { signal, policy: core.filePolicyFor("") });
    expect((await stat(file)).mode & 0o7777).toBe(0o755);
  });

  it("lists what this host supports and why the rest is missing, as the probes find it", async () => {
    expect(core.facts.capabilities).toContain(Capability.PTY);
    // Independent probes of this machine decide what the facts must say, and each missing
    // capability carries the probe's reason (not merely "listed or explained").
    const bwrap = (await detectSandboxSupport()).bwrap;
    const zsh = await ZshForkBroker.available(path.dirname(launcherPath()));
    const expected = {
      sandbox_bwrap: [Capability.SANDBOX_BWRAP, bwrap.ok ? undefined : bwrap.reason],
      zsh_fork: [Capability.ZSH_FORK, zsh.ok ? undefined : zsh.reason],
    } as const;
    for (const [name, [capability, reason]] of Object.entries(expected)) {
      expect({ name, listed: core.facts.capabilities.includes(capability), reason: core.facts.unavailable[name] }).toEqual({
        name,
        listed: reason === undefined,
        reason,
      });
    }
  });

  it("refuses an unknown default sandbox mode with the choices", async () => {
    await expect(ExecCore.create({ defaultSandboxMode: "open" })).rejects.toThrow(/full-access, read-only, workspace-write/);
  });
});
