// Codex's permission profiles as tether SandboxPolicy: what each one becomes, and what is
// refused because tether could not enforce it.
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileAccess, NetworkMode, SandboxMode } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { isSandboxed, toSandboxPolicy } from "./codex-sandbox.js";
import type { SandboxContext } from "./codex-wire.js";

let ws: string;
beforeAll(async () => {
  ws = await mkdtemp(path.join(tmpdir(), "tether-codex-sb-"));
  await mkdir(path.join(ws, ".git"));
});
afterAll(() => rm(ws, { recursive: true, force: true }));

const special = (kind: string, access: string, subpath?: string) => ({
  path: { type: "special" as const, value: { kind, subpath } },
  access,
  missing_path_behavior: subpath ? "skip" : undefined,
});

function ctx(entries: ReturnType<typeof special>[] | null, network = "restricted"): SandboxContext {
  return {
    permissions: { type: "managed", network, file_system: entries === null ? { type: "unrestricted" } : { type: "restricted", entries } },
    cwd: ws,
    workspaceRoots: [ws],
  };
}

const defaults = () => ({ cwd: ws, tmpdir: "/var/tmp/x" });

describe("toSandboxPolicy", () => {
  it("leaves a null sandbox to the server's default", () => {
    expect(toSandboxPolicy(null, defaults())).toBeUndefined();
    expect(isSandboxed(undefined, false)).toBe(false);
  });

  it("turns workspace-write into writable roots, with read carve-outs that exist", () => {
    const policy = toSandboxPolicy(
      ctx([
        special("root", "read"),
        special("project_roots", "write"),
        special("slash_tmp", "write"),
        special("tmpdir", "write"),
        special("project_roots", "read", ".git"),
        special("project_roots", "read", ".codex"),
      ]),
      defaults(),
    )!;
    expect(policy.mode).toBe(SandboxMode.WORKSPACE_WRITE);
    expect(policy.writableRoots).toEqual([ws, "/tmp", "/var/tmp/x"]);
    // .codex does not exist and may be skipped; .git does and stays read-only.
    expect(policy.fileRules).toEqual([expect.objectContaining({ pattern: path.join(ws, ".git"), access: FileAccess.READ })]);
    expect(policy.network?.mode).toBe(NetworkMode.OFF);
    expect(isSandboxed(policy, false)).toBe(true);
  });

  it("turns a readable root alone into read-only, and unrestricted into full access", () => {
    expect(toSandboxPolicy(ctx([special("root", "read")], "enabled"), defaults())).toMatchObject({ mode: SandboxMode.READ_ONLY, network: { mode: NetworkMode.ON } });
    const full = toSandboxPolicy(ctx(null, "enabled"), defaults())!;
    expect(full).toMatchObject({ mode: SandboxMode.FULL_ACCESS, network: { mode: NetworkMode.ON } });
    expect(isSandboxed(full, true)).toBe(false);
    // Full file access without network still needs the sandbox (a network namespace).
    expect(isSandboxed(toSandboxPolicy(ctx(null), defaults()), false)).toBe(true);
  });

  it("refuses what it cannot enforce, naming it", () => {
    expect(() => toSandboxPolicy(ctx([special("project_roots", "read")]), defaults())).toThrow(/no readable root/);
    expect(() => toSandboxPolicy(ctx([special("root", "write"), special("project_roots", "read", ".git")]), defaults())).toThrow(/writable root with read-only or hidden carve-outs/);
    expect(() => toSandboxPolicy(ctx([special("root", "read"), special("home_dir", "write")]), defaults())).toThrow(/special path "home_dir"/);
    expect(() => toSandboxPolicy(ctx([special("root", "sometimes")]), defaults())).toThrow(/access "sometimes" is not read, write or none/);
    expect(() => toSandboxPolicy(ctx([special("root", "read")], "proxied"), defaults())).toThrow(/network "proxied"/);
    expect(() => toSandboxPolicy(ctx([special("root", "read"), special("project_roots", "write", "../up")]), defaults())).toThrow(/must stay inside its root/);
  });
});
