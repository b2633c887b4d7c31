// Codex's sandbox intent (a permission profile: file-system entries with read | write |
// none, and network restricted | enabled) as tether's SandboxPolicy. Root readable plus
// writable entries is workspace-write with those roots; root readable alone is read-only;
// narrower read entries inside writable roots become READ rules, `none` entries NONE rules.
// What tether cannot enforce (reads limited to a list of roots, unknown kinds) is refused
// with a message saying so: never run looser than asked.
import { existsSync } from "node:fs";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  FileAccess,
  NetworkMode,
  SandboxMode,
  type SandboxPolicy,
  SandboxPolicySchema,
} from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { SandboxContext, SandboxEntryPath } from "./codex-wire.js";

type Access = "read" | "write" | "none";

const ACCESS: Record<string, Access | undefined> = { read: "read", write: "write", none: "none", deny: "none" };

function refuse(message: string): TetherError {
  return new TetherError(ErrorCode.InvalidArgument, `sandbox: ${message}`);
}

export interface SandboxDefaults {
  /** The process's (or call's) working directory: the workspace when Codex names no roots. */
  cwd: string;
  /** $TMPDIR of the processes; Codex's `tmpdir` entry means it. */
  tmpdir: string | undefined;
}

/** Undefined when Codex asked for no sandbox (null): the exec server's default applies. */
export function toSandboxPolicy(ctx: SandboxContext | null | undefined, defaults: SandboxDefaults): SandboxPolicy | undefined {
  if (!ctx) return undefined;
  const perms = ctx.permissions;
  const network = networkMode(perms.network);
  if (perms.type === "disabled" || perms.type === "danger-full-access") {
    return create(SandboxPolicySchema, { mode: SandboxMode.FULL_ACCESS, network: { mode: NetworkMode.ON } });
  }
  if (perms.type !== "managed") throw refuse(`permissions.type ${JSON.stringify(perms.type)} is not one tether knows (managed, disabled)`);
  const fsType = perms.file_system?.type ?? "unrestricted";
  if (fsType === "unrestricted") return create(SandboxPolicySchema, { mode: SandboxMode.FULL_ACCESS, network: { mode: network } });
  if (fsType !== "restricted") throw refuse(`file_system.type ${JSON.stringify(fsType)} is not one tether knows (restricted, unrestricted)`);

  const cwd = ctx.cwd ?? ctx.policyContext?.cwd ?? defaults.cwd;
  const roots = ctx.workspaceRoots ?? ctx.policyContext?.workspaceRoots ?? [cwd];
  let rootAccess: Access | undefined;
  const grants: { path: string; access: Access }[] = [];
  for (const [i, entry] of (perms.file_system?.entries ?? []).entries()) {
    const access = ACCESS[entry.access];
    if (!access) throw refuse(`file_system.entries[${i}].access ${JSON.stringify(entry.access)} is not read, write or none`);
    const skipMissing = entry.missing_path_behavior === "skip";
    for (const p of entryPaths(entry.path, { cwd, roots, tmpdir: defaults.tmpdir }, i)) {
      if (p === "/") rootAccess = strictest(rootAccess, access);
      else if (!(skipMissing && !existsSync(p))) grants.push({ path: path.resolve(p), access });
    }
  }
  if (rootAccess === undefined || rootAccess === "none") {
    throw refuse("reads limited to a list of directories (no readable root) cannot be enforced by tether: grant read access to the root");
  }
  if (rootAccess === "write") {
    if (grants.some((g) => g.access !== "write")) {
      throw refuse("a writable root with read-only or hidden carve-outs cannot be enforced by tether: use workspace roots");
    }
    return create(SandboxPolicySchema, { mode: SandboxMode.FULL_ACCESS, network: { mode: network } });
  }
  const writable = [...new Set(grants.filter((g) => g.access === "write").map((g) => g.path))];
  const fileRules = grants
    .filter((g) => g.access !== "write")
    .map((g) => ({ pattern: g.path, access: g.access === "none" ? FileAccess.NONE : FileAccess.READ }));
  return create(SandboxPolicySchema, {
    mode: writable.length > 0 ? SandboxMode.WORKSPACE_WRITE : SandboxMode.READ_ONLY,
    writableRoots: writable,
    fileRules,
    network: { mode: network },
  });
}

/** True when tether runs the process inside bubblewrap for this policy (Codex's `sandboxType`). */
export function isSandboxed(policy: SandboxPolicy | undefined, serverDefaultSandboxed: boolean): boolean {
  if (!policy || policy.mode === SandboxMode.UNSPECIFIED) return serverDefaultSandboxed;
  return policy.mode !== SandboxMode.FULL_ACCESS || policy.network?.mode === NetworkMode.OFF || policy.fileRules.length > 0;
}

function networkMode(network: string | null | undefined): NetworkMode {
  switch (network ?? "restricted") {
    case "restricted":
      return NetworkMode.OFF;
    case "enabled":
      return NetworkMode.ON;
    default:
      throw refuse(`network ${JSON.stringify(network)} is not one tether knows (restricted, enabled)`);
  }
}

function strictest(a: Access | undefined, b: Access): Access {
  const rank: Record<Access, number> = { read: 0, write: 1, none: 2 };
  return a === undefined || rank[b] > rank[a] ? b : a;
}

function entryPaths(p: SandboxEntryPath, where: { cwd: string; roots: string[]; tmpdir: string | undefined }, i: number): string[] {
  if (p.type === "path") return [p.path];
  const sub = p.value.subpath ?? "";
  if (sub !== "" && (path.isAbsolute(sub) || sub.split("/").includes(".."))) {
    throw refuse(`file_system.entries[${i}].path.value.subpath ${JSON.stringify(sub)} must stay inside its root`);
  }
  const under = (dirs: string[]) => dirs.map((d) => (sub === "" ? d : path.join(d, sub)));
  switch (p.value.kind) {
    case "root":
      return sub === "" ? ["/"] : under(["/"]);
    case "project_roots":
      return under(where.roots);
    case "current_working_directory":
      return under([where.cwd]);
    case "slash_tmp":
      return under(["/tmp"]);
    case "tmpdir":
      // Codex's `tmpdir` is $TMPDIR; with none set there is nothing to grant.
      return where.tmpdir ? under([where.tmpdir]) : [];
    default:
      throw refuse(`file_system.entries[${i}] names the special path ${JSON.stringify(p.value.kind)}, which tether does not know`);
  }
}
