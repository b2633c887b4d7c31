import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ResolvedSandbox } from "./sandbox-policy.js";
import { Sandboxer, needsSandbox } from "./sandboxer.js";

const fakeBwrap = async () => ({ bwrap: { ok: true as const, path: "/usr/bin/bwrap", version: "test" } });

function sandbox(partial: Partial<ResolvedSandbox>): ResolvedSandbox {
  return {
    mode: "workspace-write",
    writableRoots: [],
    rules: [],
    network: { mode: "off", allowHosts: [], denyHosts: [] },
    allowedUnixSockets: [],
    ...partial,
  };
}

describe("Sandboxer", () => {
  let dir: string;
  let sandboxer: Sandboxer;
  const cmd = () => ({ file: "/bin/echo", argv: ["echo", "hi"], cwd: dir, env: { A: "1" } });

  beforeEach(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tether-sandboxer-")));
    sandboxer = new Sandboxer({ runtimeDir: path.join(dir, "rt"), detect: fakeBwrap });
  });

  afterEach(async () => {
    await sandboxer.close();
    for (const p of ["rt/hidden-dir", "rt/hidden-file"]) fs.rmSync(path.join(dir, p), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("returns plain full access unchanged, without bwrap", async () => {
    const s = sandbox({ mode: "full-access", network: { mode: "on", allowHosts: [], denyHosts: [] } });
    expect(needsSandbox(s)).toBe(false);
    const wrapped = await sandboxer.wrap(s, cmd());
    expect(wrapped.argv).toEqual(["/bin/echo", "hi"]);
    expect(wrapped.env).toEqual({ A: "1" });
  });

  it("sandboxes full access that carries carve-outs or network limits", () => {
    expect(needsSandbox(sandbox({ mode: "full-access" }))).toBe(true);
    const withRule = sandbox({
      mode: "full-access",
      network: { mode: "on", allowHosts: [], denyHosts: [] },
      rules: [{ pattern: "/x", access: "none" }],
    });
    expect(needsSandbox(withRule)).toBe(true);
  });

  it("fails with FailedPrecondition and a fix when bwrap cannot run, never unsandboxed", async () => {
    const broken = new Sandboxer({
      runtimeDir: path.join(dir, "rt2"),
      detect: async () => ({ bwrap: { ok: false, reason: "bubblewrap (bwrap) is not on PATH: run scripts/setup.sh" } }),
    });
    const err = await broken.wrap(sandbox({ mode: "read-only" }), cmd()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.FailedPrecondition);
    expect((err as TetherError).message).toContain("scripts/setup.sh");
    await broken.close();
  });

  it("builds bwrap argv: namespaces, cwd, the command after --", async () => {
    const wrapped = await sandboxer.wrap(sandbox({ mode: "read-only" }), cmd());
    const argv = wrapped.argv;
    expect(argv[0]).toBe("/usr/bin/bwrap");
    expect(argv.slice(argv.indexOf("--"))).toEqual(["--", "/bin/echo", "hi"]);
    for (const flag of ["--unshare-pid", "--unshare-net", "--die-with-parent", "--new-session"]) expect(argv).toContain(flag);
    expect(argv.join(" ")).toContain(`--chdir ${dir}`);
    expect(argv.join(" ")).toContain("--ro-bind / /");
  });

  it("omits --new-session on a PTY and keeps the network with network on", async () => {
    const wrapped = await sandboxer.wrap(sandbox({ network: { mode: "on", allowHosts: [], denyHosts: [] } }), cmd(), { tty: true });
    expect(wrapped.argv).not.toContain("--new-session");
    expect(wrapped.argv).not.toContain("--unshare-net");
    if (process.arch === "x64" || process.arch === "arm64") {
      // The TIOCSTI filter reaches bwrap on fd 9, opened by a /bin/sh prefix.
      expect(wrapped.argv.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
      expect(wrapped.argv[4]).toBe("/usr/bin/bwrap");
      expect(wrapped.argv.join(" ")).toContain("--seccomp 9");
    }
  });

  it("binds extra paths after the policy and refuses missing ones", async () => {
    const sock = path.join(dir, "escalation.sock");
    fs.writeFileSync(sock, "");
    const wrapped = await sandboxer.wrap(sandbox({}), cmd(), { extraBinds: [{ path: sock, writable: true }] });
    expect(wrapped.argv.join(" ")).toContain(`--bind ${sock} ${sock}`);
    const err = await sandboxer
      .wrap(sandbox({}), cmd(), { extraBinds: [{ path: path.join(dir, "missing"), writable: false }] })
      .catch((e: unknown) => e);
    expect((err as TetherError).code).toBe(ErrorCode.FailedPrecondition);
  });

  it("refuses a cwd the policy hides", async () => {
    const s = sandbox({ rules: [{ pattern: dir, access: "none" }] });
    const err = await sandboxer.wrap(s, cmd()).catch((e: unknown) => e);
    expect((err as TetherError).code).toBe(ErrorCode.FailedPrecondition);
    expect((err as TetherError).message).toContain("hidden");
  });

  it("shares one proxy per host list and closes it with the last command", async () => {
    const s = sandbox({ network: { mode: "proxy", allowHosts: ["example.com"], denyHosts: [] } });
    const a = await sandboxer.wrap(s, cmd());
    const b = await sandboxer.wrap(s, cmd());
    expect(a.env.HTTPS_PROXY).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const sockets = () => fs.readdirSync(path.join(dir, "rt")).filter((f) => f.endsWith(".sock"));
    expect(sockets()).toHaveLength(1);
    await a.dispose();
    await a.dispose(); // idempotent: must not release b's reference
    expect(sockets()).toHaveLength(1);
    await b.dispose();
    expect(sockets()).toHaveLength(0);
  });

  it("refuses to wrap after close", async () => {
    await sandboxer.close();
    const err = await sandboxer.wrap(sandbox({}), cmd()).catch((e: unknown) => e);
    expect((err as TetherError).code).toBe(ErrorCode.FailedPrecondition);
  });
});
